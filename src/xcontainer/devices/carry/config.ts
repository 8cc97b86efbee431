// A container's carry disk (docs/mounts.md): one ext4 image in its state directory
// holding a copy of each carried bind mount, slot i for bind i, as the share stages
// them. It is filled at create by mkfs.ext4 -d run through the staging helper (so it
// reads exactly what the share would export: each source, read-only ones read-only,
// no path from the config on mkfs's command line), and it is a second virtio-blk
// disk, which checkpoint copies and migration mirrors as it does the root disk.
// The host's directories get the container's writes back through the share, which
// the agent mounts only for the copy (guest-kernel/agent/carry.c).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../../../errors';
import { CARRY_DISK_SERIAL, type HostShare, LIVE_SHARE_ANNOTATION, type StagedBind } from '../../../bundle/mount-plan';
import { nativeFile } from '../../host/native';
import { measureBytes } from '../../../bundle/rootfs-image';
import { SHARE_DIR, STAGE_HELPER_FILE, modeOf } from '../share/config';

/** The carry disk's file, relative to the state directory. */
export const CARRY_DISK = 'carry.ext4';

/** Its QEMU drive id (QMP names it so: the mirror, block_resize). */
export const CARRY_DRIVE = 'carry';

const MiB = 1024 * 1024;

/**
 * Room for the container's writes beyond what its carried binds hold at create:
 * the image is sparse, so it costs nothing until written. Annotation
 * io.runx.carry-headroom-mib sets it per container.
 */
export const DEFAULT_HEADROOM_MIB = 1024;
export const HEADROOM_ANNOTATION = 'io.runx.carry-headroom-mib';

/** Whether a VM's shares have binds to carry (and so it has a carry disk). */
export function hasCarryDisk(shares: readonly HostShare[]): boolean {
  return shares.some((s) => s.binds?.some((b) => b.carried === true) === true);
}

export function headroomBytes(annotations: Readonly<Record<string, string>> | undefined): number {
  const v = annotations?.[HEADROOM_ANNOTATION];
  if (v === undefined) return DEFAULT_HEADROOM_MIB * MiB;
  if (!/^\d{1,7}$/.test(v)) throw new RunxError('ECONFIG', `annotation ${HEADROOM_ANNOTATION}: "${v}" is not a whole number of MiB`);
  return Number(v) * MiB;
}

/** The disk's size for carried data of `used` bytes: ext4's overhead, then the headroom. */
export function carryDiskBytes(used: number, headroom: number): number {
  return Math.max(64 * MiB, Math.ceil((used * 1.1 + 32 * MiB + headroom) / MiB) * MiB);
}

/**
 * Builds `<dir>/carry.ext4` from the carried binds of `binds` (the others are skipped
 * slots). With a journal: a database's fsync on a volume must mean what it says.
 */
export function buildCarryDisk(dir: string, binds: readonly StagedBind[], annotations?: Readonly<Record<string, string>>): void {
  const carried = binds.filter((b) => b.carried === true);
  const size = carryDiskBytes(measureBytes(carried.map((b) => b.source), 'the bind sources to carry'), headroomBytes(annotations));
  const image = path.join(dir, CARRY_DISK);
  // Owner-only from the start: it holds copies of the container's secrets.
  fs.closeSync(fs.openSync(image, 'w', 0o600));
  const args = [
    SHARE_DIR, ...binds.flatMap((b) => [b.carried === true ? modeOf(b) : 'skip', b.source]), '--',
    'mkfs.ext4', '-q', '-F', '-t', 'ext4', '-J', 'size=16', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard',
    '-d', SHARE_DIR, CARRY_DISK, `${size / 1024}k`,
  ];
  const r = spawnSync(nativeFile(STAGE_HELPER_FILE), args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new RunxError('EHOST', `cannot build the carry disk: ${r.error.message}`);
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout || '').trim().split('\n').pop() ?? '';
    throw new RunxError('EHOST', `cannot build the carry disk from the bind mounts: ${why}`);
  }
}

/** An empty carry disk of `bytes` (a migration's destination: the mirror fills it). */
export function emptyCarryDisk(dir: string, bytes: number): void {
  const image = path.join(dir, CARRY_DISK);
  fs.closeSync(fs.openSync(image, 'w', 0o600));
  fs.truncateSync(image, bytes);
}

/** QEMU's argv for the carry disk; the agent finds it by its serial. */
export function carryDiskArgs(): string[] {
  // writeback, not the root disk's unsafe: a guest's fsync reaches the host's disk.
  return ['-drive', `id=${CARRY_DRIVE},file=${CARRY_DISK},format=raw,if=none,cache=writeback`,
    '-device', `virtio-blk-device,drive=${CARRY_DRIVE},serial=${CARRY_DISK_SERIAL}`];
}

/**
 * Refuses to save or move a VM with a live host share mounted (QEMU cannot: its 9p
 * device has no state to move), in one line naming the mount and what to change.
 */
export function refuseLiveShares(what: string, shares: readonly HostShare[]): void {
  const live = shares.flatMap((s) => s.binds?.filter((b) => b.carried !== true) ?? []);
  if (!live.length) return;
  const b = live[0]!;
  const name = b.destination ? `${b.destination} (from ${b.source})` : b.source;
  const why = b.destination
    ? `is a live host share (annotation ${LIVE_SHARE_ANNOTATION}), which QEMU cannot save or move while it is mounted; remove it from that annotation so it is carried`
    : 'is a live host share of a container made by an older runx, which QEMU cannot save or move while it is mounted; recreate the container so it is carried';
  throw new RunxError('ECONFIG', `${what}: bind mount ${name}${live.length > 1 ? ` and ${live.length - 1} more` : ''} ${why}`);
}
