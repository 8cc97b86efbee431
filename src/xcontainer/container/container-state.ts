// `state` and `list`: read records, correcting stale ones (keeper gone) to stopped. A
// record that cannot be read is listed as "unknown", with a warning, never hidden:
// `delete --force` is how it goes.
import type { OciState } from '../../bundle/spec-types';
import { log } from '../../log';
import { toOciState } from '../state/container-record';
import type { RuntimeOptions } from './runtime-options';
import { CorruptStateError, StateStore } from '../state/state-store';

/** A listed container: its state, or "unknown" for one whose state.json is unreadable. */
export type ListedState = OciState | (Omit<OciState, 'status'> & { status: 'unknown' });

export function containerState(id: string, runtime: RuntimeOptions): OciState {
  const { rec, status } = new StateStore(runtime.root).readLive(id);
  return toOciState(rec, status);
}

export function listContainers(runtime: RuntimeOptions): ListedState[] {
  const store = new StateStore(runtime.root);
  const out: ListedState[] = [];
  for (const id of store.ids()) {
    try {
      out.push(containerState(id, runtime));
    } catch (err) {
      if (!(err instanceof CorruptStateError)) continue; // deleted while we listed
      log().warn(`${err.message}; listed as unknown (runx delete --force ${id} removes it)`);
      out.push({ ociVersion: '', id, pid: 0, status: 'unknown', bundle: '', rootfs: '', created: '', owner: '' });
    }
  }
  return out;
}
