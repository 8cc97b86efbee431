// The virtio-9p shares' part of a VM's state: each bind-mounted host directory with
// its mount tag. The guest's mounts name the tags, so a VM loaded from a saved state
// needs the same shares, in the same order, in the same virtio-mmio slots.
import type { HostShare } from '../../../bundle/mount-plan';

export interface ShareState {
  tag: string;
  hostPath: string;
  readonly: boolean;
}

export function sharesToState(shares: readonly HostShare[]): ShareState[] {
  return shares.map((s) => ({ tag: s.tag, hostPath: s.hostPath, readonly: s.readonly }));
}

export function sharesFromState(s: readonly ShareState[]): HostShare[] {
  return s.map((x) => ({ tag: x.tag, hostPath: x.hostPath, readonly: x.readonly }));
}
