#!/usr/bin/env node
// One raw QEMU live migration on loopback, driven directly over QMP, with the VM and
// the steps runx uses (src/xcontainer/vm/qemu-argv.ts and vm-migration.ts), without runx:
//   source QEMU: runx's argv (imported from dist/), QMP and agent chardevs as unix
//     server sockets (server=on,wait=off) instead of runx's keeper-side listeners;
//     the root disk is built from the bundle's rootfs as runx builds it;
//   boot: we connect to the agent's port and wait for its hello (nothing else is said);
//   settle: --settle-ms, then the workload's dirty rate from its console ticks;
//   clock starts: destination QEMU started with the same argv + `-S -incoming defer`
//     in its own directory, an empty sparse disk of the same size, nbd-server-start,
//     nbd-server-add writable (export root), migrate-incoming;
//   source: drive-mirror sync=full mode=existing to nbd://127.0.0.1:P/root, waits for
//     ready (polling every 50 ms), sets the capabilities runx sets, migrate, polls
//     query-migrate every 20 ms until completed, block-job-cancel and waits the job out;
//   destination: waits for the state to have arrived, nbd-server-stop, cont: clock stops.
// Prints one JSON line. Every QEMU is started under `setpriv --pdeathsig SIGKILL` (as
// runx does), quit over QMP and, failing that, killed by its pid; the directory goes.
// Usage: raw-migrate.mjs --work DIR --rootfs DIR --initramfs FILE [--kernel FILE]
//        [--memory MiB] [--settle-ms N] [--tick-mib N]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Qmp } from './qmp.mjs';
import { dirtyRate } from './dirty-rate.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const { qemuArgv, QMP_SOCKET, AGENT_SOCKET, ROOT_DISK, CONSOLE_LOG } = require(path.join(repo, 'dist/xcontainer/vm/qemu-argv.js'));
const { buildRootfsImage } = require(path.join(repo, 'dist/bundle/rootfs-image.js'));
const { qemuBuild } = require(path.join(repo, 'dist/xcontainer/vm/qemu-build.js'));

const opts = { kernel: '/usr/local/lib/runx/bzImage', memory: '256', 'settle-ms': '2000', 'tick-mib': '0' };
for (let a = process.argv.slice(2); a.length;) opts[a.shift().replace(/^--/, '')] = a.shift();
for (const k of ['work', 'rootfs', 'initramfs']) if (!opts[k]) { console.error(`raw-migrate: --${k} is required`); process.exit(2); }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const qemuBinary = process.env.RUNX_QEMU ?? 'qemu-system-x86_64';
const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** runx's argv, but QEMU listens on the QMP and agent sockets instead of connecting. */
function argvFor(incoming) {
  const argv = qemuArgv({
    accel: 'tcg', qemuBuild: qemuBuild(qemuBinary), kernel: opts.kernel, initramfs: opts.initramfs,
    shape: { memoryMiB: Number(opts.memory), vcpus: 1 }, shares: [],
  });
  const swap = { [`socket,id=qmp,path=${QMP_SOCKET}`]: `socket,id=qmp,path=${QMP_SOCKET},server=on,wait=off`,
    [`socket,id=agent,path=${AGENT_SOCKET}`]: `socket,id=agent,path=${AGENT_SOCKET},server=on,wait=off` };
  let swapped = 0;
  const out = argv.map((a) => (swap[a] ? (swapped++, swap[a]) : a));
  if (swapped !== 2) throw new Error('runx\'s QEMU argv changed: the qmp/agent chardevs were not found');
  return incoming ? [...out, '-S', '-incoming', 'defer'] : out;
}

async function startQemu(dir, incoming) {
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', qemuBinary, ...argvFor(incoming)], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const vm = { dir, child, exited, stderr: () => stderr };
  children.push(vm);
  vm.qmp = await Promise.race([Qmp.connect(path.join(dir, QMP_SOCKET)),
    exited.then(() => { throw new Error(`QEMU exited: ${stderr.trim()}`); })]);
  // The agent's port: held open as runx's keeper holds it (the agent says hello then).
  vm.agent = net.createConnection(path.join(dir, AGENT_SOCKET));
  vm.agent.on('error', () => undefined);
  vm.agentBytes = new Promise((resolve) => vm.agent.once('data', resolve));
  return vm;
}

async function stopQemu(vm) {
  vm.agent?.destroy();
  if (vm.child.exitCode === null && vm.child.signalCode === null) {
    await vm.qmp?.execute('quit', undefined, 2000).catch(() => undefined);
    const gone = await Promise.race([vm.exited.then(() => true), sleep(3000).then(() => false)]);
    if (!gone) { vm.child.kill('SIGKILL'); await Promise.race([vm.exited, sleep(3000)]); }
  }
  vm.qmp?.close();
}

const consoleText = (dir) => { try { return fs.readFileSync(path.join(dir, CONSOLE_LOG), 'utf8'); } catch { return ''; } };

async function pollUntil(what, fn, everyMs, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

async function main() {
  const src = path.join(opts.work, 'src');
  const dst = path.join(opts.work, 'dst');
  fs.mkdirSync(src, { recursive: true });
  fs.mkdirSync(dst, { recursive: true });
  buildRootfsImage(opts.rootfs, path.join(src, ROOT_DISK));
  const diskSize = fs.statSync(path.join(src, ROOT_DISK)).size;

  // ---- source: boot, wait for the agent, settle ------------------------------------
  const tBoot = now();
  const s = await startQemu(src, false);
  await Promise.race([s.agentBytes, sleep(30_000).then(() => { throw new Error(`the source VM's agent did not say hello in 30 s: ${s.stderr()}`); })]);
  const bootMs = now() - tBoot;
  await sleep(Number(opts['settle-ms']));
  const dirtyMiBps = Number(opts['tick-mib']) > 0 ? dirtyRate(consoleText(src), Number(opts['tick-mib'])) ?? null : 0;

  // ---- migration ---------------------------------------------------------------------
  const t0 = now();
  fs.closeSync(fs.openSync(path.join(dst, ROOT_DISK), 'w'));
  fs.truncateSync(path.join(dst, ROOT_DISK), diskSize);
  const d = await startQemu(dst, true);
  const nbdPort = await freePort();
  const migPort = await freePort();
  await d.qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: '127.0.0.1', port: String(nbdPort) } } });
  await d.qmp.execute('nbd-server-add', { device: 'root', name: 'root', writable: true });
  await d.qmp.execute('migrate-incoming', { uri: `tcp:127.0.0.1:${migPort}` });
  const tPrepared = now();

  await s.qmp.execute('drive-mirror', { 'job-id': 'runx-mirror', device: 'root', target: `nbd://127.0.0.1:${nbdPort}/root`, format: 'raw', sync: 'full', mode: 'existing' });
  const diskBytes = await pollUntil('drive-mirror ready', async () => {
    const job = (await s.qmp.execute('query-block-jobs')).find((j) => j.device === 'runx-mirror');
    if (!job) throw new Error('the mirror ended before it was ready');
    return job.ready ? job.len : undefined;
  }, 50, 600_000);
  const tMirrored = now();

  await s.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'auto-converge', state: false }, { capability: 'postcopy-ram', state: false }] });
  const params = await s.qmp.execute('query-migrate-parameters');
  await s.qmp.execute('migrate', { uri: `tcp:127.0.0.1:${migPort}` });
  const info = await pollUntil('migration', async () => {
    const i = await s.qmp.execute('query-migrate');
    if (i.status === 'failed' || i.status === 'cancelled') throw new Error(`migration ${i.status}: ${i['error-desc'] ?? ''}`);
    return i.status === 'completed' ? i : undefined;
  }, 20, 600_000);
  const tCompleted = now();
  await s.qmp.execute('block-job-cancel', { device: 'runx-mirror' });
  await pollUntil('mirror end', async () => ((await s.qmp.execute('query-block-jobs')).some((j) => j.device === 'runx-mirror') ? undefined : true), 10, 30_000);
  const tMirrorEnded = now();

  await pollUntil('incoming state', async () => ((await d.qmp.execute('query-status')).status === 'inmigrate' ? undefined : true), 10, 30_000);
  await d.qmp.execute('nbd-server-stop').catch(() => undefined);
  const st = await d.qmp.execute('query-status');
  if (st.status !== 'running') await d.qmp.execute('cont');
  const tRunning = now();
  // Guest-visible pause: the source's STOP to the destination's RESUME (QEMU's event
  // timestamps, both from this host's clock).
  const stop = await s.qmp.event('STOP', 2000).catch(() => undefined);
  const resume = await d.qmp.event('RESUME', 2000).catch(() => undefined);
  const running = (await d.qmp.execute('query-status')).status;
  if (running !== 'running') throw new Error(`the destination VM is ${running}, not running`);

  console.log(JSON.stringify({
    bootMs: Math.round(bootMs), dirtyMiBps: dirtyMiBps === null ? null : Number(dirtyMiBps.toFixed(1)),
    wallMs: Math.round(tRunning - t0),
    prepareMs: Math.round(tPrepared - t0), mirrorMs: Math.round(tMirrored - tPrepared),
    migrateWallMs: Math.round(tCompleted - tMirrored), mirrorEndMs: Math.round(tMirrorEnded - tCompleted),
    switchoverMs: Math.round(tRunning - tMirrorEnded),
    pauseMs: stop && resume ? Math.round(resume.ms - stop.ms) : null,
    qemu: { totalTimeMs: info['total-time'], downtimeMs: info.downtime, ramBytes: info.ram?.transferred ?? 0, diskBytes },
    params: { downtimeLimitMs: params['downtime-limit'], maxBandwidth: params['max-bandwidth'] },
  }));
}

// Killed (the bench's cleanup, ^C): end our QEMUs by pid and drop their directories.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    for (const vm of children) if (vm.child.exitCode === null) vm.child.kill('SIGKILL');
    for (const d of ['src', 'dst']) fs.rmSync(path.join(opts.work, d), { recursive: true, force: true });
    process.exit(130);
  });
}

let code = 0;
try {
  await main();
} catch (err) {
  console.error(`raw-migrate: ${err.message}`);
  code = 1;
} finally {
  for (const vm of children) await stopQemu(vm);
  fs.rmSync(path.join(opts.work, 'src'), { recursive: true, force: true });
  fs.rmSync(path.join(opts.work, 'dst'), { recursive: true, force: true });
}
process.exit(code);
