// What a device contributes to a VM: its QEMU arguments (vm/qemu-argv.ts), the part
// of the VM's state model it saves (vm/vm-state.ts), taken from the VM's state dir and
// its QEMU launch, and what of the launch that state gives back on a restore or a
// migration. Each device defines its own in devices/<kind>/persist.ts; devices/index.ts
// lists them, so a new device touches its folder and that list only.
import type { HostShare } from '../../bundle/mount-plan';
import type { GuestNetwork } from './net/config';
import type { QemuLaunch } from '../vm/qemu-argv';

/** Where a device's state comes from: the state dir and the launch's QEMU devices. */
export interface DeviceContext {
  dir: string;
  qemu: Pick<QemuLaunch, 'network' | 'shares'>;
}

/** The QEMU devices a saved state gives back to a launch. */
export interface RestoredDevices {
  network?: GuestNetwork;
  shares: HostShare[];
}

export interface DevicePart<S> {
  /** Its QEMU arguments for this launch (none when the launch has no such device); none for a device whose argv is fixed in qemu-argv.ts. */
  argv?(qemu: DeviceContext['qemu']): string[];
  save(ctx: DeviceContext): S;
  /** What of a launch's devices this state restores; none for a device whose argv is fixed. */
  restore?(s: S): Partial<RestoredDevices>;
}
