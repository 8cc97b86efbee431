// `ps --format json`: the host processes that make up the container, as containerd's
// shim expects from runc (a JSON array of pids): the keeper and its QEMU.
import { containerNotRunning } from '../errors';
import { isSameProcessAlive } from './host';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from './state-store';

export function containerHostPids(id: string, runtime: RuntimeOptions): number[] {
  const { rec, status } = new StateStore(runtime.root).readLive(id);
  if (status === 'stopped') return [];
  if (status === 'creating') throw containerNotRunning(id);
  const pids = [rec.keeperPid];
  if (rec.qemuPid && isSameProcessAlive(rec.qemuPid, rec.qemuStartTime)) pids.push(rec.qemuPid);
  return pids;
}
