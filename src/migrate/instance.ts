// Which container a migration carries, across hosts: ids are only unique per host, so
// a container coming back to a host where an id is held is recognised by an instance
// name, made at its first migration and kept in its state directory on every host.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { StateStore } from '../xcontainer';

const INSTANCE_FILE = 'instance';
export const MIGRATED_TO = 'io.runx.migrated-to';

export function readInstance(store: StateStore, id: string): string | undefined {
  try {
    return fs.readFileSync(store.file(id, INSTANCE_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function instanceOf(store: StateStore, id: string): string {
  const known = readInstance(store, id);
  if (known) return known;
  const made = randomBytes(16).toString('hex');
  writeInstance(store, id, made);
  return made;
}

export function writeInstance(store: StateStore, id: string, instance: string): void {
  fs.writeFileSync(store.file(id, INSTANCE_FILE), `${instance}\n`);
}
