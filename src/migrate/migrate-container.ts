// `runx migrate`: moves a running container's VM to another host's `runx serve` and
// leaves this host's keeper as its stand-in. Until switch-over (the destination's
// Finish), any failure aborts the destination and the VM here runs on untouched. A VM
// with a NIC takes its identity along: the destination recreates the NIC in its own
// namespace for the container (--netns) with the same MAC and address.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import { RunxError, messageOf } from '../errors';
import { log } from '../log';
import {
  type ContainerRecord, EXPORT_NAME, KEEPER_SOCKET, KeeperGoneError, type KeeperParams, type KeeperReply, type MigrationProgress, type MigrationStats,
  DEFAULT_STALL_TIMEOUT_MS, type RuntimeOptions, StateStore, askKeeper, callKeeper, netFromState, processStartTime, readVm, refuseLiveShares, removeHostCgroup, teardownNetwork, waitForExit,
} from '../xcontainer';
import { type AuthOptions, callErrorMessage, clientCredentials, readToken } from './auth';
import { Heartbeat } from './heartbeat';
import { newNonce, streamKey } from './stream-tls';
import { instanceOf } from './instance';
import { prepareVmOf } from './prepare-request';
import { MIGRATION_PROTOCOL_VERSION, type MigrationClient, type PrepareReply, migrationPackage } from './proto';

export interface MigrateOptions extends AuthOptions {
  to: string;
  bandwidthMiBps?: number;
  downtimeLimitMs?: number;
  postcopy: boolean;
  autoConverge: boolean;
  dryRun: boolean;
  /** The destination host's network namespace for the container (its NIC goes there). */
  netnsPath?: string;
  /** A phase with no progress (or a destination not answering) for this long fails the migration. */
  stallTimeoutMs?: number;
}

/** An Abort goes to a destination that may be unreachable: it must not hold up the failure. */
const ABORT_DEADLINE_MS = 5_000;

export interface MigrationReport {
  id: string;
  to: string;
  dryRun: boolean;
  totalMs: number;
  /** From the source VM's last instant to the destination running, measured by runx. */
  switchoverMs?: number;
  qemu?: MigrationStats;
  /** The container went back to the destination's stand-in: nothing of it is left here. */
  returned?: boolean;
  /** The destination's network namespace the NIC went into. */
  netnsPath?: string;
}

function call<T>(fn: (cb: (err: Error | null, res?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(new RunxError('EHOST', callErrorMessage(err))) : resolve(res as T))));
}

export async function migrateContainer(id: string, opts: MigrateOptions, runtime: RuntimeOptions, onProgress: (p: MigrationProgress) => void): Promise<MigrationReport> {
  const started = Date.now();
  const store = new StateStore(runtime.root);
  // Ctrl-C (or SIGTERM) before switch-over cancels, whatever phase it comes in: the
  // destination is aborted and the source runs on.
  let cancelled = false;
  let onCancel = () => { cancelled = true; };
  const cancel = () => onCancel();
  process.on('SIGINT', cancel);
  process.on('SIGTERM', cancel);
  const cancelledError = () => new RunxError('EHOST', `migration of ${id} to ${opts.to} cancelled before switch-over (the container runs on here)`);
  try {
    return await store.withLock(id, async () => {
      const { rec, status } = store.readLive(id);
      if (status !== 'running' && status !== 'paused') throw new RunxError('ESTATE', `cannot migrate container ${id}: it is ${status}`);
      if (rec.annotations?.['io.runx.migrated-to']) throw new RunxError('ESTATE', `container ${id} already moved to ${rec.annotations['io.runx.migrated-to']}`);
      const { spec, state } = readVm(store.dir(id));
      refuseLiveShares(`cannot migrate container ${id}`, state.devices.shares);
      const net = state.devices.net;
      if (opts.netnsPath && !net) throw new RunxError('EUSAGE', `--netns: container ${id} has no NIC (its config names no network namespace path)`);
      const { Client } = migrationPackage();
      const { creds, metadata, options } = clientCredentials(opts);
      const client: MigrationClient = new Client(opts.to, creds, options);
      const deadline = () => ({ deadline: Date.now() + 60_000 });
      const keeperSock = store.file(id, KEEPER_SOCKET);
      // Before Prepare, which may take seconds: from here on a cancel (`runx migrate
      // --cancel`, or a signal to us) is the keeper's to keep, and its migrate refuses.
      await callKeeper(keeperSock, 'begin-migration', { owner: { pid: process.pid, startTime: processStartTime(process.pid) } });
      onCancel = () => {
        cancelled = true;
        void callKeeper(keeperSock, 'cancel-migration', {}).catch(() => undefined);
      };
      let sent: KeeperReply<'migrate'> | undefined;
      const stallMs = opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
      const attempt = randomUUID();
      let heartbeat: Heartbeat | undefined;
      const nonce = newNonce();
      try {
        // A cancel while the destination prepares ends the call at once; the
        // destination reaps what it prepared when no ping comes.
        let preparing: grpc.ClientUnaryCall | undefined;
        onCancel = () => {
          cancelled = true;
          preparing?.cancel();
        };
        const ep = await call<PrepareReply>((cb) => { preparing = client.Prepare({
          protocolVersion: MIGRATION_PROTOCOL_VERSION,
          containerId: id,
          ...prepareVmOf(spec, state),
          configJson: fs.readFileSync(store.file(id, 'config.json'), 'utf8'),
          kernel: fs.readFileSync(spec.kernel),
          initramfs: fs.readFileSync(spec.initramfs),
          bundle: rec.bundle,
          netnsPath: opts.netnsPath ?? '',
          instance: instanceOf(store, id),
          attempt,
          streamNonce: nonce,
        }, metadata, deadline(), cb); }).catch(async (err: unknown) => {
          if (!cancelled) throw err;
          await call<unknown>((cb) => client.Abort({ containerId: id, reason: 'cancelled', attempt }, metadata, { deadline: Date.now() + ABORT_DEADLINE_MS }, cb)).catch(() => undefined);
          throw cancelledError();
        });
        onCancel = () => { cancelled = true; };
        const abort = (reason: string) => call<unknown>((cb) => client.Abort({ containerId: id, reason, attempt }, metadata, { deadline: Date.now() + ABORT_DEADLINE_MS }, cb))
          // The failure is reported anyway, and a destination that did not hear this reaps its VM itself.
          .catch((err) => log().info(`abort at ${opts.to}: ${messageOf(err)}`));
        let tls: ReturnType<typeof streamKey>;
        try {
          tls = streamKey(readToken(opts.tokenFile), { identity: ep.streamIdentity, secret: Buffer.from(ep.streamSecret ?? []) }, nonce, id);
        } catch (err) {
          await abort(messageOf(err));
          throw err;
        }
        // From here to Finish the destination waits on us: it hears from us, and we
        // notice when it stops answering.
        let silent: string | undefined;
        heartbeat = new Heartbeat((ms) => call((cb) => client.Ping({ containerId: id }, metadata, { deadline: Date.now() + ms }, cb)), stallMs, (why) => {
          silent = why;
          void callKeeper(keeperSock, 'cancel-migration', {}).catch(() => undefined);
        });
        if (cancelled) {
          await abort('cancelled');
          throw cancelledError();
        }
        if (opts.dryRun) {
          await abort('dry run');
          return { id, to: opts.to, dryRun: true, totalMs: Date.now() - started, netnsPath: ep.netnsPath || undefined };
        }
        // The stand-in this keeper becomes must be able to attach, or the output after
        // the switch-over would go nowhere: learn it now, while nothing has moved.
        const auth = { tokenFile: opts.tokenFile, tlsCert: opts.tlsCert, tlsKey: opts.tlsKey, tlsCa: opts.tlsCa };
        if (!ep.returning) {
          try {
            await callKeeper(keeperSock, 'check-link', { to: opts.to, auth });
          } catch (err) {
            await abort(messageOf(err));
            throw new RunxError('EHOST', `migration of ${id} to ${opts.to} refused before anything moved (the container runs on here): ${messageOf(err)}`);
          }
        }
        if (cancelled) {
          await abort('cancelled');
          throw cancelledError();
        }
        onCancel = () => {
          cancelled = true;
          void callKeeper(keeperSock, 'cancel-migration', {}).catch(() => undefined);
        };
        // The raw reply: a refusal is still the keeper's answer (its migration ended
        // with it), where no answer leaves the abort below to end it.
        sent = await askKeeper(keeperSock, {
          op: 'migrate',
          send: {
            nbdUri: `nbd://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.nbdPort}/${EXPORT_NAME}`,
            migrateUri: `tcp:${ep.host}:${ep.migratePort}`,
            downtimeLimitMs: opts.downtimeLimitMs, bandwidthMiBps: opts.bandwidthMiBps,
            autoConverge: opts.autoConverge, postcopy: opts.postcopy,
            tls,
            stallTimeoutMs: stallMs,
          },
        }, 3_600_000, (p) => onProgress(p as MigrationProgress));
        // From here on the VM is at the destination: a late Ctrl-C no longer cancels.
        onCancel = () => undefined;
        if (!sent.ok) {
          const why = silent ?? sent.error;
          heartbeat.stop();
          await abort(why);
          throw new RunxError('EHOST', `migration of ${id} to ${opts.to} failed before switch-over (the container runs on here): ${why}`);
        }
        const switchStart = Date.now();
        heartbeat.stop();
        try {
          await call((cb) => client.Finish({ containerId: id }, metadata, deadline(), cb));
        } catch (err) {
          await abort(`finish failed: ${messageOf(err)}`);
          await callKeeper(keeperSock, 'abort-migration', {});
          throw new RunxError('EHOST', `migration of ${id}: ${opts.to} could not run the VM (the container runs on here): ${messageOf(err)}`);
        }
        const switchoverMs = Date.now() - switchStart;
        const report: MigrationReport = { id, to: opts.to, dryRun: false, totalMs: 0, switchoverMs, qemu: sent.result, netnsPath: ep.netnsPath || undefined };
        if (ep.returning) {
          await leaveForGood(store, rec, { to: opts.to, auth, standIn: false });
          report.returned = true;
        } else {
          // Its link goes to the destination's keeper itself when it has a port for it.
          const link = ep.linkPort ? { host: ep.host, port: ep.linkPort } : undefined;
          await callKeeper(keeperSock, 'handover', { to: opts.to, auth, link })
            .catch((err: unknown) => log().error(`migration of ${id}: the container runs at ${opts.to}, but this host's stand-in failed: ${messageOf(err)}`));
        }
        report.totalMs = Date.now() - started;
        return report;
      } finally {
        heartbeat?.stop();
        client.close();
        // Prepare failed, or a cancel or dry run ended it there: the keeper's migration
        // ends too (a migrate it served ended it, whatever its outcome).
        if (!sent) await callKeeper(keeperSock, 'abort-migration', {}).catch((err: unknown) => log().warn(`migration of ${id}: ${messageOf(err)}`));
      }
    });
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
  }
}

/**
 * The container went back to its stand-in at the destination, whose link brought its
 * output and signals through this host: the keeper here ends once its last output is
 * out (its exit is the end of that link), and the id is free here again.
 */
async function leaveForGood(store: StateStore, rec: ContainerRecord, req: KeeperParams<'handover'>): Promise<void> {
  const { id, keeperPid, keeperStartTime } = rec;
  // It ends once it has answered, or before: a closed connection is that end.
  await callKeeper(store.file(id, KEEPER_SOCKET), 'handover', req).catch((err: unknown) => {
    if (!(err instanceof KeeperGoneError)) log().warn(`migration of ${id}: ending the keeper here: ${messageOf(err)}`);
  });
  if (!await waitForExit(keeperPid, keeperStartTime, 10_000)) {
    log().warn(`migration of ${id}: keeper ${keeperPid} did not end; killing it`);
    try {
      process.kill(keeperPid, 'SIGKILL');
    } catch { /* gone meanwhile */ }
    await waitForExit(keeperPid, keeperStartTime, 5_000);
  }
  // What a keeper that did not get as far as ending by itself left: its NIC, its cgroup.
  try {
    const network = netFromState(readVm(store.dir(id)).state.devices.net);
    if (network) teardownNetwork(network);
  } catch { /* no launch.json: nothing was set up */ }
  if (rec.cgroup) await removeHostCgroup(rec.cgroup, [keeperPid]);
  store.remove(id);
}

/** `runx migrate --cancel ID`: stops a migration in progress before switch-over. */
export async function cancelMigration(id: string, runtime: RuntimeOptions): Promise<void> {
  const store = new StateStore(runtime.root);
  store.read(id);
  await callKeeper(store.file(id, KEEPER_SOCKET), 'cancel-migration', {});
}
