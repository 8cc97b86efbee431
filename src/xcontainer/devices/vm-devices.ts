// Which optional devices a VM has, as one small value: a VM started from a template
// must have the template's devices in the same virtio-mmio slots, so templates are
// keyed and listed by it. The devices themselves (argv, state) live in devices/<kind>.
import type { HostShare } from '../../bundle/mount-plan';
import type { GuestNetwork } from './net/config';
import { hasCarryDisk } from './carry/config';

/** The devices a VM has beyond the fixed ones (console port, disk, rng). */
export interface VmDevices {
  nic: boolean;
  /** virtio-9p shares, tags shareTag(0..shares-1). */
  shares: number;
  /** A carry disk (devices/carry): the second virtio-blk, after the shares. */
  carry?: boolean;
}

export const NO_DEVICES: VmDevices = { nic: false, shares: 0 };

export function vmDevicesOf(l: { network: GuestNetwork | undefined; shares: readonly HostShare[] }): VmDevices {
  return { nic: l.network !== undefined, shares: l.shares.length, ...(hasCarryDisk(l.shares) ? { carry: true } : {}) };
}

/** For keys and listings: "none", "nic", "9p×2", "nic+9p×2", "9p×1+carry". */
export function describeDevices(d: VmDevices): string {
  return [d.nic && 'nic', d.shares > 0 && `9p×${d.shares}`, d.carry === true && 'carry'].filter(Boolean).join('+') || 'none';
}
