// What encrypting the migration stream costs, QEMU alone: two paused QEMUs (microvm,
// no guest running) whose RAM is a file of random bytes (every page is sent, none
// skipped as zero), migrated on loopback with no bandwidth cap, three ways alternated:
//   plain:   QEMU to QEMU over TCP (runx before encryption);
//   qemutls: QEMU's own TLS, tls-creds-psk on both ends (what runx tried first);
//   tunnel:  what runx does: each QEMU plain over a unix socket to a relay, the relays
//            joined by runx's TLS-PSK tunnel (dist/xcontainer/vm/stream-tunnel.js).
// Prints one JSON line per run and the medians. Needs `npm run build`.
// Usage: node bench/lib/tls-cost.mjs [RUNS] [MIB]
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Qmp } from './qmp.mjs';

const require = createRequire(import.meta.url);
const { Relay } = require('../../dist/xcontainer/vm/vm-migration.js');
const { tunnelConnect } = require('../../dist/xcontainer/vm/stream-tunnel.js');
const runs = Number(process.argv[2] ?? 5);
const mib = Number(process.argv[3] ?? 256);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-tls-cost-'));
const ram = path.join(work, 'ram.bin');
const fd = fs.openSync(ram, 'w');
for (let i = 0; i < mib; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20));
fs.closeSync(fd);
const psk = { identity: 'runx-bench', keyHex: crypto.randomBytes(32).toString('hex') };
const keys = path.join(work, 'keys');
fs.mkdirSync(keys, { mode: 0o700 });
fs.writeFileSync(path.join(keys, 'keys.psk'), `${psk.identity}:${psk.keyHex}\n`, { mode: 0o600 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });

async function once(mode) {
  const procs = [];
  const relays = [];
  const qemu = (name, extra) => {
    const sock = path.join(work, `${name}.qmp`);
    fs.rmSync(sock, { force: true });
    procs.push(spawn('qemu-system-x86_64', ['-M', 'microvm', '-nodefaults', '-display', 'none', '-S', '-m', `${mib}M`,
      '-object', `memory-backend-file,id=ram,size=${mib}M,mem-path=${ram},share=off`, '-machine', 'memory-backend=ram',
      '-qmp', `unix:${sock},server=on,wait=off`, ...extra], { stdio: 'ignore' }));
    return Qmp.connect(sock);
  };
  try {
    const src = await qemu('src', []);
    const dst = await qemu('dst', ['-incoming', 'defer']);
    const port = await freePort();
    const params = { 'max-bandwidth': 100 * 1024 * 1024 * 1024 };
    let inUri = `tcp:127.0.0.1:${port}`, outUri = inUri;
    if (mode === 'qemutls') {
      // QEMU generates DH parameters here (~0.6 s): before the timed part.
      await dst.execute('object-add', { 'qom-type': 'tls-creds-psk', id: 't', endpoint: 'server', dir: keys });
      await src.execute('object-add', { 'qom-type': 'tls-creds-psk', id: 't', endpoint: 'client', dir: keys, username: psk.identity });
      await dst.execute('migrate-set-parameters', { 'tls-creds': 't' });
      Object.assign(params, { 'tls-creds': 't', 'tls-hostname': 'runx' });
    } else if (mode === 'tunnel') {
      const dsock = path.join(work, 'dst.sock'), ssock = path.join(work, 'src.sock');
      const d = new Relay(), s = new Relay();
      relays.push(d, s);
      await d.listen({ host: '127.0.0.1', port }, () => net.connect({ path: dsock, allowHalfOpen: true }), psk);
      await s.listen({ path: ssock }, () => tunnelConnect({ host: '127.0.0.1', port }, psk));
      inUri = `unix:${dsock}`;
      outUri = `unix:${ssock}`;
    }
    await src.execute('migrate-set-parameters', params);
    await dst.execute('migrate-incoming', { uri: inUri });
    const t0 = Date.now();
    await src.execute('migrate', { uri: outUri });
    let info;
    for (;;) {
      info = await src.execute('query-migrate', {});
      if (info.status === 'completed' || info.status === 'failed') break;
      if (Date.now() - t0 > 120_000) throw new Error('migration did not end in 120 s');
      await sleep(10);
    }
    if (info.status !== 'completed') throw new Error(`migration ${info.status}: ${info['error-desc']}`);
    const bytes = info.ram.transferred;
    return { mode, totalTimeMs: info['total-time'], ramMiB: +(bytes / 1048576).toFixed(1), MiBps: +(bytes / 1048576 / (info['total-time'] / 1000)).toFixed(1) };
  } finally {
    for (const r of relays) r.close(true);
    for (const p of procs) p.kill('SIGKILL');
  }
}

const modes = ['plain', 'qemutls', 'tunnel'];
const results = [];
try {
  for (let i = 0; i < runs; i++) {
    for (const mode of i % 2 ? [...modes].reverse() : modes) {
      const r = await once(mode);
      results.push(r);
      console.log(JSON.stringify(r));
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
const median = (a) => { const s = [...a].sort((x, y) => x - y), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const of = (mode, k) => median(results.filter((r) => r.mode === mode).map((r) => r[k]));
console.log(`\n${mib} MiB of random RAM, loopback, medians of ${runs} (${new Date().toISOString().slice(0, 10)}, load ${os.loadavg()[0].toFixed(1)}):`);
for (const m of modes) console.log(`  ${m.padEnd(8)} ${String(of(m, 'MiBps')).padStart(6)} MiB/s  ${String(of(m, 'totalTimeMs')).padStart(6)} ms  ${(of(m, 'MiBps') / of('plain', 'MiBps')).toFixed(2)}x plain`);
process.exit(0);
