// The keeper.sock protocol's types: one map from each operation to its request fields
// and its result (puppeteer's ProtocolMapping idea), the version both ends check, and
// the reply shape with its error code. docs/protocol/keeper.md explains it and
// docs/protocol/keeper.json is its machine-readable definition, which both ends check
// every message against (keeper-schema.ts).
import type { RunxErrorCode } from '../../errors';
import type { FieldValue } from '../agent/agent-messages';
import type { GuestNetwork } from '../devices/net/config';
import type { IncomingEndpoints, MigrationStats, SendOptions } from '../vm/vm-migration';

/** Bumped on any change a keeper of the previous version would misread. */
export const KEEPER_PROTOCOL = 1;

/** The migration service's credentials a stand-in links with (migrate/auth reads them). */
/** Where the destination's keeper takes the stand-in's link (keeper-link.ts), keyed by the migration's key. */
export interface LinkTarget {
  host: string;
  port: number;
}

export interface LinkAuth {
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** Who started a migration: its `begin-migration` lapses when that process is gone. */
export interface MigrationOwner {
  pid: number;
  startTime?: number;
}

// No fields beside op (an empty object type: index signatures would forbid `op`).
type None = Record<never, never>;

/** Every operation: the fields its request carries beside `op`, and its reply's `result`. */
export interface KeeperOps {
  /** Liveness, and which protocol and runx the keeper speaks. */
  ping: { params: None; result: { protocol: number; runx: string } };
  start: { params: None; result: undefined };
  kill: { params: { signal: number; all: boolean }; result: undefined };
  pause: { params: None; result: undefined };
  resume: { params: None; result: undefined };
  checkpoint: { params: { dir: string; leaveRunning: boolean }; result: undefined };
  /** Sent before the destination's Prepare: a cancel from then on is not lost. */
  'begin-migration': { params: { owner: MigrationOwner }; result: undefined };
  migrate: { params: { send: SendOptions }; result: MigrationStats };
  'cancel-migration': { params: None; result: undefined };
  'abort-migration': { params: None; result: undefined };
  /** standIn false: the destination's stand-in took the container back; this keeper ends. */
  handover: { params: { to: string; auth: LinkAuth; standIn?: boolean; link?: LinkTarget }; result: undefined };
  /** Before a migration moves anything: can the stand-in this keeper would become reach `to` with `auth`? */
  'check-link': { params: { to: string; auth: LinkAuth }; result: undefined };
  'finish-incoming': { params: None; result: undefined };
  /** A stand-in: the container comes back here; boot its VM waiting for the incoming state. */
  'take-back': { params: { incoming: IncomingEndpoints; network?: GuestNetwork }; result: undefined };
  /** A stand-in whose take-back will not happen: end that VM and stand in as before (with the NIC it kept). */
  'abort-incoming': { params: { network?: GuestNetwork }; result: undefined };
  /** The container terminal's window size changed (run in the foreground). */
  resize: { params: { rows: number; cols: number }; result: undefined };
  /** Start a process in the container; the connection then carries its stdio (docs/protocol/keeper.md). */
  exec: { params: { fields: Array<[string, FieldValue]> }; result: { pid: number } };
  /** The guest's process table (agent `ps`): one "PID:PPID:UID:STATE:CMDLINE" per process. */
  ps: { params: None; result: string[] };
  /** The container's usage counters from the guest: the agent's `usage` fields, as a record. */
  stats: { params: None; result: Record<string, string> };
  /** Change resource limits live: the agent's res.* fields (docs/protocol/agent.md). */
  update: { params: { fields: Array<[string, FieldValue]> }; result: undefined };
}

export type KeeperOp = keyof KeeperOps;
export type KeeperParams<K extends KeeperOp> = KeeperOps[K]['params'];
export type KeeperResult<K extends KeeperOp> = KeeperOps[K]['result'];

/** Every operation, in the order the docs list them. */
export const KEEPER_OPS = [
  'ping', 'start', 'kill', 'pause', 'resume', 'checkpoint',
  'begin-migration', 'migrate', 'cancel-migration', 'abort-migration', 'check-link', 'handover', 'finish-incoming', 'take-back', 'abort-incoming',
  'resize', 'exec', 'ps', 'stats', 'update',
] as const satisfies readonly KeeperOp[];

/** A request line: `op`, the protocol its sender speaks, and the op's fields. */
export type KeeperRequest<K extends KeeperOp = KeeperOp> = { [P in K]: { op: P; protocol: number } & KeeperParams<P> }[K];

export interface KeeperRefusal {
  ok: false;
  protocol: number;
  /** A RunxError code (src/errors.ts): the CLI throws it as the keeper gave it. */
  code: RunxErrorCode;
  error: string;
}

export type KeeperReply<K extends KeeperOp = KeeperOp> = { ok: true; protocol: number; result?: KeeperResult<K> } | KeeperRefusal;

/** A line the keeper may send before its reply, for long operations (migrate's phases). */
export interface KeeperProgress { progress: unknown }

/** Tells a progress line from the reply: a reply never has a `progress` field. */
export function isKeeperProgress(line: unknown): line is KeeperProgress {
  return typeof line === 'object' && line !== null && 'progress' in line;
}

/** The one-line error of a version skew, whichever end finds it. */
export function protocolMismatch(keeper: number | undefined, cli: number | undefined): string {
  return `keeper speaks protocol ${keeper ?? 0}, this runx speaks ${cli ?? 0}: the container was started by another runx build; `
    + 'manage it with that build, or delete and recreate it';
}
