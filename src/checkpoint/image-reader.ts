// The only way restore opens a checkpoint image's files. An image is untrusted input
// (it comes from other hosts, object storage, users), so:
// - its directory may hold exactly the names runx writes (manifest.json and
//   IMAGE_FILES) and nothing else; the manifest must list every one of those files;
// - each is opened by its fixed name relative to the open directory, without
//   following a symlink, and must be a regular file with one link on the directory's
//   device (path-safety.ts); a fifo or device is refused without blocking;
// - sizes are checked at open, before restore creates anything; the sha256 of each
//   is computed while it is copied out (each byte is read once) and compared before
//   anything uses the copy, which restore then uses instead of the image;
// - with a verify key, the manifest's MAC must match (manifest-signature.ts).
// Every refusal is one line naming the image and the file.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { RunxError } from '../errors';
import { OpenDir } from '../xcontainer/host/path-safety';
import { type SigningKey, verifyManifestSignature } from './manifest-signature';
import { type CheckpointManifest, FORMAT, FORMAT_VERSION, IMAGE_FILES, KNOWN_IMAGE_FILES, MANIFEST_FILE, manifestBody, selfDigest } from './manifest';

const MAX_MANIFEST_BYTES = 1 << 20;
const MAX_CONFIG_BYTES = 16 << 20;
const CHUNK = 1 << 20;
/** Holes in a copied disk are made at this grain: a block of zeros is not written. */
const SPARSE_BLOCK = 64 << 10;
const ZEROS = Buffer.alloc(SPARSE_BLOCK);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class ImageReader {
  private readonly fds = new Map<string, { fd: number; size: number }>();

  private constructor(readonly where: string, private readonly dir: OpenDir, readonly manifest: CheckpointManifest) {}

  /**
   * Opens and checks the image: its names, its manifest (format, digest, signature when
   * `verifyKey` is given) and every file's type, links and size. Creates nothing.
   */
  static open(imagePath: string, verifyKey?: SigningKey): ImageReader {
    const where = `checkpoint image ${imagePath}`;
    const dir = OpenDir.open(imagePath, where);
    try {
      const names = dir.names();
      if (!names.includes(MANIFEST_FILE)) throw new RunxError('ECONFIG', `${where}: no ${MANIFEST_FILE} (not a runx checkpoint)`);
      const foreign = names.filter((n) => n !== MANIFEST_FILE && !KNOWN_IMAGE_FILES.includes(n));
      if (foreign.length) throw new RunxError('ECONFIG', `${where}: holds ${JSON.stringify(foreign[0])}, which is not a file of a runx checkpoint image`);
      const manifest = parseManifest(dir.readSmall(MANIFEST_FILE, where, MAX_MANIFEST_BYTES), where);
      if (verifyKey) verifyManifestSignature(manifestBody(manifest), manifest.signature, verifyKey, where);
      const reader = new ImageReader(where, dir, manifest);
      try {
        for (const name of Object.keys(manifest.files)) reader.openListed(name);
      } catch (err) {
        reader.closeFiles();
        throw err;
      }
      return reader;
    } catch (err) {
      dir.close();
      throw err;
    }
  }

  private openListed(name: string): void {
    const want = this.manifest.files[name]!;
    const { fd, stat } = this.dir.openFile(name, this.where)!;
    this.fds.set(name, { fd, size: stat.size });
    if (stat.size !== want.size) throw new RunxError('ECONFIG', `${this.where}: ${name} is ${stat.size} bytes, the manifest says ${want.size} (truncated or replaced)`);
  }

  /** A small file's text (config.json), checked against its checksum. */
  readText(name: string): string {
    const { fd, size } = this.file(name);
    if (size > MAX_CONFIG_BYTES) throw new RunxError('ECONFIG', `${this.where}: ${name} is ${size} bytes, more than the ${MAX_CONFIG_BYTES} it may be`);
    const buf = Buffer.alloc(size);
    let got = 0;
    for (let n; got < size && (n = fs.readSync(fd, buf, got, size - got, got)) > 0;) got += n;
    this.check(name, got, createHash('sha256').update(buf.subarray(0, got)).digest('hex'));
    return buf.subarray(0, got).toString('utf8');
  }

  /**
   * Copies `name` to `dest`, a new file (0600, never through a symlink), hashing as it
   * goes; with `sparse`, blocks of zeros become holes. Throws, removing `dest`, if the
   * content is not the manifest's.
   */
  copyTo(name: string, dest: string, sparse: boolean): void {
    const { fd, size } = this.file(name);
    const out = fs.openSync(dest, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let pos = 0;
    try {
      for (let n; pos < size && (n = fs.readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos)) > 0; pos += n) {
        const chunk = buf.subarray(0, n);
        hash.update(chunk);
        if (!sparse) {
          writeAll(out, chunk, pos);
          continue;
        }
        for (let off = 0; off < n; off += SPARSE_BLOCK) {
          const block = chunk.subarray(off, Math.min(n, off + SPARSE_BLOCK));
          if (!block.equals(ZEROS.subarray(0, block.length))) writeAll(out, block, pos + off);
        }
      }
      fs.ftruncateSync(out, pos);
      this.check(name, pos, hash.digest('hex'));
    } catch (err) {
      fs.rmSync(dest, { force: true });
      throw err;
    } finally {
      fs.closeSync(out);
    }
  }

  private file(name: string): { fd: number; size: number } {
    const f = this.fds.get(name);
    if (!f) throw new RunxError('EINTERNAL', `${this.where}: ${name} was not opened`);
    return f;
  }

  private check(name: string, size: number, sha256: string): void {
    const want = this.manifest.files[name]!;
    if (size !== want.size) throw new RunxError('ECONFIG', `${this.where}: ${name} is ${size} bytes, the manifest says ${want.size} (truncated or replaced)`);
    if (sha256 !== want.sha256) throw new RunxError('ECONFIG', `${this.where}: ${name} does not match its checksum (corrupt)`);
  }

  /** Closes the files; the directory is the caller's (open()'s, or closeAll). */
  private closeFiles(): void {
    for (const { fd } of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  close(): void {
    this.closeFiles();
    this.dir.close();
  }
}

function writeAll(fd: number, buf: Buffer, pos: number): void {
  for (let off = 0; off < buf.length;) off += fs.writeSync(fd, buf, off, buf.length - off, pos + off);
}

/** The manifest, checked for what restore relies on; every file in IMAGE_FILES listed, no other. */
function parseManifest(text: Buffer, where: string): CheckpointManifest {
  let m: unknown;
  try {
    m = JSON.parse(text.toString('utf8'));
  } catch {
    throw new RunxError('ECONFIG', `${where}: ${MANIFEST_FILE} is corrupt (not JSON)`);
  }
  if (!isRecord(m) || m.format !== FORMAT) throw new RunxError('ECONFIG', `${where}: not a runx checkpoint (format "${String(isRecord(m) ? m.format : m)}")`);
  if (m.formatVersion !== FORMAT_VERSION) throw new RunxError('ECONFIG', `${where}: format version ${String(m.formatVersion)} is not supported (this runx reads ${FORMAT_VERSION})`);
  const manifest = m as unknown as CheckpointManifest;
  if (m.digest !== selfDigest(manifest)) throw new RunxError('ECONFIG', `${where}: ${MANIFEST_FILE} was altered (digest mismatch)`);
  const bad = (what: string) => new RunxError('ECONFIG', `${where}: ${MANIFEST_FILE}: ${what}`);
  const files = m.files;
  if (!isRecord(files)) throw bad('no "files"');
  for (const name of Object.keys(files)) {
    if (!KNOWN_IMAGE_FILES.includes(name)) throw bad(`lists ${JSON.stringify(name)}, which is not a file of a runx checkpoint image`);
    const f = files[name];
    if (!isRecord(f) || !Number.isSafeInteger(f.size) || (f.size as number) < 0 || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) throw bad(`the entry of ${name} is malformed`);
  }
  for (const name of IMAGE_FILES) if (!(name in files)) throw bad(`does not list ${name}`);
  const qemu = m.qemu;
  if (!isRecord(qemu) || typeof qemu.build !== 'string' || typeof qemu.cpu !== 'string' || (qemu.accel !== 'tcg' && qemu.accel !== 'kvm')) throw bad('"qemu" is malformed');
  const shape = m.shape;
  if (!isRecord(shape) || !Number.isSafeInteger(shape.memoryMiB) || !Number.isSafeInteger(shape.vcpus)) throw bad('"shape" is malformed');
  const c = m.container;
  if (!isRecord(c) || (c.status !== 'created' && c.status !== 'running') || typeof c.bundle !== 'string') throw bad('"container" is malformed');
  if (c.annotations !== undefined && (!isRecord(c.annotations) || Object.values(c.annotations).some((v) => typeof v !== 'string'))) throw bad('"container.annotations" is malformed');
  if (!Array.isArray(m.shares)) throw bad('"shares" is malformed');
  if (m.network !== undefined && (!isRecord(m.network) || typeof m.network.mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(m.network.mac))) throw bad('"network" is malformed');
  return manifest;
}
