// Capability names → bit numbers (linux/capability.h, in number order), and the five
// process.capabilities sets as 64-bit masks for the agent. The names are checked here,
// so a typo is a create error naming the field instead of a silently missing cap.
import { ConfigError } from '../errors';
import type { SpecCapabilities } from './spec-types';

export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

const CAP_NUMBER = new Map(CAPABILITY_NAMES.map((n, i) => [n, i]));

export const CAPABILITY_SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;
export type CapabilitySet = (typeof CAPABILITY_SETS)[number];

/** Throws ConfigError for the first unknown name (runc: "unknown capability"). */
export function validateCapabilities(caps: SpecCapabilities | undefined): void {
  for (const set of CAPABILITY_SETS) {
    for (const [i, name] of (caps?.[set] ?? []).entries()) {
      if (!CAP_NUMBER.has(name)) {
        throw new ConfigError(`process.capabilities.${set}[${i}]`, `config.json: process.capabilities.${set}[${i}]: unknown capability "${name}"`);
      }
    }
  }
}

/** A set as a decimal 64-bit mask (bit N = capability N); unknown names throw. */
export function capabilityMask(names: readonly string[] | undefined): string {
  let mask = 0n;
  for (const name of names ?? []) {
    const n = CAP_NUMBER.get(name);
    if (n === undefined) throw new ConfigError('process.capabilities', `config.json: unknown capability "${name}"`);
    mask |= 1n << BigInt(n);
  }
  return mask.toString();
}
