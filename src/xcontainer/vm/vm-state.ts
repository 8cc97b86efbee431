// The mutable half of a VM's state model: its devices (disk, NIC with its identity,
// shares, rng, console, agent session; each saves and restores itself in
// devices/<dev>/persist.ts), where it came from (a boot, a template, a checkpoint, an
// incoming migration), and the agent protocol. Only the VM's keeper writes it, whole
// and atomically, to <state dir>/vm-state.json, whenever it changes (a template boot
// done, a NIC released or taken back). launch.json stays what its starter handed the
// keeper. Others read {spec, state} with readVm().
import fs from 'node:fs';
import path from 'node:path';
import { type AgentSessionState, agentFromState, agentToState } from '../devices/agent/persist';
import { blockToState } from '../devices/block/persist';
import { type VmDeviceStates, restoreDevices, saveDevices } from '../devices';
import type { RestoredDevices } from '../devices/part';
import { LAUNCH_FILE, type KeeperLaunch } from '../keeper/keeper-launch';
import { writeFileAtomic } from '../state/state-store';
import type { VmDevices } from '../devices/vm-devices';
import type { IncomingEndpoints } from './vm-migration';
import { type VmSpec, deriveVmSpec, readVmSpec } from './vm-spec';

export const VM_STATE_RECORD = 'vm-state.json';
export const VM_STATE_FORMAT = 1;

export type { VmDeviceStates } from '../devices';

/** How QEMU starts, or started, this VM. */
export type OriginState =
  | { kind: 'boot' }
  | { kind: 'template'; stateFile: string; diskBytes: number }
  | { kind: 'checkpoint'; stateFile: string; status: 'created' | 'running' }
  | { kind: 'incoming'; endpoints: IncomingEndpoints };

export interface VmState {
  format: typeof VM_STATE_FORMAT;
  devices: VmDeviceStates;
  origin: OriginState;
  agent: AgentSessionState;
}

/** The keeper's launch as it stands, as state: what a checkpoint or a migration carries. */
export function vmStateOf(dir: string, launch: KeeperLaunch): VmState {
  return {
    format: VM_STATE_FORMAT,
    devices: saveDevices({ dir, qemu: launch.qemu }),
    origin: originOf(launch),
    agent: agentToState(),
  };
}

function originOf(l: KeeperLaunch): OriginState {
  if (l.incoming) return { kind: 'incoming', endpoints: l.incoming };
  if (l.restore) return { kind: 'checkpoint', stateFile: l.restore.stateFile, status: l.restore.status };
  if (l.template) return { kind: 'template', stateFile: l.template.stateFile, diskBytes: l.template.diskBytes };
  return { kind: 'boot' };
}

/** What of a launch the state restores: the devices QEMU gets and how it starts. */
export interface RestoredVm extends RestoredDevices {
  restore?: KeeperLaunch['restore'];
  template?: KeeperLaunch['template'];
  incoming?: IncomingEndpoints;
}

/** The inverse of vmStateOf, for the parts the state holds; refuses another agent protocol. */
export function vmFromState(s: VmState, what: string): RestoredVm {
  agentFromState(s.agent, what);
  const o = s.origin;
  return {
    ...restoreDevices(s.devices),
    ...(o.kind === 'checkpoint' ? { restore: { stateFile: o.stateFile, status: o.status } } : {}),
    ...(o.kind === 'template' ? { template: { stateFile: o.stateFile, diskBytes: o.diskBytes } } : {}),
    ...(o.kind === 'incoming' ? { incoming: o.endpoints } : {}),
  };
}

/** The devices beyond the fixed ones, as a template must match them. */
export function devicesOf(s: VmState): VmDevices {
  const carry = (s.devices.carry?.bytes ?? 0) > 0;
  return { nic: s.devices.net !== undefined, shares: s.devices.shares.length, ...(carry ? { carry: true } : {}) };
}

/** The keeper's write: whole, atomic (temp file, fsync, rename). */
export function saveVmState(dir: string, state: VmState): void {
  writeFileAtomic(path.join(dir, VM_STATE_RECORD), `${JSON.stringify(state)}\n`);
}

/**
 * The VM model of the container in state dir `dir`. Before its keeper has written its
 * state (or for a container made by a runx before this file existed) it is derived
 * from launch.json, as the keeper would write it.
 */
export function readVm(dir: string): { spec: VmSpec; state: VmState; launch: KeeperLaunch } {
  const launch = JSON.parse(fs.readFileSync(path.join(dir, LAUNCH_FILE), 'utf8')) as KeeperLaunch;
  const spec = readVmSpec(dir) ?? deriveVmSpec({ qemuBinary: launch.qemuBinary, ...launch.qemu });
  let state: VmState;
  try {
    state = JSON.parse(fs.readFileSync(path.join(dir, VM_STATE_RECORD), 'utf8')) as VmState;
  } catch {
    state = vmStateOf(dir, launch);
  }
  // The disk file is the truth of its size.
  return { spec, state: { ...state, devices: { ...state.devices, block: blockToState(dir) } }, launch };
}
