// What `create` hands the keeper (<state dir>/launch.json): everything it needs to
// boot the VM and prepare the container, decided once, before the keeper starts.
import type { FieldValue } from '../agent/agent-messages';
import type { HostCgroup } from '../cgroup/host-cgroup';
import type { QemuLaunch } from '../vm/qemu-argv';
import type { LogOptions } from '../../log';
import type { AuthOptions } from '../../migrate/auth';
import type { IncomingEndpoints, SendOptions } from '../vm/vm-migration';
import type { GuestNetwork } from '../devices/net/config';

export const LAUNCH_FILE = 'launch.json';
export const KEEPER_SOCKET = 'keeper.sock';
/** The line its starter sends on the keeper's fd 3 once launch.json is written. */
export const KEEPER_GO = 'go';

export interface KeeperLaunch {
  id: string;
  root: string;
  qemu: QemuLaunch;
  qemuBinary: string;
  agentCreate: Array<[string, FieldValue]>;
  bootTimeoutMs: number;
  log: LogOptions;
  /** Set when the VM comes from a checkpoint: its migration stream and the status it had. */
  restore?: { stateFile: string; status: 'created' | 'running' };
  /** Set for a snapshot boot: the template's saved state, and the container disk's size. */
  template?: { stateFile: string; diskBytes: number };
  /** Set on a migration's destination: QEMU waits paused for the incoming VM. */
  incoming?: IncomingEndpoints;
  /**
   * Set when process.terminal is true. With a console socket, the keeper makes a host
   * pty, sends its master there, and relays between its slave and the guest's terminal;
   * without (run in the foreground), the guest's terminal is relayed through the
   * keeper's own stdio, the caller's terminal.
   */
  terminal?: { consoleSocket?: string };
  /**
   * Set by `run` when nothing has to happen between create and start (no hooks then):
   * the keeper has the agent start the process right after create, sparing the round
   * trip of a separate `start` through the CLI, and reports ready as running.
   */
  startAfterCreate?: boolean;
  /** The container's cgroup on the host, made by `create`: the keeper joins it before it starts QEMU. */
  cgroup?: HostCgroup;
}

/** Requests on the keeper's control socket (newline-delimited JSON). */
export type KeeperRequest =
  | { op: 'start' }
  | { op: 'kill'; signal: number; all: boolean }
  | { op: 'ping' }
  | { op: 'pause' }
  | { op: 'resume' }
  | { op: 'checkpoint'; dir: string; leaveRunning: boolean }
  | { op: 'migrate'; send: SendOptions }
  | { op: 'abort-migration' }
  | { op: 'cancel-migration' }
  /** standIn false: the destination's stand-in took the container back; this keeper ends. */
  | { op: 'handover'; to: string; auth: AuthOptions; standIn?: boolean }
  /** Before a migration: can the stand-in this keeper would become reach the destination with these credentials? */
  | { op: 'check-link'; to: string; auth: AuthOptions }
  | { op: 'finish-incoming' }
  /** A stand-in: the container comes back here; boot its VM waiting for the incoming state. */
  | { op: 'take-back'; incoming: IncomingEndpoints; network?: GuestNetwork }
  /** A stand-in whose take-back will not happen: end that VM and stand in as before (with the NIC it kept). */
  | { op: 'abort-incoming'; network?: GuestNetwork }
  /** The container terminal's window size changed (run in the foreground). */
  | { op: 'resize'; rows: number; cols: number }
  /** Start a process in the container; the connection then carries its stdio (docs/protocol/keeper.md). */
  | { op: 'exec'; fields: Array<[string, FieldValue]> }
  /** The guest's process table (agent `ps`): one "PID:PPID:UID:STATE:CMDLINE" per process. */
  | { op: 'ps' }
  /** The container's usage counters from the guest: the agent's `usage` fields, as a record. */
  | { op: 'stats' }
  /** Change resource limits live: the agent's res.* fields (docs/protocol/agent.md). */
  | { op: 'update'; fields: Array<[string, FieldValue]> };

export type KeeperReply = { ok: true; result?: unknown } | { ok: false; error: string };

/** A line the keeper may send before its reply, for long operations. */
export interface KeeperProgress { progress: unknown }
