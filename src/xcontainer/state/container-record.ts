// What runx keeps per container in <root>/<id>/state.json: the OCI state plus the
// keeper and QEMU identities. Status guards are pure functions of a record.
import type { ContainerStatus, OciState } from '../../bundle/spec-types';
import type { Accel } from '../vm/accel';
import type { HostCgroup } from '../cgroup/host-cgroup';

export const OCI_VERSION = '1.0.2';

export interface ContainerRecord {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /** The keeper: the host process that stands for the container (pid file, shim). */
  keeperPid: number;
  keeperStartTime?: number;
  qemuPid?: number;
  qemuStartTime?: number;
  accel?: Accel;
  /** Set when stopped: exit code, 128+N for death by signal N. */
  exitStatus?: number;
  finished?: string;
  /** Ended by `checkpoint` (without --leave-running): its image may be restored. */
  checkpointed?: boolean;
  /** Its cgroup on the host (holding the keeper and QEMU), which `delete` removes. */
  cgroup?: HostCgroup;
}

/** A live status whose keeper is gone is stale and reads as stopped, never as running. */
export function effectiveStatus(rec: ContainerRecord, keeperAlive: boolean): ContainerStatus {
  if (rec.status === 'stopped') return 'stopped';
  if (rec.status === 'creating') return keeperAlive || rec.keeperPid === 0 ? 'creating' : 'stopped';
  return keeperAlive ? rec.status : 'stopped';
}

export const canKill = (s: ContainerStatus): boolean => s === 'created' || s === 'running' || s === 'paused';

/** The runtime-spec state as runc prints it (pid 0 once stopped). */
export function toOciState(rec: ContainerRecord, status: ContainerStatus): OciState {
  const state: OciState = {
    ociVersion: rec.ociVersion,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.keeperPid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
  };
  if (rec.annotations && Object.keys(rec.annotations).length) state.annotations = rec.annotations;
  return state;
}
