// A container's virtio-9p share: the one directory QEMU exports for all its bind mounts
// (`shares` in its state directory), and the command QEMU is started through to fill
// it — native/runx-share-stage, which binds each source into its slot there, in a
// mount namespace of QEMU's own, read-only ones read-only on the host side. QEMU's
// argv then names only that runx-made directory, never a path from the config.
import { BIND_SHARE_TAG, type HostShare, type StagedBind } from '../../../bundle/mount-plan';
import { nativeFile } from '../../host/native';

/** The share's directory, relative to the state directory (QEMU's cwd). */
export const SHARE_DIR = 'shares';

/** The helper's package-relative name (built by native/Makefile, embedded in the one-file binary). */
export const STAGE_HELPER_FILE = 'native/build/runx-share-stage';

/**
 * A container's shares: none without bind mounts, else one, staged at QEMU's start
 * in SHARE_DIR of its state directory (QEMU's cwd; the helper makes it).
 */
export function containerShares(binds: readonly StagedBind[]): HostShare[] {
  if (!binds.length) return [];
  return [{ tag: BIND_SHARE_TAG, hostPath: SHARE_DIR, readonly: false, binds: [...binds] }];
}

/** The helper's mode argument for a bind: [r]rw or [r]ro. */
export function modeOf(b: StagedBind): string {
  return `${b.recursive ? 'r' : ''}${b.readonly ? 'ro' : 'rw'}`;
}

/**
 * What goes before QEMU's own argv (after the parent-death setter) so its shares are
 * staged first: nothing when no share has binds. The paths are argv entries, so no
 * byte in them means anything to a parser.
 */
export function stageCommand(shares: readonly HostShare[]): string[] {
  const staged = shares.filter((s) => s.binds !== undefined);
  if (!staged.length) return [];
  if (staged.length > 1) throw new Error(`one staged share per VM, not ${staged.length}`);
  const share = staged[0]!;
  return [nativeFile(STAGE_HELPER_FILE), share.hostPath, ...share.binds!.flatMap((b) => [modeOf(b), b.source]), '--'];
}
