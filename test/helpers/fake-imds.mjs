#!/usr/bin/env node
// A fake AWS instance metadata service (IMDSv2) for tests that run real processes:
// PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1..21600) gives a
// token; GETs need it in X-aws-ec2-metadata-token (401 without one or once expired).
// GET /latest/meta-data/spot/instance-action is 404 until NOTICE_FILE exists, then its
// contents (the JSON {"action":"terminate","time":"..."}, written by the test; write it
// to a temporary name and rename it so no half-written file is served).
// /latest/meta-data/events/recommendations/rebalance is always 404.
// Prints "listening HOST:PORT" on stdout once it listens; logs each request on stderr.
// Usage: fake-imds.mjs HOST:PORT NOTICE_FILE
import fs from 'node:fs';
import http from 'node:http';

const [listen, noticeFile] = process.argv.slice(2);
if (!listen || !noticeFile) {
  process.stderr.write('usage: fake-imds.mjs HOST:PORT NOTICE_FILE\n');
  process.exit(2);
}
const i = listen.lastIndexOf(':');
const host = listen.slice(0, i);
const port = Number(listen.slice(i + 1));
const tokens = new Map(); // token -> expiry, ms since epoch
let next = 0;

const server = http.createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  const done = (code, body = '', headers = {}) => {
    process.stderr.write(`${req.method} ${path} ${code}\n`);
    res.writeHead(code, headers).end(body);
  };
  if (path === '/latest/api/token') {
    if (req.method !== 'PUT') return done(405);
    const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return done(400);
    const token = `AQAEA-fake-${process.pid}-${++next}`;
    tokens.set(token, Date.now() + ttl * 1000);
    return done(200, token, { 'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
  }
  if (req.method !== 'GET') return done(405);
  const token = req.headers['x-aws-ec2-metadata-token'];
  const exp = typeof token === 'string' ? tokens.get(token) : undefined;
  if (exp === undefined || exp <= Date.now()) return done(401);
  if (path === '/latest/meta-data/spot/instance-action') {
    let body;
    try {
      body = fs.readFileSync(noticeFile, 'utf8');
    } catch {
      return done(404);
    }
    return done(200, body, { 'content-type': 'application/json' });
  }
  return done(404);
});
server.listen(port, host, () => {
  const a = server.address();
  process.stdout.write(`listening ${a.address}:${a.port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
