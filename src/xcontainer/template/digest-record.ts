// SHA-256 of files that are hashed again and again but rarely change (a template's
// vm.state and its vm.ram, as large as the guest's memory; the guest kernel): hashing
// them on every create cost ~50 ms (for a 22 MB vm.state) and more. A small
// JSON record remembers each digest together with the file's identity (dev, inode,
// size, mtime and ctime in ns); while the identity is unchanged the digest is reused.
// Any write to a file moves its ctime, which no syscall can set back, and a
// replacement is another inode, so a changed file is always hashed again. What this
// cannot see is damage that bypasses the kernel (a failing disk flipping bits): the
// price of not reading a template (hundreds of MB) per create.
//
// A file changed within the same timestamp tick after it was hashed would keep its
// identity, so a digest is recorded only for a file unchanged while it was hashed and
// last changed well before hashing began (git's "racily clean" problem).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const RECORD_FORMAT = 1;
/** Far above any filesystem's timestamp granularity (coarse clock: one jiffy). */
const SETTLE_NS = 1_000_000_000n;
/** Records stay small: entries of files not asked about lately are dropped first. */
const MAX_ENTRIES = 32;

interface Identity {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

interface Entry extends Identity {
  sha256: string;
}

interface RecordFile {
  format: number;
  files: Record<string, Entry>;
}

export interface FileDigest {
  file: string;
  size: number;
  sha256: string;
  /** false when the digest came from the record without reading the file. */
  hashed: boolean;
}

/** Read in pieces: a template's vm.ram is as large as the guest's memory. */
export function sha256File(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function identityOf(st: fs.BigIntStats): Identity {
  return { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function isEntry(v: unknown): v is Entry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs'].every((k) => typeof e[k] === 'string')
    && typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256);
}

/** Entries of a readable, well-formed record; anything else counts as no record. */
function load(recordFile: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(recordFile, 'utf8'));
  } catch {
    return entries;
  }
  if (typeof parsed !== 'object' || parsed === null) return entries;
  const r = parsed as Partial<RecordFile>;
  if (r.format !== RECORD_FORMAT || typeof r.files !== 'object' || r.files === null) return entries;
  for (const [file, e] of Object.entries(r.files)) if (isEntry(e)) entries.set(file, e);
  return entries;
}

/**
 * Best effort: a record that cannot be written only means hashing next time too. The
 * directory is never created here: a template directory that a concurrent rebuild has
 * just removed must stay removed, or the rebuilt one could not be renamed into place.
 */
function save(recordFile: string, entries: Map<string, Entry>): void {
  const record: RecordFile = { format: RECORD_FORMAT, files: Object.fromEntries([...entries].slice(-MAX_ENTRIES)) };
  // Concurrent creates may all write it; each rename is whole, the last one wins.
  const tmp = `${recordFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(record, null, 1));
    fs.renameSync(tmp, recordFile);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * The SHA-256 of each file, from `recordFile` where the file is unchanged since it was
 * recorded, hashing (and recording) the others. Throws if a file cannot be read.
 */
export function recordedSha256(files: readonly string[], recordFile: string): FileDigest[] {
  const entries = load(recordFile);
  let changed = false;
  const out = files.map((f): FileDigest => {
    const file = path.resolve(f);
    const before = identityOf(fs.statSync(file, { bigint: true }));
    const known = entries.get(file);
    if (known && sameIdentity(known, before)) {
      return { file, size: Number(before.size), sha256: known.sha256, hashed: false };
    }
    const startedNs = BigInt(Date.now()) * 1_000_000n;
    const sha256 = sha256File(file);
    const after = identityOf(fs.statSync(file, { bigint: true }));
    entries.delete(file);
    if (sameIdentity(before, after) && BigInt(before.ctimeNs) + SETTLE_NS <= startedNs) {
      entries.set(file, { ...before, sha256 });
    }
    changed = true;
    return { file, size: Number(before.size), sha256, hashed: true };
  });
  if (changed) {
    // Re-inserted last, so files asked about now are the ones MAX_ENTRIES keeps.
    for (const d of out) {
      const e = entries.get(d.file);
      if (e) { entries.delete(d.file); entries.set(d.file, e); }
    }
    save(recordFile, entries);
  }
  return out;
}
