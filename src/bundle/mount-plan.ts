// Turns the config's mounts into what the guest agent executes: MS_* flags and a data
// string per mount, and virtio-9p shares for bind mounts of host paths. The agent then
// parses no option strings; this is the one place that knows mount(8) option names.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';
import type { SpecMount } from './spec-types';

// Linux <sys/mount.h> values (x86_64 ABI, stable).
const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64,
  DIRSYNC: 128, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, REC: 16384, SILENT: 32768,
  RELATIME: 1 << 21, STRICTATIME: 1 << 24, LAZYTIME: 1 << 25,
} as const;

/** option → [flags to set, flags to clear] */
const FLAG_OPTIONS: Record<string, [number, number]> = {
  ro: [MS.RDONLY, 0], rw: [0, MS.RDONLY],
  nosuid: [MS.NOSUID, 0], suid: [0, MS.NOSUID],
  nodev: [MS.NODEV, 0], dev: [0, MS.NODEV],
  noexec: [MS.NOEXEC, 0], exec: [0, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0], async: [0, MS.SYNCHRONOUS],
  remount: [MS.REMOUNT, 0],
  mand: [MS.MANDLOCK, 0], nomand: [0, MS.MANDLOCK],
  dirsync: [MS.DIRSYNC, 0],
  noatime: [MS.NOATIME, 0], atime: [0, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0], diratime: [0, MS.NODIRATIME],
  bind: [MS.BIND, 0], rbind: [MS.BIND | MS.REC, 0],
  relatime: [MS.RELATIME, 0], norelatime: [0, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0], nostrictatime: [0, MS.STRICTATIME],
  lazytime: [MS.LAZYTIME, 0], nolazytime: [0, MS.LAZYTIME],
  silent: [MS.SILENT, 0], loud: [0, MS.SILENT],
};

// Propagation options are accepted; inside a VM that owns its whole mount tree there
// is no host namespace to propagate to, so they change nothing.
const PROPAGATION = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']);

/** Every mount option name runx understands (for `runx features`). */
export function knownMountOptions(): string[] {
  return [...Object.keys(FLAG_OPTIONS), ...PROPAGATION].sort();
}

/** Most virtio-mmio slots a microvm has (8) minus console, disk, rng and a NIC. */
export const MAX_SHARES = 4;

/**
 * The mount tag of a VM's i-th share. By position, not by host path: a VM template
 * with n shares has the tags of every container with n shares (template.ts).
 */
export function shareTag(i: number): string {
  return `runx${i}`;
}

export interface GuestMount {
  dest: string;
  type: string;
  source: string;
  flags: number;
  data: string;
}

export interface HostShare {
  /** virtio-9p mount tag; the agent mounts it at /mnt/share/<tag>. */
  tag: string;
  hostPath: string;
  readonly: boolean;
}

export interface MountPlan {
  mounts: GuestMount[];
  shares: HostShare[];
}

export function parseOptions(options: readonly string[]): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const opt of options) {
    const known = FLAG_OPTIONS[opt];
    if (known) {
      flags = (flags | known[0]) & ~known[1];
    } else if (!PROPAGATION.has(opt)) {
      data.push(opt);
    }
  }
  return { flags, data: data.join(',') };
}

function isBind(m: SpecMount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/** Builds the plan; host sources of bind mounts are resolved against the bundle dir. */
export function planMounts(mounts: readonly SpecMount[], bundleDir: string): MountPlan {
  const plan: MountPlan = { mounts: [], shares: [] };
  const shareByDir = new Map<string, HostShare>();
  mounts.forEach((m, i) => {
    const { flags, data } = parseOptions(m.options ?? []);
    if (!isBind(m)) {
      // The guest kernel mounts the unified hierarchy: a v1 `cgroup` mount with no
      // controllers named would grab them all into one v1 hierarchy instead.
      const type = m.type === 'cgroup' ? 'cgroup2' : (m.type ?? 'none');
      plan.mounts.push({ dest: m.destination, type, source: m.source ?? type, flags, data: type === 'cgroup2' ? '' : data });
      return;
    }
    if (!m.source) throw new ConfigError(`mounts[${i}].source`, `config.json: mounts[${i}].source is required for a bind mount`);
    const hostPath = path.resolve(bundleDir, m.source);
    let st: fs.Stats;
    try {
      st = fs.statSync(hostPath);
    } catch {
      throw new ConfigError(`mounts[${i}].source`, `config.json: mounts[${i}].source "${m.source}" does not exist`);
    }
    // A file is shared through its directory and bound from inside the share.
    const dir = st.isDirectory() ? hostPath : path.dirname(hostPath);
    let share = shareByDir.get(dir);
    if (!share) {
      if (shareByDir.size >= MAX_SHARES) {
        throw new ConfigError(`mounts[${i}]`, `config.json: mounts[${i}]: more than ${MAX_SHARES} distinct host directories are bind-mounted; runx shares at most ${MAX_SHARES} with a VM`);
      }
      share = { tag: shareTag(shareByDir.size), hostPath: dir, readonly: false };
      shareByDir.set(dir, share);
    }
    const inside = st.isDirectory() ? '' : `/${path.basename(hostPath)}`;
    plan.mounts.push({ dest: m.destination, type: 'bind', source: `/mnt/share/${share.tag}${inside}`, flags: flags | MS.BIND, data: '' });
  });
  plan.shares = [...shareByDir.values()];
  return plan;
}
