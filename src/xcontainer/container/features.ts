// `runx features`: the runtime-spec features document (features.md), telling the
// truth about this runx: what it validates, runs and refuses.
import { CAPABILITY_NAMES } from '../../bundle/capabilities';
import { knownMountOptions } from '../../bundle/mount-plan';
import { chooseAccel } from '../vm/accel';
import type { RuntimeOptions } from './runtime-options';

export function runtimeFeatures(runtime: RuntimeOptions, version: string): Record<string, unknown> {
  let accel = 'unknown';
  try {
    accel = chooseAccel(runtime.accel).accel;
  } catch { /* --accel kvm where KVM cannot run: say unknown */ }
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.0.2',
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: knownMountOptions(),
    linux: {
      // Created inside the guest (network: the VM's own stack, with a path the VM's NIC
      // takes over the namespace's interface). user and time are accepted, not created.
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts'],
      capabilities: CAPABILITY_NAMES,
      // The host cgroup of the keeper and QEMU (host-cgroup.ts): v1, hybrid and v2
      // layouts, and --systemd-cgroup's slice:prefix:name form (made directly in the
      // cgroup file system, as systemd would name it; systemd itself is not asked).
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP'],
        operators: ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE'],
        archs: ['SCMP_ARCH_X86_64'],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: {
      'org.opencontainers.runx.version': version,
      'io.runx.accel': accel,
      'io.runx.boot': runtime.boot,
      'io.runx.checkpoint.enabled': 'true',
      'io.runx.migration.enabled': 'true',
      // Applied to the container's cgroup (v2) in the guest kernel, at create and by `update`.
      'io.runx.resources.guest': 'memory.limit,memory.reservation,memory.swap,pids.limit,cpu.shares,cpu.quota,cpu.period',
    },
  };
}
