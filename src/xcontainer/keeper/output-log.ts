// The container's durable output log: its stdout and stderr, in the order the keeper
// got them, in its state directory (`output.log`, and the segment before it,
// `output.log.1`), bounded by a ring of two segments. `runx logs` reads it, and a
// migrated container's keeper serves its stand-in from it (keeper-link.ts), so that a
// stand-in that reconnects gets what it has not yet written, from its own offset.
//
// Format of a segment: the 8 bytes "RUNXLOG1", the absolute offset of its first byte
// (u64 BE), then records: stream (1 stdout, 2 stderr, u8), length (u32 BE), bytes.
// Offsets count the records' bytes only, across both streams, from the container's
// first output at this host. A segment that reaches half the bound becomes the
// previous one (rename, which replaces the one before it): the log holds at least the
// last half of the bound and at most the bound plus one record per segment (a record
// is one agent frame's payload, under 32 KiB) and the two headers.
//
// fsync policy: none per write. The failure this log is for is the *other* host (the
// source) dying: here the page cache has every byte the moment write() returns, and a
// keeper or QEMU killed here loses nothing written. Only a power loss of this host
// could lose the tail, and it takes the VM (and so the container) with it. The log is
// fdatasync'ed once, when the container ends and before its exit status goes into
// state.json, so a `stopped` state means a complete log even across a crash after.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';

export const OUTPUT_LOG = 'output.log';
export const OUTPUT_LOG_PREVIOUS = 'output.log.1';
const MAGIC = Buffer.from('RUNXLOG1');
const HEADER = 16;
const RECORD_HEADER = 5;
/** Default bound of the whole log (both segments). */
export const DEFAULT_LOG_BYTES = 4 * 1024 * 1024;

export type OutputStream = 'stdout' | 'stderr';

export interface OutputRecord {
  stream: OutputStream;
  /** Absolute offset of data's first byte. */
  offset: number;
  data: Buffer;
}

/** The bound from RUNX_OUTPUT_LOG_BYTES (at least 64 KiB), else the default. */
export function logBound(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.RUNX_OUTPUT_LOG_BYTES);
  return Number.isFinite(n) && n >= 65536 ? Math.floor(n) : DEFAULT_LOG_BYTES;
}

function segmentHeader(base: number): Buffer {
  const h = Buffer.alloc(HEADER);
  MAGIC.copy(h, 0);
  h.writeBigUInt64BE(BigInt(base), 8);
  return h;
}

/** The base offset of a segment file, or undefined if it is not one. */
function readBase(fd: number): number | undefined {
  const h = Buffer.alloc(HEADER);
  if (fs.readSync(fd, h, 0, HEADER, 0) !== HEADER || !h.subarray(0, 8).equals(MAGIC)) return undefined;
  return Number(h.readBigUInt64BE(8));
}

interface OutputLogEvents {
  /** Something was appended. */
  append: [];
}

/** The writing side, one per keeper. */
export class OutputLog extends EventEmitter<OutputLogEvents> {
  private fd: number;
  private base: number;
  /** Absolute offset after the last byte written. */
  private endOffset: number;
  private segmentBytes: number;

  constructor(private readonly dir: string, private readonly bound = logBound()) {
    super();
    this.setMaxListeners(0);
    const file = path.join(dir, OUTPUT_LOG);
    // A keeper that takes its container back (or restarts in the same directory) goes
    // on from where the log ends.
    const existing = scanSegment(file);
    if (existing) {
      this.fd = fs.openSync(file, 'r+');
      // A record cut short (a write that did not complete) is dropped.
      fs.ftruncateSync(this.fd, existing.validBytes);
      this.base = existing.base;
      this.endOffset = existing.end;
      this.segmentBytes = existing.validBytes;
    } else {
      this.base = 0;
      this.endOffset = 0;
      this.fd = this.newSegment(0);
      this.segmentBytes = HEADER;
    }
  }

  get end(): number {
    return this.endOffset;
  }

  append(stream: OutputStream, data: Buffer): void {
    if (!data.length) return;
    if (this.segmentBytes - HEADER >= this.bound / 2) this.rotate();
    const rec = Buffer.allocUnsafe(RECORD_HEADER + data.length);
    rec[0] = stream === 'stdout' ? 1 : 2;
    rec.writeUInt32BE(data.length, 1);
    data.copy(rec, RECORD_HEADER);
    // One write per record: a reader sees a record whole or (while it is written) cut
    // short, which it treats as not there yet.
    let off = 0;
    while (off < rec.length) off += fs.writeSync(this.fd, rec, off, rec.length - off, this.segmentBytes + off);
    this.segmentBytes += rec.length;
    this.endOffset += data.length;
    this.emit('append');
  }

  /** Makes what is written durable (the container's end). */
  sync(): void {
    try {
      fs.fdatasyncSync(this.fd);
    } catch { /* a state dir removed meanwhile: nothing left to keep */ }
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch { /* closed */ }
  }

  private newSegment(base: number): number {
    const tmp = path.join(this.dir, `${OUTPUT_LOG}.new`);
    const fd = fs.openSync(tmp, 'w+', 0o600);
    fs.writeSync(fd, segmentHeader(base), 0, HEADER, 0);
    fs.renameSync(tmp, path.join(this.dir, OUTPUT_LOG));
    return fd;
  }

  private rotate(): void {
    // The current segment becomes the previous one (replacing it); a reader holding it
    // open reads on through its fd.
    fs.renameSync(path.join(this.dir, OUTPUT_LOG), path.join(this.dir, OUTPUT_LOG_PREVIOUS));
    fs.closeSync(this.fd);
    this.base = this.endOffset;
    this.fd = this.newSegment(this.base);
    this.segmentBytes = HEADER;
  }
}

/** What `read` makes of segment `file`, opened read-only; undefined if it cannot be opened. */
function readSegment<T>(file: string, read: (fd: number) => T | undefined): T | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    return read(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A segment's base, end offset and the length of its whole records. */
function scanSegment(file: string): { base: number; end: number; validBytes: number } | undefined {
  return readSegment(file, (fd) => {
    const base = readBase(fd);
    if (base === undefined) return undefined;
    const size = fs.fstatSync(fd).size;
    let pos = HEADER;
    let end = base;
    const h = Buffer.alloc(RECORD_HEADER);
    while (pos + RECORD_HEADER <= size) {
      fs.readSync(fd, h, 0, RECORD_HEADER, pos);
      const len = h.readUInt32BE(1);
      if (pos + RECORD_HEADER + len > size) break;
      pos += RECORD_HEADER + len;
      end += len;
    }
    return { base, end, validBytes: pos };
  });
}

/**
 * The reading side: a cursor over the log from an absolute offset, following the
 * segments as the writer rotates them. Memory: one chunk at a time.
 */
export class LogReader {
  private fd?: number;
  private base = 0;
  /** File position of the next record header, and the offset of its first byte. */
  private pos = HEADER;
  private at: number;
  /** Bytes of the record at `pos` already delivered (a start inside a record). */
  private skip = 0;

  constructor(private readonly dir: string, from: number) {
    this.at = from;
  }

  /** The offset of the next byte this cursor will deliver. */
  get offset(): number {
    return this.at;
  }

  /**
   * Up to about `max` bytes of records from the cursor; [] when none is there yet.
   * `gap` is set when the bytes from the cursor were overwritten (the ring went round):
   * the cursor moved on to the oldest byte held.
   */
  read(max = 65536): { records: OutputRecord[]; gap?: { from: number; to: number } } {
    let gap: { from: number; to: number } | undefined;
    if (this.fd === undefined && !this.open()) {
      const oldest = this.oldest();
      if (oldest === undefined || oldest <= this.at) return { records: [] };
      gap = { from: this.at, to: oldest };
      this.at = oldest;
      if (!this.open()) return { records: [], gap };
    }
    const records: OutputRecord[] = [];
    let got = 0;
    const h = Buffer.alloc(RECORD_HEADER);
    while (got < max) {
      const size = fs.fstatSync(this.fd!).size;
      if (this.pos + RECORD_HEADER > size || (fs.readSync(this.fd!, h, 0, RECORD_HEADER, this.pos), this.pos + RECORD_HEADER + h.readUInt32BE(1) > size)) {
        // At this segment's end: on to the next, if the writer has moved on.
        if (!this.nextSegment()) break;
        continue;
      }
      const len = h.readUInt32BE(1);
      const want = Math.min(len - this.skip, max - got);
      const data = Buffer.allocUnsafe(want);
      fs.readSync(this.fd!, data, 0, want, this.pos + RECORD_HEADER + this.skip);
      records.push({ stream: h[0] === 2 ? 'stderr' : 'stdout', offset: this.at, data });
      got += want;
      this.at += want;
      if (this.skip + want === len) {
        this.pos += RECORD_HEADER + len;
        this.skip = 0;
      } else this.skip += want;
    }
    return { records, gap };
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** The oldest offset the log still holds. */
  private oldest(): number | undefined {
    for (const name of [OUTPUT_LOG_PREVIOUS, OUTPUT_LOG]) {
      const s = scanHead(path.join(this.dir, name));
      if (s !== undefined) return s;
    }
    return undefined;
  }

  /** Opens the segment holding `at` and finds its record; false if none holds it. */
  private open(): boolean {
    for (const name of [OUTPUT_LOG, OUTPUT_LOG_PREVIOUS]) {
      let fd: number;
      try {
        fd = fs.openSync(path.join(this.dir, name), 'r');
      } catch {
        continue;
      }
      const base = readBase(fd);
      if (base === undefined || base > this.at) {
        fs.closeSync(fd);
        continue;
      }
      // Walk its records to the one holding `at`.
      const size = fs.fstatSync(fd).size;
      let pos = HEADER;
      let off = base;
      const h = Buffer.alloc(RECORD_HEADER);
      while (pos + RECORD_HEADER <= size) {
        fs.readSync(fd, h, 0, RECORD_HEADER, pos);
        const len = h.readUInt32BE(1);
        if (pos + RECORD_HEADER + len > size || off + len > this.at) break;
        pos += RECORD_HEADER + len;
        off += len;
      }
      // `at` past the end of what is written (an offset from elsewhere): from the end.
      if (off < this.at && pos + RECORD_HEADER > size) this.at = off;
      this.fd = fd;
      this.base = base;
      this.pos = pos;
      this.skip = this.at - off;
      return true;
    }
    return false;
  }

  /** At the end of the open segment: moves to the next one if the writer has started it. */
  private nextSegment(): boolean {
    const cur = scanHead(path.join(this.dir, OUTPUT_LOG));
    if (cur === undefined || cur === this.base) return false;
    // The writer rotated: whatever our segment holds is all it will hold.
    const size = fs.fstatSync(this.fd!).size;
    if (this.pos < size) return false;
    this.close();
    if (this.open()) return true;
    // Rotated twice meanwhile: what followed our segment is gone.
    return false;
  }
}

/** The base offset of the segment `file`, if there is one. */
function scanHead(file: string): number | undefined {
  return readSegment(file, readBase);
}
