#!/usr/bin/env node
// A TCP client for network tests: connects to HOST:PORT (retrying while nothing
// listens yet, up to MAX seconds), then over that one connection sends "N\n" with
// N = 1, 2, ... every INTERVAL ms and appends every line it receives to LOG. It writes
// LOG.ready once connected and "CLOSED <why>" to LOG when the connection ends; it
// never reconnects. Ends by itself after MAX seconds.
// Usage: tcp-client.mjs HOST PORT LOG [MAX=120] [INTERVAL=100]
import fs from 'node:fs';
import net from 'node:net';

const [host, port, log, max = '120', interval = '100'] = process.argv.slice(2);
const append = (line) => fs.appendFileSync(log, `${line}\n`);
const giveUpAt = Date.now() + Number(max) * 1000;
setTimeout(() => process.exit(0), Number(max) * 1000).unref();

function attempt() {
  const sock = net.connect(Number(port), host);
  let connected = false;
  sock.once('connect', () => {
    connected = true;
    fs.writeFileSync(`${log}.ready`, '');
    let n = 0;
    const timer = setInterval(() => sock.write(`${++n}\n`), Number(interval));
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) { append(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
    });
    sock.on('close', () => { clearInterval(timer); append('CLOSED end'); process.exit(0); });
  });
  sock.on('error', (err) => {
    if (connected) { append(`CLOSED ${err.code ?? err.message}`); return; }
    sock.destroy();
    if (Date.now() < giveUpAt) setTimeout(attempt, 200);
  });
}
attempt();
