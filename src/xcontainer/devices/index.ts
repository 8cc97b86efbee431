// The devices whose state a VM's state model holds (vm/vm-state.ts), by the key each
// has in vm-state.json's "devices". A new device adds its part (devices/<kind>/persist.ts)
// here; its QEMU argv is still vm/qemu-argv.ts's (slot order is fixed there).
import { blockPart } from './block/persist';
import { consolePart } from './console/persist';
import { netPart } from './net/persist';
import type { DeviceContext, DevicePart, RestoredDevices } from './part';
import { rngPart } from './rng/persist';
import { sharesPart } from './share/persist';

export const DEVICE_PARTS = {
  block: blockPart,
  net: netPart,
  shares: sharesPart,
  rng: rngPart,
  console: consolePart,
} as const;

type Parts = typeof DEVICE_PARTS;
type StateOf<P> = P extends DevicePart<infer S> ? S : never;

/** Each device's saved state, by its key. */
export type VmDeviceStates = { [K in keyof Parts]: StateOf<Parts[K]> };

const KEYS = Object.keys(DEVICE_PARTS) as Array<keyof Parts>;

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
