// Builds the QEMU command line for a container's VM: `-M microvm` with only the
// devices runx uses (virtio-mmio has 8 slots: console port, root disk, rng, shares).
// Socket and file names are relative: QEMU runs in the container's state directory,
// which keeps unix socket paths short whatever --root is.
import type { Accel } from './accel';
import type { HostShare } from '../bundle/mount-plan';
import { type GuestNetwork, netArgs } from './devices/net/config';

export const AGENT_SOCKET = 'agent.sock';
export const QMP_SOCKET = 'qmp.sock';
export const CONSOLE_LOG = 'console.log';
export const ROOT_DISK = 'rootfs.ext4';

export interface VmShape {
  memoryMiB: number;
  vcpus: number;
}

export interface QemuLaunch {
  accel: Accel;
  kernel: string;
  initramfs: string;
  shape: VmShape;
  shares: HostShare[];
  network?: GuestNetwork;
}

// reboot=t + -no-reboot: a guest reboot (the agent's way to end the VM) ends QEMU;
// microvm without ACPI cannot power off. panic=-1: a dead agent ends the VM at once.
/** The machine type and options every runx VM uses (recorded in checkpoints). */
export const MACHINE = 'microvm,acpi=off,rtc=on';

export const KERNEL_CMDLINE = 'console=ttyS0 reboot=t panic=-1 quiet';

export function qemuArgv(l: QemuLaunch): string[] {
  const argv = [
    // rtc=on: without it the kernel spends ~1 s failing to read the RTC at boot.
    // acpi=off: the guest kernel has no ACPI; QEMU then lists the virtio-mmio devices
    // on the kernel command line (virtio_mmio.device=...) instead of in ACPI tables.
    '-M', MACHINE,
    '-accel', l.accel,
    '-cpu', l.accel === 'kvm' ? 'host' : 'max',
    '-m', `${l.shape.memoryMiB}M`,
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
  if (l.network) argv.push(...netArgs(l.network));
  for (const s of l.shares) {
    argv.push('-fsdev', `local,id=${s.tag},path=${s.hostPath},security_model=passthrough${s.readonly ? ',readonly=on' : ''}`);
    argv.push('-device', `virtio-9p-device,fsdev=${s.tag},mount_tag=${s.tag}`);
  }
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
