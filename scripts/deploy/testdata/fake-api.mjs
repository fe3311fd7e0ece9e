// A stand-in for the public API in smoke.sh's failure tests (the passing case runs against the
// real local stack). FAKE_API_MODE=stuck: gifts are created and accepted but stay QUEUED (no
// worker); broken: every request answers the 500 envelope. As the API 2.0 does, every request
// without "Authorization: Bearer $FAKE_API_KEY" answers 401 (UNAUTHENTICATED without a bearer
// token, API_KEY_INVALID with another one) before anything else. Writes its port to the file
// argv[2] and one line per request, "METHOD PATH authorized|unauthorized", to the file argv[3].
import http from 'node:http';
import { appendFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

const mode = process.env.FAKE_API_MODE;
const key = process.env.FAKE_API_KEY;
if (!key) throw new Error('fake-api: FAKE_API_KEY is required');
const gifts = new Map();
const send = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const auth = req.headers.authorization ?? '';
  const authorized = auth === `Bearer ${key}`;
  appendFileSync(process.argv[3], `${req.method} ${path} ${authorized ? 'authorized' : 'unauthorized'}\n`);
  if (!authorized) {
    const code = /^bearer /i.test(auth) ? 'API_KEY_INVALID' : 'UNAUTHENTICATED';
    return send(res, 401, { error: { code, message: 'a valid API key is required' }, request_id: null },
      { 'WWW-Authenticate': 'Bearer realm="gift-api"' });
  }
  if (mode === 'broken') {
    return send(res, 500, { error: { code: 'INTERNAL_ERROR', message: 'internal error' }, request_id: null });
  }
  let m;
  if (req.method === 'POST' && path === '/gifts') {
    const id = randomUUID();
    const gift = { gift_id: id, code: randomUUID(), status: 'CREATED', created_at: new Date().toISOString() };
    gifts.set(id, gift);
    return send(res, 201, gift);
  }
  if (req.method === 'POST' && (m = path.match(/^\/gifts\/([^/]+)\/send$/)) && gifts.has(m[1])) {
    gifts.get(m[1]).status = 'QUEUED';
    return send(res, 202, { gift_id: m[1], status: 'QUEUED', request_id: req.headers['idempotency-key'] ?? null });
  }
  if (req.method === 'GET' && (m = path.match(/^\/gifts\/([^/]+)$/)) && gifts.has(m[1])) {
    return send(res, 200, gifts.get(m[1]));
  }
  return send(res, 404, { error: { code: 'NOT_FOUND', message: 'not found' }, request_id: null });
});
server.listen(0, '127.0.0.1', () => writeFileSync(process.argv[2], String(server.address().port)));
