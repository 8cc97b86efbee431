// The VM's part of a migration's Prepare request, from its state model (spec and
// state, src/xcontainer/vm): what the destination checks (QEMU build, CPU model,
// accelerator, memory, disk, shares) and rebuilds (shape, disk size, NIC identity).
import fs from 'node:fs';
import type { VmSpec, VmState } from '../xcontainer';
import type { PrepareRequest } from './proto';

/** What the destination must make for a bind: the source, as the staging helper sees it (stat). */
function bindKind(source: string): string {
  try {
    return fs.statSync(source).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'dir';
  }
}

export type PrepareVm = Pick<PrepareRequest, 'qemuBuild' | 'accel' | 'cpu' | 'memoryMib' | 'vcpus' | 'diskBytes' | 'sharePaths' | 'nic' | 'carryBytes' | 'carriedKinds' | 'agentProtocol'>;

export function prepareVmOf(spec: VmSpec, state: VmState): PrepareVm {
  const net = state.devices.net;
  return {
    qemuBuild: spec.qemuBuild,
    accel: spec.accel,
    cpu: spec.cpu,
    memoryMib: spec.shape.memoryMiB,
    vcpus: spec.shape.vcpus,
    diskBytes: state.devices.block.bytes,
    // Never a host path: the destination places the carried binds itself (wire-shares.ts).
    sharePaths: [],
    // Absent from a state saved before carry disks existed: none.
    carryBytes: state.devices.carry?.bytes ?? 0,
    carriedKinds: state.devices.shares.flatMap((s) => s.binds ?? []).map((b) => bindKind(b.source)),
    agentProtocol: state.agent.protocol,
    nic: net ? { mac: net.mac, cidr: net.cidr ?? '', gateway: net.gateway ?? '', mtu: net.mtu, netnsPath: net.netnsPath } : null,
  };
}
