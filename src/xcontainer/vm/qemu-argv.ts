// Builds the QEMU command line for a container's VM: `-M microvm` with only the
// devices runx uses (virtio-mmio has 8 slots: console port, root disk, rng, NIC, shares).
// Socket and file names are relative: QEMU runs in the container's state directory,
// which keeps unix socket paths short whatever --root is.
import type { Accel } from './accel';
import type { HostShare } from '../../bundle/mount-plan';
import type { GuestNetwork } from '../devices/net/config';
import { deviceArgv } from '../devices';
import { AGENT_SOCKET, CONSOLE_LOG, QMP_SOCKET, ROOT_DISK, optionValue } from './vm-files';
import { ramPadKiB } from './qemu-version';

export { AGENT_SOCKET, CONSOLE_LOG, QMP_SOCKET, ROOT_DISK } from './vm-files';

export interface VmShape {
  memoryMiB: number;
  vcpus: number;
}

export interface QemuLaunch {
  accel: Accel;
  /** The build line of the QEMU that runs it (qemu-build.ts): what it needs differs by version. */
  qemuBuild: string;
  kernel: string;
  initramfs: string;
  shape: VmShape;
  shares: HostShare[];
  network?: GuestNetwork;
  /**
   * Guest RAM in this file instead of anonymous memory (a VM template's, template.ts):
   * share true writes the guest's memory into it (the template's own boot); false maps
   * it copy-on-write, so the pages no VM has written stay one copy in the host's page
   * cache, shared by every VM started from the template.
   */
  ramFile?: { path: string; share: boolean };
}

// reboot=t + -no-reboot: a guest reboot (the agent's way to end the VM) ends QEMU;
// microvm without ACPI cannot power off. panic=-1: a dead agent ends the VM at once.
/** The machine type and options every runx VM uses (recorded in checkpoints). */
export const MACHINE = 'microvm,acpi=off,rtc=on';

export const KERNEL_CMDLINE = 'console=ttyS0 reboot=t panic=-1 quiet';

/** Guest RAM's name in QEMU's migration stream: microvm's own, whatever backs it. */
const RAM_ID = 'microvm.ram';

/**
 * TCG's translation buffer, MiB. QEMU 7.2's default reserves min(1 GiB, host RAM / 8)
 * and keeps every page it has written: a VM started from its template has written
 * ~18 MiB of it once its container runs, a cold boot ~30 MiB, and a busy guest (a JIT,
 * code that changes) grows it towards the full 1 GiB. With a cap, a full buffer is
 * flushed and the code the guest runs is translated again: 64 bounds a busy VM and
 * costs no start anything. Below what a start writes it does: 16 saves 2 MiB per
 * idle container but flushes during start (+80-180 ms per `run true`), 8 makes exec
 * 1.5-2x slower (README, Performance). RUNX_TCG_TB_MIB overrides it (0: QEMU's default).
 */
export const TCG_TB_MIB = 64;

function tcgAccel(): string {
  const env = process.env.RUNX_TCG_TB_MIB;
  const mib = env !== undefined && /^\d+$/.test(env) ? Number(env) : TCG_TB_MIB;
  return mib > 0 ? `tcg,tb-size=${mib}` : 'tcg';
}

/**
 * Guest RAM as QEMU gets it, in KiB (a template's vm.ram has this size too): the shape's,
 * plus the TCG padding that QEMU builds before 9.0 need (qemu-version.ts ramPadKiB).
 */
export function guestRamKiB(shape: VmShape, accel: Accel, qemuBuild: string): number {
  return shape.memoryMiB * 1024 + ramPadKiB(accel, qemuBuild);
}

export function qemuArgv(l: QemuLaunch): string[] {
  const ram = `${guestRamKiB(l.shape, l.accel, l.qemuBuild)}K`;
  const argv = [
    // rtc=on: without it the kernel spends ~1 s failing to read the RTC at boot.
    // acpi=off: the guest kernel has no ACPI; QEMU then lists the virtio-mmio devices
    // on the kernel command line (virtio_mmio.device=...) instead of in ACPI tables.
    '-M', MACHINE,
    '-accel', l.accel === 'tcg' ? tcgAccel() : l.accel,
    '-cpu', l.accel === 'kvm' ? 'host' : 'max',
    '-m', ram,
    // A file-backed RAM keeps microvm's RAM name, so its migration stream (checkpoint,
    // migrate) is that of an anonymous-RAM VM of the same shape.
    ...(l.ramFile ? ['-object', `memory-backend-file,id=${RAM_ID},size=${ram},mem-path=${optionValue(l.ramFile.path)},share=${l.ramFile.share ? 'on' : 'off'}`,
      '-machine', `memory-backend=${RAM_ID}`] : []),
    '-smp', String(l.shape.vcpus),
    '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
    '-kernel', l.kernel,
    '-initrd', l.initramfs,
    '-append', KERNEL_CMDLINE,
    '-chardev', `file,id=con,path=${CONSOLE_LOG}`,
    '-serial', 'chardev:con',
    '-chardev', `socket,id=qmp,path=${QMP_SOCKET}`,
    '-mon', 'chardev=qmp,mode=control',
    '-device', 'virtio-serial-device',
    '-chardev', `socket,id=agent,path=${AGENT_SOCKET}`,
    '-device', 'virtserialport,chardev=agent,name=runx.agent',
    // The disk stays writable even for a read-only root: like runc, the agent makes
    // mount points and /dev nodes first and remounts / read-only at the end.
    '-drive', `id=root,file=${ROOT_DISK},format=raw,if=none,cache=unsafe`,
    '-device', 'virtio-blk-device,drive=root',
    '-device', 'virtio-rng-device',
  ];
  // The devices a launch may or may not have, each from its own folder, in the
  // registry's order (devices/index.ts: the virtio-mmio slots they take).
  argv.push(...deviceArgv(l));
  return argv;
}

const MiB = 1024 * 1024;
export const DEFAULT_SHAPE: VmShape = { memoryMiB: 256, vcpus: 1 };

/** VM size from linux.resources: memory.limit (bytes) and cpu quota/period or cpuset. */
export function shapeFromResources(resources: { memory?: { limit?: number }; cpu?: { quota?: number; period?: number; cpus?: string } } | undefined, hostCpus: number): VmShape {
  let memoryMiB = DEFAULT_SHAPE.memoryMiB;
  const limit = resources?.memory?.limit;
  // The guest kernel and agent need ~40 MiB of their own on top of the container's limit.
  if (limit && limit > 0) memoryMiB = Math.max(96, Math.ceil(limit / MiB) + 48);
  let vcpus = DEFAULT_SHAPE.vcpus;
  const cpu = resources?.cpu;
  if (cpu?.quota && cpu.quota > 0) vcpus = Math.ceil(cpu.quota / (cpu.period && cpu.period > 0 ? cpu.period : 100_000));
  else if (cpu?.cpus) vcpus = countCpuset(cpu.cpus);
  vcpus = Math.max(1, Math.min(vcpus, hostCpus));
  return { memoryMiB, vcpus };
}

export function countCpuset(cpus: string): number {
  let n = 0;
  for (const part of cpus.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : Math.max(0, b - a! + 1);
  }
  return n || 1;
}
