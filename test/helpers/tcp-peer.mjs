#!/usr/bin/env node
// A TCP peer for network tests: listens on HOST:PORT, and on the first connection
// sends a counter line every 100 ms and appends every line it receives to LOG; when
// the connection ends it appends "CLOSED <why>". Ends by itself after MAX seconds.
// Usage: tcp-peer.mjs HOST PORT LOG [MAX=60]
import fs from 'node:fs';
import net from 'node:net';

const [host, port, log, max = '60'] = process.argv.slice(2);
const append = (line) => fs.appendFileSync(log, `${line}\n`);
const server = net.createServer((sock) => {
  server.close();
  let i = 0;
  const timer = setInterval(() => sock.write(`${++i}\n`), 100);
  let buf = '';
  sock.on('data', (d) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) { append(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
  });
  sock.on('error', (err) => append(`CLOSED ${err.code ?? err.message}`));
  sock.on('close', () => { clearInterval(timer); append('CLOSED end'); process.exit(0); });
});
server.listen(Number(port), host, () => fs.writeFileSync(`${log}.ready`, ''));
setTimeout(() => process.exit(0), Number(max) * 1000).unref();
