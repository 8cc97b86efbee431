// The devices of a VM, by the key each has in vm-state.json's "devices": what each
// saves of the VM's state (vm/vm-state.ts), and, for those a launch may or may not
// have, its QEMU arguments (vm/qemu-argv.ts keeps the fixed ones: console port, root
// disk, rng). A new device adds its part (devices/<kind>/persist.ts) here. The order
// is the argv's, so the virtio-mmio slots: a device added last leaves the others'
// slots as a VM without it has them (a template's, a migration's other end).
import { blockPart } from './block/persist';
import { carryPart } from './carry/persist';
import { consolePart } from './console/persist';
import { netPart } from './net/persist';
import type { DeviceContext, DevicePart, RestoredDevices } from './part';
import { rngPart } from './rng/persist';
import { sharesPart } from './share/persist';

export const DEVICE_PARTS = {
  block: blockPart,
  net: netPart,
  shares: sharesPart,
  carry: carryPart,
  rng: rngPart,
  console: consolePart,
} as const;

type Parts = typeof DEVICE_PARTS;
type StateOf<P> = P extends DevicePart<infer S> ? S : never;

/** Each device's saved state, by its key. */
export type VmDeviceStates = { [K in keyof Parts]: StateOf<Parts[K]> };

const KEYS = Object.keys(DEVICE_PARTS) as Array<keyof Parts>;

/** The QEMU arguments of the launch's optional devices, in slot order. */
export function deviceArgv(qemu: DeviceContext['qemu']): string[] {
  return KEYS.flatMap((k) => (DEVICE_PARTS[k] as DevicePart<unknown>).argv?.(qemu) ?? []);
}

export function saveDevices(ctx: DeviceContext): VmDeviceStates {
  const out: Partial<Record<keyof Parts, unknown>> = {};
  for (const k of KEYS) out[k] = (DEVICE_PARTS[k] as DevicePart<unknown>).save(ctx);
  return out as VmDeviceStates;
}

/** What the saved devices give back to a launch (a device with no restore gives nothing). */
export function restoreDevices(s: VmDeviceStates): RestoredDevices {
  let out: RestoredDevices = { shares: [] };
  for (const k of KEYS) {
    const part = DEVICE_PARTS[k] as DevicePart<unknown>;
    if (part.restore) out = { ...out, ...part.restore(s[k]) };
  }
  return out;
}
