// The spot daemon's control API (docs/protocol/daemon.proto) as gRPC on a unix socket.
// Who may call is the socket's permissions (owner only, as containerd's and dockerd's
// sockets), so calls carry no token. The handlers only translate between the daemon's
// types and the proto's: the daemon itself checks each request (operatorRequest), and
// every failure reaches the client as a gRPC status with a one-line message.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { RunxError, messageOf } from '../errors';
import { socketPath } from '../xcontainer';
import type { DaemonStatus, OperatorAction } from './daemon';
import type { ContainerOutcome as Outcome, EvacuationReport as Report } from './evacuate';
import {
  CONTROL_CHANNEL_OPTIONS, type Container, type ControlRpcs, type EvacuationPlan, type EvacuationReport, type RpcName,
  type StatusReply, type Timestamp, type WireMarket, type WirePath, type WireProvider, controlPackage,
} from './control-proto';
import type { ContainerLoad, EvacuationPlan as Plan } from './policy/evacuation';

/** What the control API needs of the daemon (SpotDaemon implements it). */
export interface ControlTarget {
  status(): DaemonStatus;
  containers(): Promise<ContainerLoad[]>;
  operatorEvacuate(action: OperatorAction, deadlineSeconds?: number, ids?: readonly string[]): Promise<Report>;
  operatorPlan(deadlineSeconds?: number, ids?: readonly string[]): Promise<Plan & { deadline: number }>;
}

export type ControlHandlers = { [K in RpcName]: grpc.handleUnaryCall<ControlRpcs[K][0], ControlRpcs[K][1]> };

export interface ControlServer {
  socket: string;
  stop(): Promise<void>;
}

type Log = Pick<Logger, 'info' | 'warn'>;

const PROVIDER: Record<DaemonStatus['provider'], WireProvider> = { none: 'PROVIDER_NONE', aws: 'PROVIDER_AWS', gcp: 'PROVIDER_GCP', azure: 'PROVIDER_AZURE' };
const MARKET: Record<DaemonStatus['market'], WireMarket> = { spot: 'MARKET_SPOT', 'on-demand': 'MARKET_ON_DEMAND' };
const PATH: Record<Outcome['path'] | Outcome['planned'], WirePath> = {
  live: 'PATH_LIVE', 'checkpoint-to-peer': 'PATH_CHECKPOINT_TO_PEER', failed: 'PATH_FAILED', unplaced: 'PATH_UNPLACED',
};

function timestamp(t: number | string | Date): Timestamp {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : t;
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function reportToWire(r: Report): EvacuationReport {
  return {
    reason: r.reason, deadline: timestamp(r.deadline), startedAt: timestamp(r.startedAt), finishedAt: timestamp(r.finishedAt),
    outcomes: r.outcomes.map((o) => ({
      containerId: o.containerId, path: PATH[o.path], peer: o.peer ?? '', planned: PATH[o.planned],
      startedAt: timestamp(o.startedAt), finishedAt: timestamp(o.finishedAt), withinDeadline: o.withinDeadline, errors: o.errors,
      ...(o.report?.bytes !== undefined ? { bytes: o.report.bytes } : {}),
      ...(o.report?.downtimeMs !== undefined ? { downtimeMs: o.report.downtimeMs } : {}),
    })),
  };
}

export function planToWire(p: Plan & { deadline: number }): EvacuationPlan {
  return {
    deadline: timestamp(p.deadline), budgetMs: p.budgetMs, totalMs: p.totalMs, allFit: p.allFit, unplaced: p.unplaced,
    steps: p.steps.map((s) => ({
      containerId: s.containerId, peer: s.peer, mode: PATH[s.mode], startMs: s.startMs, endMs: s.endMs,
      bandwidthMibps: s.bandwidthMiBps, slot: s.slot, fits: s.fits, reason: s.reason ?? '',
    })),
  };
}

export function statusToWire(s: DaemonStatus): StatusReply {
  return {
    provider: PROVIDER[s.provider], market: MARKET[s.market], price: s.price, placement: MARKET[s.placement],
    ...(s.risk !== null ? { risk: s.risk } : {}),
    evacuating: s.evacuating, evacuations: s.evacuations, lastEvacuation: s.lastEvacuation ? reportToWire(s.lastEvacuation) : null,
    reservations: s.reservations.map((r) => ({ containerId: r.containerId, peer: r.peer, memoryMib: Math.round(r.memoryMiB), bytes: r.bytes, since: timestamp(r.since) })),
    reservedBytes: s.reservations.reduce((sum, r) => sum + r.bytes, 0),
    registration: s.registration ? { name: s.registration.name, lease: s.registration.lease, error: s.registration.error ?? '' } : null,
  };
}

function containerToWire(c: ContainerLoad): Container {
  return { id: c.id, memoryMib: Math.max(0, Math.round(c.memoryMiB)), dirtyRateMibps: c.dirtyRateMiBps ?? 0, diskMib: c.diskMiB ?? 0, priority: Math.round(c.priority ?? 0) };
}

/** A status for the client: the code from the error's kind, the message on one line. */
function toServiceError(g: typeof grpc, err: unknown): grpc.ServiceError {
  const code = !(err instanceof RunxError) ? g.status.INTERNAL
    : err.code === 'EUSAGE' || err.code === 'ECONFIG' ? g.status.INVALID_ARGUMENT
    : err.code === 'ENOTFOUND' ? g.status.NOT_FOUND
    : err.code === 'ESTATE' ? g.status.FAILED_PRECONDITION
    : err.code === 'EHOST' ? g.status.UNAVAILABLE : g.status.INTERNAL;
  const message = messageOf(err).replace(/\s*\n\s*/g, ' ').trim().slice(0, 1000);
  return Object.assign(new Error(message), { code, details: message, metadata: new g.Metadata() });
}

/** One handler per rpc of the service; the unit tests hold this against the .proto. */
export function controlHandlers(target: ControlTarget, logger: Log): ControlHandlers {
  const { grpc: g } = controlPackage();
  const unary = <K extends RpcName>(name: K, fn: (req: ControlRpcs[K][0]) => Promise<ControlRpcs[K][1]>): grpc.handleUnaryCall<ControlRpcs[K][0], ControlRpcs[K][1]> => (call, cb) => {
    Promise.resolve().then(() => fn(call.request)).then((res) => cb(null, res), (err: unknown) => {
      const e = toServiceError(g, err);
      logger.warn({ rpc: name, code: e.code }, `control: ${e.details}`);
      cb(e);
    });
  };
  return {
    Status: unary('Status', async () => statusToWire(target.status())),
    ListContainers: unary('ListContainers', async () => ({ containers: (await target.containers()).map(containerToWire) })),
    Evacuate: unary('Evacuate', async (r) => reportToWire(await target.operatorEvacuate('evacuate', r.deadlineSeconds, r.containerIds))),
    Drain: unary('Drain', async (r) => reportToWire(await target.operatorEvacuate('drain', r.deadlineSeconds, r.containerIds))),
    Plan: unary('Plan', async (r) => planToWire(await target.operatorPlan(r.deadlineSeconds, r.containerIds))),
  };
}

/** True if a server answers on the socket; false if it is a leftover nobody listens on. */
function answers(file: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath(file));
    s.setTimeout(1000, () => { s.destroy(); resolve(true); });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(new RunxError('EHOST', `cannot check ${file}: ${err.message}`));
    });
  });
}

/** Serves the control API on `socket` until stop(). */
export async function serveControl(target: ControlTarget, socket: string, logger: Log): Promise<ControlServer> {
  const { grpc: g, service } = controlPackage();
  const file = path.resolve(socket);
  const dir = path.dirname(file);
  // Parents as runx makes its root (others may traverse), the socket's own dir private.
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o711 });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  let existing: fs.Stats | undefined;
  try { existing = fs.lstatSync(file); } catch { /* free */ }
  if (existing) {
    if (!existing.isSocket()) throw new RunxError('EHOST', `cannot serve the control API on ${file}: it exists and is not a socket`);
    if (await answers(file)) throw new RunxError('EHOST', `cannot serve the control API on ${file}: another daemon answers there`);
    fs.unlinkSync(file); // left behind by a daemon that was killed
  }
  // Bound in a private directory, made owner-only, then renamed into place: the socket
  // is never reachable by others, not even between bind and chmod.
  const staging = fs.mkdtempSync(path.join(dir, '.control-'));
  const server = new g.Server(CONTROL_CHANNEL_OPTIONS);
  server.addService(service, controlHandlers(target, logger));
  let ino: number;
  try {
    const bound = path.join(staging, 's');
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix:${socketPath(bound)}`, g.ServerCredentials.createInsecure(), (err) => (err ? reject(new RunxError('EHOST', `cannot serve the control API on ${file}: ${err.message}`)) : resolve()));
    });
    fs.chmodSync(bound, 0o600);
    fs.renameSync(bound, file);
    ino = fs.statSync(file).ino;
  } catch (err) {
    server.forceShutdown();
    throw err instanceof RunxError ? err : new RunxError('EHOST', `cannot serve the control API on ${file}: ${messageOf(err)}`);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  logger.info({ socket: file }, 'control API listening');
  return {
    socket: file,
    stop: async () => {
      await new Promise<void>((resolve) => {
        // Calls still running after a grace (a client that never reads) are cut.
        const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
        server.tryShutdown(() => { clearTimeout(t); resolve(); });
      });
      // Only ours: a daemon started since may have put its own socket there.
      try { if (fs.statSync(file).ino === ino) fs.unlinkSync(file); } catch { /* gone */ }
    },
  };
}
