// The VM's part of a migration's Prepare request, from its state model (spec and
// state, src/xcontainer/vm): what the destination checks (QEMU build, CPU model,
// accelerator, memory, disk, shares) and rebuilds (shape, disk size, NIC identity).
import type { VmSpec, VmState } from '../xcontainer';
import type { PrepareRequest } from './proto';

export type PrepareVm = Pick<PrepareRequest, 'qemuBuild' | 'accel' | 'cpu' | 'memoryMib' | 'vcpus' | 'diskBytes' | 'sharePaths' | 'nic'>;

export function prepareVmOf(spec: VmSpec, state: VmState): PrepareVm {
  const net = state.devices.net;
  return {
    qemuBuild: spec.qemuBuild,
    accel: spec.accel,
    cpu: spec.cpu,
    memoryMib: spec.shape.memoryMiB,
    vcpus: spec.shape.vcpus,
    diskBytes: state.devices.block.bytes,
    sharePaths: state.devices.shares.map((s) => s.hostPath),
    nic: net ? { mac: net.mac, cidr: net.cidr ?? '', gateway: net.gateway ?? '', mtu: net.mtu, netnsPath: net.netnsPath } : null,
  };
}
