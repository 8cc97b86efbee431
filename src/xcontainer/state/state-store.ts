// The state directory: <root>/<id>/ holds state.json (written atomically: temp file,
// fsync, rename), the keeper's socket, the VM's sockets, console log and root disk.
// Mutating verbs take a per-container lock kept in <root>/@locks/, a name no id can
// take ('@' is not allowed in ids), so `delete` can remove the directory while
// holding it and no id can pose as another's lock. The root and every state
// directory are 0700 (as runc's root): config.json holds the process's environment
// (secrets), the disk its files.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError, containerNotFound } from '../../errors';
import { type ContainerRecord, effectiveStatus } from './container-record';
import { isSameProcessAlive } from '../host/host';
import { recordProblem } from './record-trust';
import type { ContainerStatus, SpecConfig } from '../../bundle/spec-types';

export const DEFAULT_ROOT = '/run/runx';
const ID_PATTERN = /^[\w+\-.]+$/;
/** Only the owner (root) may enter: the root, each state directory, the lock directory. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
const LOCK_DIR = '@locks';
/**
 * runc's id alphabet, and a length every name made from an id fits in NAME_MAX (255):
 * the longest is the systemd unit of runc's default cgroup, "runc-<id>.scope" (11 more).
 * Docker's and containerd's ids are 64 hex digits.
 */
export const MAX_ID_LENGTH = 255 - 'runc-'.length - '.scope'.length;

export function validateId(id: string): void {
  if (!id) throw new RunxError('EUSAGE', 'container id cannot be empty');
  if (id.length > MAX_ID_LENGTH) throw new RunxError('EUSAGE', `invalid container id: ${id.length} characters, at most ${MAX_ID_LENGTH}`);
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') throw new RunxError('EUSAGE', `invalid container id format: ${id}`);
}

/**
 * A state.json that does not parse, or that names places it may not (record-trust.ts,
 * `why`): `list` shows it, `delete --force` removes it.
 */
export class CorruptStateError extends RunxError {
  constructor(readonly id: string, readonly file: string, why = 'is corrupt') {
    super('ESTATE', `container "${id}": state file ${file} ${why}`);
  }
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return path.join(this.root, id);
  }

  file(id: string, name: string): string {
    return path.join(this.dir(id), name);
  }

  /** Claims the id by creating its directory; fails if the id is taken. */
  claim(id: string): string {
    validateId(id);
    this.makeRoot();
    try {
      fs.mkdirSync(this.dir(id), { mode: PRIVATE_DIR_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RunxError('EEXIST', `container with id exists: ${id}`);
      throw err;
    }
    return this.dir(id);
  }

  /** The root, made 0700 if missing (an existing one keeps its mode, as with runc). */
  makeRoot(): void {
    fs.mkdirSync(this.root, { recursive: true, mode: PRIVATE_DIR_MODE });
  }

  write(rec: ContainerRecord): void {
    validateId(rec.id);
    writeFileAtomic(this.file(rec.id, 'state.json'), `${JSON.stringify(rec)}\n`);
  }

  /** Reads the record; throws runc's "does not exist" when there is none. */
  read(id: string): ContainerRecord {
    validateId(id);
    let text: string;
    try {
      text = fs.readFileSync(this.file(id, 'state.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw containerNotFound(id);
      throw err;
    }
    let rec: ContainerRecord;
    try {
      rec = JSON.parse(text) as ContainerRecord;
    } catch {
      throw new CorruptStateError(id, this.file(id, 'state.json'));
    }
    const untrusted = recordProblem(rec, id);
    if (untrusted) throw new CorruptStateError(id, this.file(id, 'state.json'), untrusted);
    return rec;
  }

  /** The record with its status corrected for a dead keeper. */
  readLive(id: string): { rec: ContainerRecord; status: ContainerStatus; keeperAlive: boolean } {
    const rec = this.read(id);
    const keeperAlive = rec.keeperPid > 0 && isSameProcessAlive(rec.keeperPid, rec.keeperStartTime);
    return { rec, status: effectiveStatus(rec, keeperAlive), keeperAlive };
  }

  /** The config.json copied at create: later edits to the bundle have no effect. */
  config(id: string): SpecConfig {
    return JSON.parse(fs.readFileSync(this.file(id, 'config.json'), 'utf8')) as SpecConfig;
  }

  /** The ids under the root; none if it does not exist yet, an error if it cannot be read. */
  ids(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return [];
      throw new RunxError('EUSAGE', `cannot read --root ${this.root}: ${code === 'ENOTDIR' ? 'not a directory' : code}`);
    }
    return names.filter((n) => ID_PATTERN.test(n) && fs.existsSync(path.join(this.root, n, 'state.json'))).sort();
  }

  remove(id: string): void {
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  /** Loads the lock's module ahead of withLock, for a caller with time to spare. */
  static preloadLock(): void {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require('proper-lockfile');
  }

  /** Runs `fn` holding the container's lock (waits up to ~10 s for another holder). */
  async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    validateId(id);
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const lockfile = require('proper-lockfile') as typeof import('proper-lockfile');
    const locks = path.join(this.root, LOCK_DIR);
    fs.mkdirSync(locks, { recursive: true, mode: PRIVATE_DIR_MODE });
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.dir(id), {
        realpath: false,
        lockfilePath: path.join(locks, id),
        stale: 15_000,
        retries: { retries: 200, minTimeout: 20, maxTimeout: 100, factor: 1.2 },
      });
    } catch (err) {
      throw new RunxError('ELOCKED', `container "${id}" is locked by another runx call`, { cause: err });
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => { /* lock already gone */ });
    }
  }
}

export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', PRIVATE_FILE_MODE);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
