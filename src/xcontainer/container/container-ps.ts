// `ps`: for --format json, the host processes that make up the container, as
// containerd's shim expects from runc (a JSON array of pids): the keeper and its QEMU.
// For the table, the guest's own process table, from the agent.
import { RunxError, containerNotRunning } from '../../errors';
import { isSameProcessAlive } from '../host/host';
import { callKeeper } from '../keeper/keeper-client';
import { KEEPER_SOCKET } from '../keeper/keeper-launch';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from '../state/state-store';

export interface GuestProcess {
  pid: number;
  ppid: number;
  uid: number;
  state: string;
  cmd: string;
}

export function containerHostPids(id: string, runtime: RuntimeOptions): number[] {
  const { rec, status } = new StateStore(runtime.root).readLive(id);
  if (status === 'stopped') return [];
  if (status === 'creating') throw containerNotRunning(id);
  const pids = [rec.keeperPid];
  if (rec.qemuPid && isSameProcessAlive(rec.qemuPid, rec.qemuStartTime)) pids.push(rec.qemuPid);
  return pids;
}

/** The processes inside the container's VM (guest pids). */
export async function containerGuestProcesses(id: string, runtime: RuntimeOptions): Promise<GuestProcess[]> {
  const store = new StateStore(runtime.root);
  const { status } = store.readLive(id);
  if (status === 'stopped' || status === 'creating') throw containerNotRunning(id);
  if (status === 'paused') throw new RunxError('ESTATE', `container "${id}" is paused: its processes cannot be listed`);
  return (await callKeeper(store.file(id, KEEPER_SOCKET), 'ps', {})).map(parseProc);
}

function parseProc(field: string): GuestProcess {
  const [pid, ppid, uid, state, ...cmd] = field.split(':');
  return { pid: Number(pid), ppid: Number(ppid), uid: Number(uid), state: state ?? '?', cmd: cmd.join(':') };
}
