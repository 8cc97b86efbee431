// The virtio-9p shares' part of a VM's state: each share's mount tag and directory,
// and for a container's share the binds staged in it (devices/share/config.ts). The guest's mounts name the tags, so a VM loaded from a saved state
// needs the same shares, in the same order, in the same virtio-mmio slots.
import type { HostShare, StagedBind } from '../../../bundle/mount-plan';
import type { DevicePart } from '../part';
import { optionValue } from '../../vm/vm-files';

export interface ShareState {
  tag: string;
  hostPath: string;
  readonly: boolean;
  binds?: StagedBind[];
}

export function sharesToState(shares: readonly HostShare[]): ShareState[] {
  return shares.map((s) => ({ tag: s.tag, hostPath: s.hostPath, readonly: s.readonly, ...(s.binds ? { binds: s.binds } : {}) }));
}

export function sharesFromState(s: readonly ShareState[]): HostShare[] {
  return s.map((x) => ({ tag: x.tag, hostPath: x.hostPath, readonly: x.readonly, ...(x.binds ? { binds: x.binds } : {}) }));
}

export const sharesPart: DevicePart<ShareState[]> = {
  // The path is runx's own (devices/share), escaped all the same. multidevs=remap: a
  // container's share spans the filesystems its sources are on, whose inode numbers
  // would otherwise collide in the guest.
  argv: ({ shares }) => shares.flatMap((s) => [
    '-fsdev', `local,id=${s.tag},path=${optionValue(s.hostPath)},security_model=passthrough,multidevs=remap${s.readonly ? ',readonly=on' : ''}`,
    '-device', `virtio-9p-device,fsdev=${s.tag},mount_tag=${s.tag}`,
  ]),
  save: ({ qemu }) => sharesToState(qemu.shares),
  restore: (s) => ({ shares: sharesFromState(s) }),
};
