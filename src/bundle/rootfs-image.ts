// Builds the container's root disk: an ext4 image filled from the bundle's root.path
// with `mkfs.ext4 -d` (no mount, no loop device). The file is sparse, so the headroom
// for the container's own writes costs nothing until it is written.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { RunxError } from '../errors';

const MiB = 1024 * 1024;
const MIN_IMAGE = 64 * MiB;
const HEADROOM = 256 * MiB;

/**
 * Bytes the files under `paths` take (du -sbc), for sizing an image filled from them;
 * `what` names them in the error (one line: du's last).
 */
export function measureBytes(paths: readonly string[], what: string): number {
  if (!paths.length) return 0;
  const du = spawnSync('du', ['-sbc', '--', ...paths], { encoding: 'utf8' });
  const total = /(\d+)\s+total\s*$/.exec(du.stdout ?? '');
  if (du.status !== 0 || !total) throw new RunxError('EHOST', `cannot measure ${what}: ${(du.stderr ?? '').trim().split('\n').pop() || 'du failed'}`);
  return Number(total[1]);
}

/** Size for an image holding `used` bytes of files, with room for metadata and writes. */
export function imageSizeFor(used: number): number {
  const want = Math.ceil((used * 1.5 + HEADROOM) / MiB) * MiB;
  return Math.max(MIN_IMAGE, want);
}

export function buildRootfsImage(rootfsDir: string, imagePath: string): void {
  const size = imageSizeFor(measureBytes([rootfsDir], `rootfs ${rootfsDir}`));
  // Made first, owner-only: mkfs keeps an existing file's mode, and the disk holds the
  // container's files (its secrets too) for as long as it lives.
  fs.closeSync(fs.openSync(imagePath, 'w', 0o600));
  const mkfs = spawnSync('mkfs.ext4', [
    '-q', '-F', '-t', 'ext4',
    // No journal: the image lives and dies with one container, and checkpoints copy it
    // only while the VM is stopped; the journal would cost mkfs time and disk.
    '-O', '^has_journal',
    '-E', 'lazy_itable_init=1,nodiscard',
    '-d', rootfsDir, imagePath, `${size / 1024}k`,
  ], { encoding: 'utf8' });
  if (mkfs.error) throw new RunxError('EHOST', `cannot run mkfs.ext4: ${mkfs.error.message} (apt-get install e2fsprogs)`);
  if (mkfs.status !== 0) {
    const why = (mkfs.stderr || mkfs.stdout || '').trim().split('\n').pop() ?? '';
    throw new RunxError('EHOST', `cannot build root disk from ${rootfsDir}: mkfs.ext4: ${why}`);
  }
}
