// What `create` hands the keeper (<state dir>/launch.json): everything it needs to
// boot the VM and prepare the container, decided once, before the keeper starts.
import type { FieldValue } from '../agent/agent-messages';
import type { HostCgroup } from '../cgroup/host-cgroup';
import type { QemuLaunch } from '../vm/qemu-argv';
import type { LogOptions } from '../../log';
import type { IncomingEndpoints } from '../vm/vm-migration';

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
   * On a migration's destination: what its migration service made on this host for the
   * incoming container's binds (wire-shares.ts), removed by the keeper if that service
   * dies before switch-over (nobody else would); dropped at switch-over.
   */
  incomingMade?: string[];
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
  /** The loopback nameserver (Docker's 127.0.0.11) whose queries the keeper relays from the guest (devices/net/dns-relay.ts). */
  dnsRelay?: string;
  /** The container's cgroup on the host, made by `create`: the keeper joins it before it starts QEMU. */
  cgroup?: HostCgroup;
  /** The cgroup namespace the keeper enters after joining `cgroup`: a new one, or the one at path (keeper-namespaces.ts). */
  cgroupns?: { path?: string };
}

/** The keeper's word on fd 3 once the VM is up and the container prepared, or why not. */
export type KeeperReady = { ok: true } | { ok: false; error: string };
