// What differs between the QEMU versions runx runs on (Debian 12's 7.2, and 10.0 from
// bookworm-backports), decided by version number: the two behaviours below are not
// visible in QMP's schema (a fix and a changed default), so probing cannot find them.
// Before QEMU starts, the version comes from its build line (`--version`, qemu-build.ts);
// once it runs, from its QMP greeting, which carries query-version's answer.
import type { Accel } from './accel';

export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
}

/** The version in a build line ("QEMU emulator version 10.0.2 (Debian ...)"), or undefined. */
export function parseQemuBuild(build: string): QemuVersion | undefined {
  const m = /\bversion (\d+)\.(\d+)(?:\.(\d+))?/.exec(build);
  return m ? { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3] ?? 0) } : undefined;
}

function atLeast(v: QemuVersion, major: number, minor = 0): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/**
 * KiB beyond the shape's memory that a TCG guest gets, so its RAM is not a whole number
 * of 64-page (256 KiB) words of QEMU's dirty bitmap. QEMU before 9.0 (Debian 12 has
 * 7.2) syncs such a block's migration bitmap on a fast path that clears the dirty bits
 * without resetting TCG's TLB entries, so a page the guest keeps writing through an
 * entry it already holds is never marked dirty again and never resent: live-migrated
 * guests came up with corrupt page tables ("BUG: Bad page map", "Fatal exception in
 * interrupt"). Upstream fixed it in 03bfc2188f061 ("physmem: Fix migration dirty bitmap
 * coherency with TCG memory access", 9.0). A block off that grid takes the per-page
 * path, which resets the TLB for every page it finds dirty. KVM tracks dirty pages
 * itself. A build whose version cannot be read is padded: padding costs 8 KiB, the
 * bug costs the guest.
 */
export const TCG_RAM_PAD_KIB = 8;

export function ramPadKiB(accel: Accel, qemuBuild: string): number {
  if (accel !== 'tcg') return 0;
  const v = parseQemuBuild(qemuBuild);
  return v && atLeast(v, 9) ? 0 : TCG_RAM_PAD_KIB;
}

/**
 * How a VM loaded stopped from a saved state (a template) gets its root disk resized:
 * - 'before-cont' (QEMU < 9): the loaded block nodes are active at once;
 * - 'activate-first' (QEMU >= 10): since 9.x a destination leaves its block nodes
 *   inactive after an incoming migration until `cont` (block_resize then fails with
 *   "Permission 'resize' unavailable on inactive node"); 10.0's blockdev-set-active
 *   activates them while the VM is still stopped;
 * - 'after-cont' (9.x): no way to activate them early, so resize once it runs.
 * Before cont is what runx wants: the guest takes the config-change interrupt as soon
 * as it runs, and has the size by the time create asks for it.
 */
export type ResizeOrder = 'before-cont' | 'activate-first' | 'after-cont';

export function resizeOrder(v: QemuVersion): ResizeOrder {
  if (!atLeast(v, 9)) return 'before-cont';
  return atLeast(v, 10) ? 'activate-first' : 'after-cont';
}
