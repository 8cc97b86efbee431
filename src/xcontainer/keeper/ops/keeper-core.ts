// What the keeper's op handlers need of the keeper: its state machine, its VM session
// (the agent and QMP), its record, and the steps that do I/O beyond one request
// (saving, sending, standing in, taking back). keeper.ts implements it; the unit tests
// implement it with a fake VM session.
import type { ControlMessage, FieldValue } from '../../agent/agent-messages';
import type { GuestNetwork } from '../../devices/net/config';
import type { ContainerRecord } from '../../state/container-record';
import type { QmpCommands } from '../../vm/qmp-client';
import type { IncomingEndpoints, MigrationStats, SendOptions } from '../../vm/vm-migration';
import type { KeeperMachine } from '../phases';
import type { KeeperOp, KeeperRequest, KeeperResult, LinkAuth, LinkTarget, MigrationOwner } from '../protocol';

/** The agent connection, as far as the handlers use it. */
export interface AgentPort {
  request(name: string, fields: Record<string, FieldValue | undefined> | Array<[string, FieldValue]>, timeoutMs?: number): Promise<ControlMessage>;
  /** Holds stdin back until releaseStdin; resolves (false: the agent did not answer) once the agent has read what was sent. */
  holdStdin(): Promise<boolean>;
  releaseStdin(): void;
  /** Holds stdin back without asking the agent, whose VM has stopped (a migration's sent VM); releaseStdin undoes it. */
  suspendStdin(): void;
}

/** The QMP client, as far as the handlers use it. */
export interface QmpPort {
  execute<K extends keyof QmpCommands>(command: K, args: QmpCommands[K]['args']): Promise<QmpCommands[K]['result']>;
}

export interface KeeperCore {
  readonly machine: KeeperMachine;
  /** The VM's agent; throws when there is no VM. */
  agent(): AgentPort;
  qmp(): QmpPort;
  updateRecord(patch: Partial<ContainerRecord>): void;
  /**
   * Keeps host -> container refreshes of carried binds back, once the one under way is
   * done, until the returned release: a refresh mounts the VM's share, and QEMU cannot
   * stop it for long, save or send it then.
   */
  holdCarry(): Promise<() => void>;
  /** The VM has read-write carried binds: a checkpoint that ends the container writes them back to the host. */
  readonly carriesWrites: boolean;
  /** The agent has frozen the container's processes (a pause, a checkpoint's write-back): resume thaws them. */
  guestFrozen: boolean;
  /** A saved VM about to run for its write-back only: its NIC's link goes down, so nothing of it reaches the network. */
  isolateVm(): Promise<void>;
  /** With the VM stopped: its state and a copy of its disk into `dir`, after the output it sent. */
  saveCheckpoint(dir: string): Promise<void>;
  /** A checkpoint without --leave-running: end QEMU and exit 137 (after the reply is out). */
  endAfterCheckpoint(): void;
  sendVm(send: SendOptions, progress: (p: unknown) => void, wasRunning: boolean, cancelled: () => boolean): Promise<MigrationStats>;
  /** Back from the host's network namespace that sendVm entered, if it did (an aborted migration). */
  leaveHostNetns(): void;
  /** After switch-over: the output the stopped VM sent is written, and its QEMU ends. */
  leaveVm(): Promise<void>;
  /** Stand in for the container, which runs at `to` now. */
  standIn(to: string, auth: LinkAuth, link?: LinkTarget): Promise<void>;
  /** The container went back to the stand-in at `to`: nothing of it stays here; the keeper ends. */
  endAsReturned(to: string): void;
  /** A signal for the container while it runs elsewhere (standing in, taking back). */
  signalRemote(signal: number): void;
  /** A stand-in: boot a VM waiting for the incoming state, its NIC `network`. */
  bootIncoming(incoming: IncomingEndpoints, network: GuestNetwork | undefined): Promise<void>;
  /** Run the VM whose state has arrived and check its agent answers. */
  runIncoming(): Promise<void>;
  /** The container taken back runs here: the stand-in's link retires. */
  retireLink(): void;
  /** A take-back that will not happen: end its VM, keep standing in with `network`. */
  abortIncoming(network: GuestNetwork | undefined): Promise<void>;
  /** Whether this keeper, as a stand-in, could link to `to` (throws why not). */
  checkLink(to: string, auth: LinkAuth): Promise<void>;
  /** Whether the CLI that began a migration is still there. */
  ownerAlive(owner: MigrationOwner): boolean;
}

export type OpHandler<K extends KeeperOp> = (core: KeeperCore, req: KeeperRequest<K>, progress: (p: unknown) => void) => Promise<KeeperResult<K>>;

/** exec is served on its own connection (keeper-exec.ts), not by a handler. */
export type HandledOp = Exclude<KeeperOp, 'exec'>;
export type OpHandlers = { [K in HandledOp]: OpHandler<K> };
