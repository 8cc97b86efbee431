// image-reader.ts and manifest-signature.ts on synthetic images (no VM): every way a
// crafted image is refused, that refusal comes before any copy, and that a good image
// copies out sparse with its checksums verified.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageReader } from '../../../src/checkpoint/image-reader';
import { keyFromToken, type SigningKey } from '../../../src/checkpoint/manifest-signature';
import { FORMAT, FORMAT_VERSION, IMAGE_FILES, writeManifest } from '../../../src/checkpoint/manifest';

let work: string;
let img: string;
const victim = (): string => path.join(work, 'victim');

async function makeImage(sign?: SigningKey): Promise<void> {
  fs.mkdirSync(img);
  for (const name of IMAGE_FILES) fs.writeFileSync(path.join(img, name), name === 'config.json' ? '{"process":{"args":["sh"]}}' : `${name} `.repeat(1000));
  // A disk with a hole: 1 MiB of data, 3 MiB of nothing.
  const disk = path.join(img, 'rootfs.ext4');
  fs.writeFileSync(disk, Buffer.alloc(1 << 20, 7));
  fs.truncateSync(disk, 4 << 20);
  await writeManifest(img, {
    format: FORMAT, formatVersion: FORMAT_VERSION, runxVersion: 'test', created: 'now',
    qemu: { build: 'QEMU x', machine: 'microvm', cpu: 'max', accel: 'tcg' }, shape: { memoryMiB: 256, vcpus: 1 },
    agentProtocol: 1, configDigest: '', container: { id: 'c', status: 'running', bundle: '/b' }, shares: [],
  }, IMAGE_FILES, sign);
}

/** Edits the manifest and recomputes its digest, as anyone can. */
interface LooseManifest { files: Record<string, unknown>; shape: { memoryMiB: number }; digest?: string; signature?: unknown }
function rewrite(edit: (m: LooseManifest) => void): void {
  const f = path.join(img, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(f, 'utf8')) as LooseManifest;
  edit(m);
  const { digest: _d, signature, ...rest } = m;
  fs.writeFileSync(f, JSON.stringify({ ...rest, digest: createHash('sha256').update(JSON.stringify(rest)).digest('hex'), ...(signature ? { signature } : {}) }));
}

const refusal = (key?: SigningKey): string => {
  try {
    ImageReader.open(img, key).close();
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
};

beforeEach(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-image-'));
  img = path.join(work, 'img');
  fs.writeFileSync(victim(), 'host secret\n');
  await makeImage();
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

describe('ImageReader.open refuses', () => {
  it('a symlink in place of an image file', () => {
    fs.rmSync(path.join(img, 'vm.state'));
    fs.symlinkSync(victim(), path.join(img, 'vm.state'));
    expect(refusal()).toBe(`checkpoint image ${img}: vm.state is a symbolic link`);
  });
  it('a fifo, without blocking', () => {
    fs.rmSync(path.join(img, 'vm.state'));
    expect(spawnSync('mkfifo', [path.join(img, 'vm.state')]).status).toBe(0);
    expect(refusal()).toBe(`checkpoint image ${img}: vm.state is a fifo, not a regular file`);
  });
  it('a hard link', () => {
    fs.linkSync(path.join(img, 'bzImage'), path.join(work, 'other-name'));
    expect(refusal()).toMatch(/bzImage has 2 hard links/);
  });
  it('a name outside the fixed set, in the directory or in the manifest', () => {
    fs.writeFileSync(path.join(img, 'vm.ram'), 'x');
    expect(refusal()).toMatch(/holds "vm.ram", which is not a file of a runx checkpoint image/);
    fs.rmSync(path.join(img, 'vm.ram'));
    rewrite((m) => { m.files['../../dev/zero'] = { size: 1, sha256: '0'.repeat(64) }; });
    expect(refusal()).toMatch(/lists "..\/..\/dev\/zero", which is not a file/);
  });
  it('a file the manifest does not list, and one it lists that is missing', () => {
    rewrite((m) => { delete m.files['rootfs.ext4']; });
    expect(refusal()).toMatch(/does not list rootfs.ext4/);
    fs.rmSync(img, { recursive: true });
    return makeImage().then(() => {
      fs.rmSync(path.join(img, 'bzImage'));
      expect(refusal()).toBe(`checkpoint image ${img}: bzImage is missing`);
    });
  });
  it('a wrong size at open, a wrong checksum at copy (removing the copy)', () => {
    fs.appendFileSync(path.join(img, 'bzImage'), 'x');
    expect(refusal()).toMatch(/bzImage is 8001 bytes, the manifest says 8000/);
    fs.truncateSync(path.join(img, 'bzImage'), 8000);
    fs.writeFileSync(path.join(img, 'initramfs.cpio'), 'X'.repeat(fs.statSync(path.join(img, 'initramfs.cpio')).size));
    const r = ImageReader.open(img);
    const dest = path.join(work, 'copy');
    expect(() => r.copyTo('initramfs.cpio', dest, false)).toThrow(/initramfs.cpio does not match its checksum/);
    r.close();
    expect(fs.existsSync(dest)).toBe(false);
  });
  it('an unsigned, forged or other-key image when a key is required', async () => {
    const k = keyFromToken('peer token');
    expect(refusal(k)).toMatch(/the image is not signed/);
    fs.rmSync(img, { recursive: true });
    await makeImage(k);
    expect(refusal(k)).toBe('accepted');
    expect(refusal(keyFromToken('another token'))).toMatch(/signed with another key/);
    rewrite((m) => { m.shape.memoryMiB = 4096; });
    expect(refusal(k)).toMatch(/signature verification failed/);
  });
});

describe('ImageReader copies', () => {
  it('a disk sparse, its content intact, never through a planted link', () => {
    const r = ImageReader.open(img);
    const dest = path.join(work, 'disk');
    r.copyTo('rootfs.ext4', dest, true);
    expect(fs.readFileSync(dest).equals(fs.readFileSync(path.join(img, 'rootfs.ext4')))).toBe(true);
    expect(fs.statSync(dest).blocks * 512).toBeLessThan(2 << 20);
    expect((fs.statSync(dest).mode & 0o777).toString(8)).toBe('600');
    fs.symlinkSync(victim(), path.join(work, 'planted'));
    expect(() => r.copyTo('vm.state', path.join(work, 'planted'), false)).toThrow(/EEXIST/);
    r.close();
    expect(fs.readFileSync(victim(), 'utf8')).toBe('host secret\n');
  });
});
