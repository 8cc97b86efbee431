// The state directory: <root>/<id>/ holds state.json (written atomically: temp file,
// fsync, rename), the keeper's socket, the VM's sockets, console log and root disk.
// Mutating verbs take a per-container lock kept beside the directory, so `delete`
// can remove the directory while holding it.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError, containerNotFound } from '../../errors';
import { type ContainerRecord, effectiveStatus } from './container-record';
import { isSameProcessAlive } from '../host/host';
import { checkRecord } from './record-trust';
import type { ContainerStatus, SpecConfig } from '../../bundle/spec-types';

export const DEFAULT_ROOT = '/run/runx';
const ID_PATTERN = /^[\w+\-.]+$/;

export function validateId(id: string): void {
  if (!id) throw new RunxError('EUSAGE', 'container id cannot be empty');
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') throw new RunxError('EUSAGE', `invalid container id format: ${id}`);
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
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      fs.mkdirSync(this.dir(id), { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RunxError('EEXIST', `container with id exists: ${id}`);
      throw err;
    }
    return this.dir(id);
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
      throw new RunxError('ESTATE', `container "${id}": state file ${this.file(id, 'state.json')} is corrupt`);
    }
    return checkRecord(rec, id, this.file(id, 'state.json'));
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

  ids(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch {
      return [];
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
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.dir(id), {
        realpath: false,
        lockfilePath: path.join(this.root, `.${id}.lock`),
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
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
