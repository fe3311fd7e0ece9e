// Starts the pinned SQS emulator (npm fauxqs, see package-lock.json) on loopback only.
// fauxqs' own CLI binds 0.0.0.0; a developer machine should not expose a queue to its network.
// Usage: node scripts/sqs-emulator.mjs [port]   (default 4566, or $SQS_EMULATOR_PORT)
// Prints "sqs-emulator listening on http://127.0.0.1:PORT" once it accepts connections.
import { buildApp } from "fauxqs";

const port = Number(process.argv[2] ?? process.env.SQS_EMULATOR_PORT ?? 4566);
const app = buildApp({
  logger: process.env.SQS_EMULATOR_LOG === "true",
  defaultRegion: process.env.AWS_REGION ?? "ap-northeast-1",
});

const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

await app.listen({ port, host: "127.0.0.1" });
console.log(`sqs-emulator listening on http://127.0.0.1:${app.server.address().port}`);
