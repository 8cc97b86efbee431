// Turns the config's mounts into what the guest agent executes: MS_* flags and a data
// string per mount, and the host paths of bind mounts, each a slot of the container's
// one virtio-9p share (staged on the host: src/xcontainer/devices/share). The agent then
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
  UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19, SHARED: 1 << 20,
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

// Propagation options, sent apart from the mount's flags (mount.prop): MS_REC means
// "recursive bind" among the flags and "the whole subtree" here, and the agent applies
// the propagation with its own mount(2) call after the mount, as runc does. The guest's
// mounts have no peers on the host, but they do among themselves: a shared mount's
// bind copies receive what is mounted under it, and an unbindable one cannot be bound.
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/**
 * linux.rootfsPropagation as MS_* flags for the container's "/" (0: not given). The
 * schema allows exactly the mount option names.
 */
export function rootfsPropagationFlags(value: string | undefined): number {
  return value === undefined ? 0 : PROPAGATION[value] ?? 0;
}

/** Every mount option name runx understands (for `runx features`). */
export function knownMountOptions(): string[] {
  return [...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION)].sort();
}

/**
 * Most virtio-9p devices a VM may have (virtio-mmio has 8 slots: console port, disk,
 * rng, NIC, shares). A container needs one at most, whatever its bind mounts: they are
 * all staged into it (devices/share).
 */
export const MAX_SHARES = 4;

/**
 * Bind mounts one container may have: each is a slot of its one share, staged on the
 * host by one mount; the bound is only there so a config cannot ask for millions.
 */
export const MAX_BINDS = 1024;

/**
 * The mount tag of a VM's i-th share. By position, not by host path: a VM template
 * with n shares has the tags of every container with n shares (template.ts).
 */
export function shareTag(i: number): string {
  return `runx${i}`;
}

/** The one share a container's bind mounts are staged into. */
export const BIND_SHARE_TAG = shareTag(0);

export interface GuestMount {
  dest: string;
  type: string;
  source: string;
  flags: number;
  data: string;
  /** MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (| MS_REC) applied after the mount; 0: none. */
  prop: number;
}

/** A host path bind-mounted into the container: slot i of its share is binds[i]. */
export interface StagedBind {
  /** Absolute, symlinks resolved: exactly what is bound, a file or a directory. */
  source: string;
  /**
   * Copied onto the VM's carry disk at create and written back at the container's end,
   * so it moves with the VM (docs/mounts.md); false: a live host share, which blocks
   * checkpoint and migration while the container runs (LIVE_SHARE_ANNOTATION).
   * Absent in a state written before carried mounts existed: a live share.
   */
  carried?: boolean;
  /** The container path, to name the mount in a refusal. */
  destination?: string;
  /** Read-only on the host side too (the staging bind is read-only). */
  readonly: boolean;
  /** rbind: the source's submounts come along (and are read-only too if it is). */
  recursive: boolean;
}

export interface HostShare {
  /** virtio-9p mount tag; the agent mounts it at /mnt/share/<tag>. */
  tag: string;
  /** The directory QEMU exports: a runx-made one, never a path from a config. */
  hostPath: string;
  readonly: boolean;
  /** Set for a container's share: what is staged in hostPath (devices/share). */
  binds?: StagedBind[];
}

export interface MountPlan {
  mounts: GuestMount[];
  /** The share tags the agent mounts for the container: BIND_SHARE_TAG when a bind is live. */
  shares: string[];
  /** The host side of the bind mounts, in slot order. */
  binds: StagedBind[];
}

/**
 * The annotation that keeps bind mounts live host shares instead of carried copies:
 * a comma-separated list of container paths, or `*` for all. Docker (`--annotation`),
 * Podman (`--annotation`) and containerd (CRI pod annotations) pass it through.
 */
export const LIVE_SHARE_ANNOTATION = 'io.runx.live-share';

/** The guest directory the agent mounts the carry disk at: slot i is CARRY_DIR/i. */
export const CARRY_DIR = '/mnt/carry';

/** The virtio serial of the carry disk, by which the agent finds it. */
export const CARRY_DISK_SERIAL = 'runx-carry';

function liveDestinations(annotations: Readonly<Record<string, string>> | undefined): (dest: string) => boolean {
  const v = annotations?.[LIVE_SHARE_ANNOTATION];
  if (v === undefined) return () => false;
  const norm = (d: string) => path.posix.normalize(d.trim()).replace(/(.)\/$/, '$1');
  const list = v.split(',').map(norm).filter((d) => d !== '.');
  if (list.includes('*')) return () => true;
  return (dest) => list.includes(norm(dest));
}

/** Binds that move with the VM. */
export function carriedBinds(binds: readonly StagedBind[]): StagedBind[] {
  return binds.filter((b) => b.carried === true);
}

/** Binds that stay live host shares (and block checkpoint and migration). */
export function liveBinds(binds: readonly StagedBind[]): StagedBind[] {
  return binds.filter((b) => b.carried !== true);
}

/** The last propagation option wins: runc applies them in order, each replacing the type. */
export function parseOptions(options: readonly string[]): { flags: number; data: string; prop: number } {
  let flags = 0;
  let prop = 0;
  const data: string[] = [];
  for (const opt of options) {
    const known = FLAG_OPTIONS[opt];
    if (known) {
      flags = (flags | known[0]) & ~known[1];
    } else if (PROPAGATION[opt] !== undefined) {
      prop = PROPAGATION[opt];
    } else {
      data.push(opt);
    }
  }
  return { flags, data: data.join(','), prop };
}

/** A bind mount of a host path (type bind, or a bind/rbind option). */
export function isBindMount(m: SpecMount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

/** Builds the plan; host sources of bind mounts are resolved against the bundle dir. */
export function planMounts(mounts: readonly SpecMount[], bundleDir: string, annotations?: Readonly<Record<string, string>>): MountPlan {
  const plan: MountPlan = { mounts: [], shares: [], binds: [] };
  const isLive = liveDestinations(annotations);
  mounts.forEach((m, i) => {
    const { flags, data, prop } = parseOptions(m.options ?? []);
    if (!isBindMount(m)) {
      // The guest kernel mounts the unified hierarchy: a v1 `cgroup` mount with no
      // controllers named would grab them all into one v1 hierarchy instead.
      const type = m.type === 'cgroup' ? 'cgroup2' : (m.type ?? 'none');
      plan.mounts.push({ dest: m.destination, type, source: m.source ?? type, flags, data: type === 'cgroup2' ? '' : data, prop });
      return;
    }
    if (!m.source) throw new ConfigError(`mounts[${i}].source`, `config.json: mounts[${i}].source is required for a bind mount`);
    let source: string;
    try {
      // Resolved here, as the host's mount(2) would: what the guest gets is the target.
      source = fs.realpathSync(path.resolve(bundleDir, m.source));
    } catch {
      throw new ConfigError(`mounts[${i}].source`, `config.json: mounts[${i}].source "${m.source}" does not exist`);
    }
    if (plan.binds.length >= MAX_BINDS) throw new ConfigError(`mounts[${i}]`, `config.json: mounts[${i}]: more than ${MAX_BINDS} bind mounts`);
    const slot = plan.binds.length;
    const carried = !isLive(m.destination);
    plan.binds.push({ source, readonly: (flags & MS.RDONLY) !== 0, recursive: (flags & MS.REC) !== 0, carried, destination: m.destination });
    const guestSource = carried ? `${CARRY_DIR}/${slot}` : `/mnt/share/${BIND_SHARE_TAG}/${slot}`;
    plan.mounts.push({ dest: m.destination, type: 'bind', source: guestSource, flags: flags | MS.BIND, data: '', prop });
  });
  plan.shares = liveBinds(plan.binds).length ? [BIND_SHARE_TAG] : [];
  return plan;
}
