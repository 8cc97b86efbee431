// Opening files whose names come from untrusted input (a checkpoint image, a template
// in the cache, a state directory) without ever leaving the directory they belong in.
// Node has no openat(2), but /proc/self/fd/<dirfd>/<name> is the same walk: the kernel
// resolves the fd's magic link to the directory already open (a rename or symlink
// swap of its path changes nothing), then one component, `name`, opened with
// O_NOFOLLOW. O_NONBLOCK makes a fifo or a device open return at once instead of
// hanging (fstat then refuses it); O_NOCTTY keeps a tty from becoming ours.
// What is accepted is exactly a regular file, with one link (a hard link could be a
// host file's other name), on the directory's own device (a bind mount could be).
import fs from 'node:fs';
import { RunxError } from '../../errors';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY, O_CLOEXEC } = fs.constants as typeof fs.constants & { O_CLOEXEC?: number };
const CLOEXEC = O_CLOEXEC ?? 0o2000000;

/** One path component: not empty, no `/`, not `.` or `..`, no NUL. */
export function isPlainName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !name.includes('/') && !name.includes('\0') && name !== '.' && name !== '..';
}

/** A directory held open: the files in it are opened relative to it. */
export class OpenDir {
  private constructor(readonly path: string, readonly fd: number, readonly stat: fs.Stats) {}

  /**
   * Opens `dir` (its last component not followed if `noFollow`). `what` names it in
   * errors ("checkpoint image /x").
   */
  static open(dir: string, what: string, noFollow = false): OpenDir {
    let fd: number;
    try {
      fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | CLOEXEC | (noFollow ? O_NOFOLLOW : 0));
    } catch (err) {
      // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR, not ELOOP.
      const link = noFollow && fs.lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink();
      const code = link ? 'ELOOP' : (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist'
        : code === 'ENOTDIR' ? 'is not a directory'
          : code === 'ELOOP' ? 'is a symbolic link (give the directory itself)'
            : `cannot be opened (${code})`;
      throw new RunxError('ECONFIG', `${what} ${why}`);
    }
    return new OpenDir(dir, fd, fs.fstatSync(fd));
  }

  /** The path that reaches `name` through the open directory, never through `this.path`. */
  at(name: string): string {
    if (!isPlainName(name)) throw new RunxError('ECONFIG', `invalid file name ${JSON.stringify(name)}`);
    return `/proc/self/fd/${this.fd}/${name}`;
  }

  names(): string[] {
    return fs.readdirSync(`/proc/self/fd/${this.fd}`);
  }

  /**
   * Opens `name` for reading if it is a regular file with one link on this directory's
   * device; throws a one-line error naming what it is instead. ENOENT is returned as
   * undefined when `optional`.
   */
  openFile(name: string, what: string, optional = false): { fd: number; stat: fs.Stats } | undefined {
    let fd: number;
    try {
      fd = fs.openSync(this.at(name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | CLOEXEC);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && optional) return undefined;
      const why = code === 'ENOENT' ? 'is missing'
        : code === 'ELOOP' ? 'is a symbolic link'
          : `cannot be opened (${code})`;
      throw new RunxError('ECONFIG', `${what}: ${name} ${why}`);
    }
    const stat = fs.fstatSync(fd);
    const bad = !stat.isFile() ? `is ${kindOf(stat)}, not a regular file`
      : stat.nlink !== 1 ? `has ${stat.nlink} hard links (it may be another file's name)`
        : stat.dev !== this.stat.dev ? 'is on another device than its directory' : undefined;
    if (bad) {
      fs.closeSync(fd);
      throw new RunxError('ECONFIG', `${what}: ${name} ${bad}`);
    }
    return { fd, stat };
  }

  /** The whole of a small file, opened as openFile does; refuses one over `maxBytes`. */
  readSmall(name: string, what: string, maxBytes: number): Buffer {
    const { fd, stat } = this.openFile(name, what)!;
    try {
      if (stat.size > maxBytes) throw new RunxError('ECONFIG', `${what}: ${name} is ${stat.size} bytes, more than the ${maxBytes} it may be`);
      const buf = Buffer.alloc(stat.size);
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, got);
        if (n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    } finally {
      fs.closeSync(fd);
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

export function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a fifo';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'a regular file';
}

/**
 * Checks without following links that `file` is a regular file with one link inside
 * `dir`'s device, for files another program (QEMU) opens by path: a symlink or hard
 * link there is refused with `what` naming it.
 */
export function assertPlainFile(file: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    throw new RunxError('ECONFIG', `${what}: ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  if (!st.isFile()) throw new RunxError('ECONFIG', `${what}: ${file} is ${kindOf(st)}, not a regular file`);
  if (st.nlink !== 1) throw new RunxError('ECONFIG', `${what}: ${file} has ${st.nlink} hard links`);
}

/** Checks without following links that `dir` is a directory (not a symlink to one). */
export function assertPlainDir(dir: string, what: string): void {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw new RunxError('ECONFIG', `${what}: ${dir} is ${kindOf(st)}, not a directory`);
}
