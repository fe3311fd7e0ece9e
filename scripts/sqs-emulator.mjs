// Starts the pinned SQS emulator (npm fauxqs, see package-lock.json).
// fauxqs' own CLI binds 0.0.0.0; a developer machine should not expose a queue to its network, so
// this binds 127.0.0.1 unless SQS_EMULATOR_HOST says otherwise (compose.yaml, inside a container).
// Usage: node scripts/sqs-emulator.mjs [port]   (default 4566, or $SQS_EMULATOR_PORT)
// With SQS_EMULATOR_QUEUES="queue,dlq,maxReceiveCount" it also creates that queue pair (compose).
// Prints "sqs-emulator listening on http://HOST:PORT" once it accepts connections.
import { buildApp } from "fauxqs";

const port = Number(process.argv[2] ?? process.env.SQS_EMULATOR_PORT ?? 4566);
const host = process.env.SQS_EMULATOR_HOST ?? "127.0.0.1";
const region = process.env.AWS_REGION ?? "ap-northeast-1";
const app = buildApp({ logger: process.env.SQS_EMULATOR_LOG === "true", defaultRegion: region });

const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

await app.listen({ port, host });
const actualPort = app.server.address().port;

if (process.env.SQS_EMULATOR_QUEUES) {
  // fauxqs' own dependency, pinned by the same lock file; loaded only when needed.
  const { SQSClient, CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand } = await import(
    "@aws-sdk/client-sqs"
  );
  const [name, dlqName, maxReceiveCount] = process.env.SQS_EMULATOR_QUEUES.split(",");
  const sqs = new SQSClient({
    region,
    endpoint: `http://127.0.0.1:${actualPort}`,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: dlqName }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const main = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  await sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: main.QueueUrl,
      Attributes: {
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes.QueueArn, maxReceiveCount: Number(maxReceiveCount) }),
      },
    }),
  );
}
console.log(`sqs-emulator listening on http://${host}:${actualPort}`);
