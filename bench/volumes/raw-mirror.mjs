#!/usr/bin/env node
// One raw QEMU drive-mirror of a disk image to an NBD export of a second QEMU on
// loopback, driven over QMP with no runx and no guest (-M none): the bytes-moving
// baseline of issue 16's volume benchmark. Both QEMUs are started, then the clock runs
// from `drive-mirror sync=full mode=existing` to the job's ready state, then
// block-job-cancel (as runx ends its mirror after switch-over) until the job is gone.
// The target is compared with the source afterwards (cmp). Prints one JSON line.
// Usage: raw-mirror.mjs --src FILE --work DIR [--cache unsafe|writeback] [--tls]
// --cache: default unsafe, as runx's root disk; writeback is what runx's carry disk
// uses, so the mirror's flush before ready reaches the destination's disk.
// --tls: the NBD connection authenticated and encrypted by QEMU's own TLS-PSK
// (tls-creds-psk, blockdev-mirror to an NBD node), raw QEMU's counterpart of runx's
// authenticated tunnel; without it, plain NBD.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Qmp } from '../lib/qmp.mjs';

const opts = {};
for (let a = process.argv.slice(2); a.length;) {
  const k = a.shift().replace(/^--/, '');
  opts[k] = k === 'tls' ? true : a.shift();
}
opts.cache ??= 'unsafe';
if (!opts.src || !opts.work || !['unsafe', 'writeback'].includes(opts.cache)) { console.error('usage: raw-mirror.mjs --src FILE --work DIR [--cache unsafe|writeback] [--tls]'); process.exit(2); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startQemu(name, disk) {
  const qmpPath = path.join(opts.work, `${name}.qmp`);
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'qemu-system-x86_64',
    '-M', 'none', '-nodefaults', '-no-user-config', '-display', 'none',
    '-qmp', `unix:${qmpPath},server=on,wait=off`,
    // A PSK client names its identity; the server looks it up in keys.psk.
    ...(opts.tls ? ['-object', `tls-creds-psk,id=tls0,dir=${path.join(opts.work, 'psk')},${name === 'src' ? 'endpoint=client,username=runx' : 'endpoint=server'}`] : []),
    '-drive', `id=vol,file=${disk},format=raw,if=none,cache=${opts.cache}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  const qmp = await Qmp.connect(qmpPath, 20_000);
  return { child, qmp };
}

async function main() {
  const size = fs.statSync(opts.src).size;
  const dst = path.join(opts.work, 'mirror-dst.raw');
  fs.writeFileSync(dst, '');
  fs.truncateSync(dst, size);
  if (opts.tls) {
    fs.mkdirSync(path.join(opts.work, 'psk'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(opts.work, 'psk', 'keys.psk'), `runx:${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  const s = await startQemu('src', opts.src);
  const d = await startQemu('dst', dst);
  const port = await freePort();
  const server = { type: 'inet', host: '127.0.0.1', port: String(port) };
  await d.qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: server.host, port: server.port } }, ...(opts.tls ? { 'tls-creds': 'tls0' } : {}) });
  await d.qmp.execute('nbd-server-add', { device: 'vol', name: 'vol', writable: true });
  // The TLS target must be a node of its own (drive-mirror's URI cannot name creds); it connects, and shakes hands, before the clock.
  if (opts.tls) await s.qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': 'tgt', server, export: 'vol', 'tls-creds': 'tls0' });
  const t0 = performance.now();
  if (opts.tls) await s.qmp.execute('blockdev-mirror', { 'job-id': 'm', device: 'vol', target: 'tgt', sync: 'full' });
  else await s.qmp.execute('drive-mirror', { 'job-id': 'm', device: 'vol', target: `nbd://127.0.0.1:${port}/vol`, format: 'raw', sync: 'full', mode: 'existing' });
  let job;
  for (let i = 0; ; i++) {
    if (i > 6000) throw new Error('mirror not ready in 300 s');
    job = (await s.qmp.execute('query-block-jobs')).find((j) => j.device === 'm');
    if (!job) throw new Error('mirror ended before ready');
    if (job.ready) break;
    await sleep(50);
  }
  const tReady = performance.now();
  await s.qmp.execute('block-job-cancel', { device: 'm' });
  for (let i = 0; (await s.qmp.execute('query-block-jobs')).some((j) => j.device === 'm'); i++) {
    if (i > 3000) throw new Error('mirror did not end');
    await sleep(10);
  }
  const tEnd = performance.now();
  await d.qmp.execute('nbd-server-stop').catch(() => undefined);
  for (const q of [s, d]) await q.qmp.execute('quit').catch(() => undefined);
  await sleep(200);
  const same = spawnSync('cmp', [opts.src, dst]).status === 0;
  console.log(JSON.stringify({ bytes: size, mirroredBytes: job.len, readyMs: Math.round(tReady - t0), totalMs: Math.round(tEnd - t0), same }));
}

main().catch((e) => { console.error(`raw-mirror: ${e.message}`); process.exitCode = 1; }).finally(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(path.join(opts.work, 'mirror-dst.raw'), { force: true });
  fs.rmSync(path.join(opts.work, 'psk'), { recursive: true, force: true });
});
