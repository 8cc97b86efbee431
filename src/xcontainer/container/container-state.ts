// `state` and `list`: read records, correcting stale ones (keeper gone) to stopped.
import type { OciState } from '../../bundle/spec-types';
import { toOciState } from '../state/container-record';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from '../state/state-store';

export function containerState(id: string, runtime: RuntimeOptions): OciState {
  const { rec, status } = new StateStore(runtime.root).readLive(id);
  return toOciState(rec, status);
}

export function listContainers(runtime: RuntimeOptions): OciState[] {
  const store = new StateStore(runtime.root);
  const out: OciState[] = [];
  for (const id of store.ids()) {
    try {
      out.push(containerState(id, runtime));
    } catch { /* deleted while we listed */ }
  }
  return out;
}
