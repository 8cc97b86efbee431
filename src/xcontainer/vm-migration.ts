// Live migration of a VM with its disk and without shared storage, the way libvirt's
// --copy-storage-all works on QEMU 7.2: the destination QEMU waits paused
// (-S -incoming defer) with an NBD export of its empty disk; the source mirrors its
// disk there (drive-mirror sync=full mode=existing), waits until the mirror is
// ready, pre-copies memory (migrate), and on completion ends the mirror
// (block-job-cancel, which for a ready job flushes it); the destination then stops
// the export and continues.
import { RunxError } from '../errors';
import { sleep } from './host';
import type { MigrateInfo, QmpClient } from './qmp-client';

export const EXPORT_NAME = 'root';
const MIRROR_JOB = 'runx-mirror';

export interface IncomingEndpoints {
  host: string;
  nbdPort: number;
  migratePort: number;
}

export interface SendOptions {
  nbdUri: string;
  migrateUri: string;
  downtimeLimitMs?: number;
  bandwidthMiBps?: number;
  autoConverge?: boolean;
  postcopy?: boolean;
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
}

/** Destination: export the (empty) disk over NBD and start listening for the VM state. */
export async function prepareIncoming(qmp: QmpClient, ep: IncomingEndpoints): Promise<void> {
  await qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: ep.host, port: String(ep.nbdPort) } } });
  await qmp.execute('nbd-server-add', { device: 'root', name: EXPORT_NAME, writable: true });
  await qmp.execute('migrate-incoming', { uri: `tcp:${ep.host}:${ep.migratePort}` });
}

/** Destination: once the source has completed, stop the export and run the VM. */
export async function finishIncoming(qmp: QmpClient, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let status = '';
  while ((status = (await qmp.execute('query-status', {})).status) === 'inmigrate') {
    if (Date.now() > deadline) throw new RunxError('EQMP', 'the VM state has not arrived');
    await sleep(10);
  }
  await qmp.execute('nbd-server-stop', {}).catch(() => undefined);
  if (status !== 'running') await qmp.execute('cont', {});
}

async function waitMirrorReady(qmp: QmpClient, onProgress: (p: MigrationProgress) => void, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await qmp.execute('query-block-jobs', {})).find((j) => j.device === MIRROR_JOB);
    if (!job) throw new RunxError('EQMP', 'the disk mirror ended before it was ready (destination unreachable?)');
    onProgress({ phase: 'disk', transferred: job.offset, remaining: Math.max(0, job.len - job.offset) });
    if (job.ready) return job.len;
    if (Date.now() > deadline) throw new RunxError('EQMP', `the disk mirror was not ready within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** Source: ends the ready mirror, flushing it; resolves once the job is gone. */
async function endMirror(qmp: QmpClient): Promise<void> {
  await qmp.execute('block-job-cancel', { device: MIRROR_JOB }).catch(() => undefined);
  const deadline = Date.now() + 30_000;
  while ((await qmp.execute('query-block-jobs', {})).some((j) => j.device === MIRROR_JOB)) {
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
  try {
    await qmp.execute('drive-mirror', { 'job-id': MIRROR_JOB, device: 'root', target: o.nbdUri, format: 'raw', sync: 'full', mode: 'existing' });
    diskBytes = await waitMirrorReady(qmp, progress, 600_000);
    const caps = [{ capability: 'auto-converge', state: o.autoConverge === true }, { capability: 'postcopy-ram', state: o.postcopy === true }];
    await qmp.execute('migrate-set-capabilities', { capabilities: caps });
    const params: { 'downtime-limit'?: number; 'max-bandwidth'?: number } = {};
    if (o.downtimeLimitMs) params['downtime-limit'] = o.downtimeLimitMs;
    if (o.bandwidthMiBps) params['max-bandwidth'] = o.bandwidthMiBps * 1024 * 1024;
    if (Object.keys(params).length) await qmp.execute('migrate-set-parameters', params);
    await qmp.execute('migrate', { uri: o.migrateUri });
    let info: MigrateInfo;
    for (;;) {
      info = await qmp.execute('query-migrate', {});
      if (info.status === 'completed') break;
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw new RunxError('EQMP', `memory migration ${info.status}: ${info['error-desc'] ?? 'destination went away?'}`);
      }
      if (cancelled()) throw new RunxError('ESTATE', 'migration cancelled');
      if (info.ram) {
        progress({ phase: 'memory', transferred: info.ram.transferred, remaining: info.ram.remaining, mbps: info.ram.mbps,
          dirtyPagesRate: info.ram['dirty-pages-rate'], expectedDowntimeMs: info['expected-downtime'] });
      }
      await sleep(20);
    }
    await endMirror(qmp);
    return { totalTimeMs: info['total-time'] ?? 0, downtimeMs: info.downtime ?? 0, ramBytes: info.ram?.transferred ?? 0, diskBytes };
  } catch (err) {
    await qmp.execute('migrate_cancel', {}).catch(() => undefined);
    await qmp.execute('block-job-cancel', { device: MIRROR_JOB, force: true }).catch(() => undefined);
    if (wasRunning) {
      const st = await qmp.execute('query-status', {}).catch(() => undefined);
      if (st && st.status !== 'running') await qmp.execute('cont', {}).catch(() => undefined);
    }
    throw err;
  }
}
