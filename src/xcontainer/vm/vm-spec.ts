// The immutable half of a VM's state model: what the VM is (QEMU build, accelerator,
// CPU model, machine, kernel and initramfs, shape), derived once when it comes into
// being (provision) and written once to <state dir>/vm-spec.json, never rewritten. A
// saved VM only loads where all of it matches; checkpoint manifests, migration
// Prepare requests and template keys take these fields from here.
import fs from 'node:fs';
import path from 'node:path';
import type { Accel } from './accel';
import { KERNEL_CMDLINE, MACHINE, type VmShape } from './qemu-argv';
import { qemuBuild } from './qemu-build';

export const VM_SPEC_FILE = 'vm-spec.json';
export const VM_SPEC_FORMAT = 1;

export interface VmSpec {
  format: typeof VM_SPEC_FORMAT;
  qemuBinary: string;
  /** `qemu --version`'s first line: a state stream loads only into the same build. */
  qemuBuild: string;
  accel: Accel;
  cpu: string;
  machine: string;
  kernelCmdline: string;
  kernel: string;
  initramfs: string;
  shape: VmShape;
}

/** The CPU model QEMU gives the guest: the host's under KVM, QEMU's `max` under TCG. */
export function cpuModelOf(accel: Accel): string {
  return accel === 'kvm' ? 'host' : 'max';
}

export interface VmSpecInputs {
  qemuBinary: string;
  accel: Accel;
  kernel: string;
  initramfs: string;
  shape: VmShape;
}

/** Derives the spec; `build` is looked up (cached) unless given. */
export function deriveVmSpec(i: VmSpecInputs, build: string = qemuBuild(i.qemuBinary)): VmSpec {
  return {
    format: VM_SPEC_FORMAT, qemuBinary: i.qemuBinary, qemuBuild: build, accel: i.accel, cpu: cpuModelOf(i.accel),
    machine: MACHINE, kernelCmdline: KERNEL_CMDLINE, kernel: i.kernel, initramfs: i.initramfs, shape: { ...i.shape },
  };
}

/** Writes the spec once: a second write of the same VM's spec is a bug, and fails. */
export function writeVmSpec(dir: string, spec: VmSpec): void {
  const fd = fs.openSync(path.join(dir, VM_SPEC_FILE), 'wx', 0o644);
  try {
    fs.writeSync(fd, `${JSON.stringify(spec)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The spec of the VM in state dir `dir`; undefined if it has none (yet). */
export function readVmSpec(dir: string): VmSpec | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, VM_SPEC_FILE), 'utf8')) as VmSpec;
  } catch {
    return undefined;
  }
}
