// The virtio-rng device's part of a VM's state. It has no host-side identity (QEMU's
// stream carries the device), but a VM restored from a template or checkpoint must
// still have it, in the same slot: its presence is the state. The guest's CRNG is
// reseeded by the agent after a restore (docs/protocol/agent.md), not from here.
import type { DevicePart } from '../part';
export interface RngState {
  /** Where QEMU's virtio-rng-device reads: its default backend. */
  backend: 'random';
}

export function rngToState(): RngState {
  return { backend: 'random' };
}

export function rngFromState(s: RngState): RngState {
  return { backend: s.backend };
}

export const rngPart: DevicePart<RngState> = { save: () => rngToState() };
