// Live migration of a VM with its disk and without shared storage, the way libvirt's
// --copy-storage-all works on QEMU 7.2: the destination QEMU waits paused
// (-S -incoming defer) with an NBD export of its empty disk; the source mirrors its
// disk there (drive-mirror sync=full mode=existing), waits until the mirror is
// ready, pre-copies memory (migrate), and on completion ends the mirror
// (block-job-cancel, which for a ready job flushes it); the destination then stops
// the export and continues.
//
// QEMU's two streams go through unix sockets in the state directory (the working
// directory of both QEMU and its keeper, and a path works across network namespaces)
// that the keeper, in the host's namespace, relays to and from the other host over a
// TLS tunnel keyed for this migration alone (stream-tunnel.ts): nothing crosses
// between the hosts in the clear, and the destination's ports take no other peer. (A
// VM with a NIC could not reach the other host from its QEMU anyway: its QEMU is in
// the container's network namespace, whose traffic all goes to the guest.)
//
// The keeper's end of the source's relays also matters when the link dies: QEMU's
// NBD client has no timeout, and cancelling a mirror whose requests hang on a dead
// link (a cable cut mid-transfer) blocks QEMU's main loop, and with it the VM, until
// TCP gives up many minutes later. The keeper closing its end of the relay fails
// those requests at once, so the cancel is quick and the VM runs on.
import fs from 'node:fs';
import net from 'node:net';
import { RunxError } from '../../errors';
import { log } from '../../log';
import { sleep } from '../host/host';
import { enterHostNetns } from '../devices/net/keeper-netns';
import { DEFAULT_STALL_TIMEOUT_MS, StallWatch } from './stall-watch';
import type { MigrateInfo, QmpClient } from './qmp-client';
import { tunnelConnect, tunnelServer } from './stream-tunnel';
import { type PskCreds, readPskDir, removePskDir } from './tls-creds';
import { CARRY_DRIVE } from '../devices/carry/config';

export const EXPORT_NAME = 'root';
const MIRROR_JOB = 'runx-mirror';

/** A disk that moves: its drive, its NBD export on the destination, its mirror job on the source. */
interface MovingDisk { drive: string; exportName: string; job: string }
const ROOT_MOVE: MovingDisk = { drive: 'root', exportName: EXPORT_NAME, job: MIRROR_JOB };
/** The carry disk (devices/carry), exported and mirrored beside the root disk, through the same tunnel. */
const CARRY_MOVE: MovingDisk = { drive: CARRY_DRIVE, exportName: CARRY_DRIVE, job: `${MIRROR_JOB}-${CARRY_DRIVE}` };

/** The VM's disks that move: the root disk, and the carry disk when it has one. */
async function movingDisks(qmp: QmpClient): Promise<MovingDisk[]> {
  const drives = await qmp.execute('query-block', {});
  return drives.some((d) => d.device === CARRY_DRIVE) ? [ROOT_MOVE, CARRY_MOVE] : [ROOT_MOVE];
}
const NBD_SOCKET = 'migrate-nbd.sock';
const STREAM_SOCKET = 'migrate-stream.sock';
/** QEMU 7.2's defaults (query-migrate-parameters of a fresh QEMU). */
const QEMU_DOWNTIME_LIMIT_MS = 300;
const QEMU_MAX_BANDWIDTH = 128 * 1024 * 1024;

export interface IncomingEndpoints {
  host: string;
  nbdPort: number;
  migratePort: number;
  /** Where the keeper takes its stand-in's link (keeper-link.ts); none from a take-back. */
  linkPort?: number;
  /** The directory of the migration's key (tls-creds.ts writePskDir), made by the migration service. */
  tlsDir: string;
}

export interface SendOptions {
  nbdUri: string;
  migrateUri: string;
  downtimeLimitMs?: number;
  bandwidthMiBps?: number;
  autoConverge?: boolean;
  postcopy?: boolean;
  /** The migration's pre-shared key for the tunnel. */
  tls: PskCreds;
  /** A phase whose counter does not move for this long fails (default 30 s). */
  stallTimeoutMs?: number;
}

export interface MigrationProgress {
  phase: 'disk' | 'memory';
  transferred: number;
  remaining: number;
  mbps?: number;
  dirtyPagesRate?: number;
  expectedDowntimeMs?: number;
}

export interface MigrationStats {
  totalTimeMs: number;
  downtimeMs: number;
  ramBytes: number;
  diskBytes: number;
  /** The highest guest CPU throttle auto-converge applied (QEMU's cpu-throttle-percentage), 0 if none. */
  cpuThrottlePercent: number;
  /** How many times QEMU synced the dirty bitmap: the pre-copy rounds. */
  dirtySyncCount: number;
}

/**
 * Relays every connection accepted on one side to a fresh connection to the other,
 * both ways, each direction ending on its own (QEMU half-closes). An error on either
 * end breaks the pair, so QEMU sees a broken stream, as it would on a direct one.
 * With a key, the accepting side is the TLS tunnel's server: only connections that
 * completed its handshake are relayed. Errors are logged at debug: without --log a
 * keeper's stderr is the container's, and QEMU reports the broken stream anyway.
 */
export class Relay {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();

  async listen(at: net.ListenOptions, connect: () => net.Socket, psk?: PskCreds): Promise<void> {
    const onInbound = (inbound: net.Socket) => {
      const outbound = connect();
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', (err) => {
          // A stream that breaks fails the migration, which says why; a keeper's
          // warning would land in the container's stderr.
          log().debug(`migration relay: ${err.message}`);
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    };
    const server = psk ? tunnelServer(psk, onInbound) : net.createServer({ allowHalfOpen: true }, onInbound);
    this.servers.push(server);
    // A socket file left by a keeper that died mid-migration would block the name.
    if (at.path) fs.rmSync(at.path, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at, () => {
        server.off('error', reject);
        server.on('error', (err) => log().debug(`migration relay: ${err.message}`));
        resolve();
      });
    });
  }

  /** Stops accepting; with `hard`, also breaks the connections under way. */
  close(hard: boolean): void {
    for (const s of this.servers.splice(0)) s.close();
    if (hard) for (const s of this.sockets) s.destroy();
  }
}

/** The keeper's relay of its incoming VM, kept until the VM runs or the keeper ends. */
let incomingRelay: Relay | undefined;
/** The incoming migration's key, kept for the stand-in's link (keeper-link.ts). */
let incomingKey: PskCreds | undefined;

/** The key prepareIncoming read, once. */
export function takeIncomingKey(): PskCreds | undefined {
  const k = incomingKey;
  incomingKey = undefined;
  return k;
}

/** Destination: export the (empty) disk over NBD and start listening for the VM state. */
export async function prepareIncoming(qmp: QmpClient, ep: IncomingEndpoints): Promise<void> {
  // Read once: from here on the key is in this process's memory only.
  const psk = readPskDir(ep.tlsDir);
  removePskDir(ep.tlsDir);
  incomingKey = psk;
  await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: NBD_SOCKET } } });
  for (const d of await movingDisks(qmp)) await qmp.execute('nbd-server-add', { device: d.drive, name: d.exportName, writable: true });
  await qmp.execute('migrate-incoming', { uri: `unix:${STREAM_SOCKET}` });
  const relay = new Relay();
  incomingRelay = relay;
  const unix = (file: string) => () => net.connect({ path: file, allowHalfOpen: true });
  // The ports are the source host's to reach: a keeper in the container's namespace
  // (keeper-netns.ts) makes its listening sockets in the one it was started from,
  // and only for as long as that takes; QEMU's side is unix sockets, in no namespace.
  const hostNetns = enterHostNetns();
  try {
    await relay.listen({ host: ep.host, port: ep.nbdPort }, unix(NBD_SOCKET), psk);
    await relay.listen({ host: ep.host, port: ep.migratePort }, unix(STREAM_SOCKET), psk);
  } finally {
    hostNetns.back();
  }
}

/** Destination: the source gave up before switch-over; the incoming VM is to end. */
export function abandonIncoming(): void {
  incomingRelay?.close(true);
  incomingRelay = undefined;
}

/**
 * Destination: once the source has completed, stop the export and run the VM, then
 * have it announce its MAC (RARP from QEMU, and gratuitous ARP from the guest where
 * virtio-net lets QEMU ask for it) so that switches and peers learn its new port
 * now rather than when their entries age out. QEMU announces on its own when the
 * state has loaded, but the VM was paused then.
 */
export async function finishIncoming(qmp: QmpClient, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let status = '';
  while ((status = (await qmp.execute('query-status', {})).status) === 'inmigrate') {
    if (Date.now() > deadline) throw new RunxError('EQMP', 'the VM state has not arrived');
    await sleep(10);
  }
  await qmp.execute('nbd-server-stop', {}).catch(() => undefined);
  incomingRelay?.close(true);
  incomingRelay = undefined;
  if (status !== 'running') await qmp.execute('cont', {});
  // QEMU's own defaults (docs/interop/qmp: announce-self): 5 rounds, 50 ms then +100 ms.
  await qmp.execute('announce-self', { initial: 50, max: 550, rounds: 5, step: 100 })
    .catch((err: Error) => log().warn(`announce-self: ${err.message}`));
}

/** host and port of `tcp:HOST:PORT` or `nbd://HOST:PORT/EXPORT` (IPv6 in brackets). */
export function tcpTarget(uri: string): { host: string; port: number } {
  const m = /^(?:tcp:|nbd:\/\/)(?:\[([^\]]+)\]|([^:/]+)):(\d+)/.exec(uri);
  if (!m) throw new RunxError('EUSAGE', `not a TCP migration target: ${uri}`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

/** Waits until every mirror job is ready; the bytes they moved, summed. */
async function waitMirrorReady(qmp: QmpClient, jobIds: readonly string[], onProgress: (p: MigrationProgress) => void, timeoutMs: number, stall: StallWatch): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await qmp.execute('query-block-jobs', {});
    const jobs = jobIds.map((id) => all.find((j) => j.device === id));
    if (jobs.some((j) => !j)) throw new RunxError('EQMP', 'the disk mirror ended before it was ready (destination unreachable?)');
    const offset = jobs.reduce((n, j) => n + j!.offset, 0);
    const len = jobs.reduce((n, j) => n + j!.len, 0);
    const ready = jobs.every((j) => j!.ready);
    if (!ready) stall.progress(offset);
    onProgress({ phase: 'disk', transferred: offset, remaining: Math.max(0, len - offset) });
    if (ready) return len;
    if (Date.now() > deadline) throw new RunxError('EQMP', `the disk mirror was not ready within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** Source: ends the ready mirrors, flushing them; resolves once the jobs are gone. */
async function endMirror(qmp: QmpClient, jobIds: readonly string[]): Promise<void> {
  for (const id of jobIds) await qmp.execute('block-job-cancel', { device: id }).catch(() => undefined);
  const deadline = Date.now() + 30_000;
  while ((await qmp.execute('query-block-jobs', {})).some((j) => jobIds.includes(j.device))) {
    if (Date.now() > deadline) throw new RunxError('EQMP', 'the disk mirror did not finish');
    await sleep(10);
  }
}

/**
 * Source: moves disk and memory. On success the source VM is stopped (postmigrate)
 * and the destination holds everything; on failure the source VM runs on untouched.
 */
export async function sendVm(qmp: QmpClient, o: SendOptions, onProgress: (p: MigrationProgress) => void, wasRunning: boolean, cancelled: () => boolean = () => false): Promise<MigrationStats> {
  let diskBytes = 0;
  const progress = (p: MigrationProgress) => {
    if (cancelled()) throw new RunxError('ESTATE', 'migration cancelled');
    onProgress(p);
  };
  let relay: Relay | undefined;
  const migrateUri = `unix:${STREAM_SOCKET}`;
  let disks: MovingDisk[] = [ROOT_MOVE];
  try {
    disks = await movingDisks(qmp);
    relay = new Relay();
    const tunnel = (uri: string) => () => tunnelConnect(tcpTarget(uri), o.tls);
    await relay.listen({ path: NBD_SOCKET }, tunnel(o.nbdUri));
    await relay.listen({ path: STREAM_SOCKET }, tunnel(o.migrateUri));
    // One NBD server, one export per disk: each mirror's connection names its export.
    for (const d of disks) {
      await qmp.execute('drive-mirror', { 'job-id': d.job, device: d.drive, target: `nbd+unix:///${d.exportName}?socket=${NBD_SOCKET}`, format: 'raw', sync: 'full', mode: 'existing' });
    }
    const stallMs = o.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    diskBytes = await waitMirrorReady(qmp, disks.map((d) => d.job), progress, 600_000, new StallWatch(stallMs, 'the disk mirror'));
    const caps = [{ capability: 'auto-converge', state: o.autoConverge === true }, { capability: 'postcopy-ram', state: o.postcopy === true }];
    await qmp.execute('migrate-set-capabilities', { capabilities: caps });
    // Always both, QEMU's defaults unless given: a limit set for an earlier attempt
    // that failed or was cancelled stays in QEMU otherwise, and a retry without
    // --bandwidth would crawl at the old rate (and never converge).
    await qmp.execute('migrate-set-parameters', {
      'downtime-limit': o.downtimeLimitMs || QEMU_DOWNTIME_LIMIT_MS,
      'max-bandwidth': o.bandwidthMiBps ? o.bandwidthMiBps * 1024 * 1024 : QEMU_MAX_BANDWIDTH,
    });
    await qmp.execute('migrate', { uri: migrateUri });
    let info: MigrateInfo;
    let throttle = 0;
    const memoryStall = new StallWatch(stallMs, 'the memory transfer');
    for (;;) {
      info = await qmp.execute('query-migrate', {});
      // Reported only while auto-converge throttles (not once completed): keep the highest.
      throttle = Math.max(throttle, (info as { 'cpu-throttle-percentage'?: number })['cpu-throttle-percentage'] ?? 0);
      if (info.status === 'completed') break;
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw new RunxError('EQMP', `memory migration ${info.status}: ${info['error-desc'] ?? 'destination went away?'}`);
      }
      if (cancelled()) throw new RunxError('ESTATE', 'migration cancelled');
      memoryStall.progress(info.ram?.transferred ?? 0);
      if (info.ram) {
        progress({ phase: 'memory', transferred: info.ram.transferred, remaining: info.ram.remaining, mbps: info.ram.mbps,
          dirtyPagesRate: info.ram['dirty-pages-rate'], expectedDowntimeMs: info['expected-downtime'] });
      }
      await sleep(20);
    }
    await endMirror(qmp, disks.map((d) => d.job));
    relay?.close(false);
    const dirtySyncCount = (info.ram as { 'dirty-sync-count'?: number } | undefined)?.['dirty-sync-count'] ?? 0;
    return { totalTimeMs: info['total-time'] ?? 0, downtimeMs: info.downtime ?? 0, ramBytes: info.ram?.transferred ?? 0, diskBytes, cpuThrottlePercent: throttle, dirtySyncCount };
  } catch (err) {
    relay?.close(true);
    await qmp.execute('migrate_cancel', {}).catch(() => undefined);
    for (const d of disks) await qmp.execute('block-job-cancel', { device: d.job, force: true }).catch(() => undefined);
    if (wasRunning) {
      const st = await qmp.execute('query-status', {}).catch(() => undefined);
      if (st && st.status !== 'running') await qmp.execute('cont', {}).catch(() => undefined);
    }
    throw err;
  }
}
