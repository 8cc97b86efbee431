// The templates directory of the runx cache (<cache>/templates/<key>/): its layout,
// each template's "last used" mark, listing and pruning. Building and checking a
// template is template.ts's; this file only reads manifests and removes directories.
//
// Each input change (kernel, initramfs, QEMU build, template format) makes a new key,
// so old directories pile up, each with a sparse vm.ram of 20–40 MB allocated. Prune
// removes a directory whose manifest is of another format or unreadable, a build
// directory (<key>.tmp-<pid>) or one being removed (<key>.old-<pid>) whose process
// is gone, and a template not used for more than 7 days; never one the caller keeps
// (the current inputs' template for the default shape).
//
// Removing a template while VMs started from it run is safe on Linux: each maps
// vm.ram copy-on-write (MAP_PRIVATE), and the mapping holds the inode, so the pages
// it has not written are still read from the removed file. A directory is first
// renamed away, so its path never shows half a template: a `create` checking it then
// finds none and builds one, and a keeper whose QEMU had not opened its files yet
// boots cold (keeper.ts).
import fs from 'node:fs';
import path from 'node:path';
import { messageOf } from '../../errors';
import { log } from '../../log';
import type { Accel } from '../vm/accel';
import { cacheDir } from '../host/cache-dir';
import type { VmShape } from '../vm/qemu-argv';
import type { VmDevices } from '../devices/vm-devices';

/** 2: guest RAM in vm.ram, left out of vm.state. 3: a template per device set (NIC, 9p shares). */
export const TEMPLATE_FORMAT = 3;
export const MANIFEST = 'template.json';
/** A template not used for longer than this is stale. */
export const MAX_UNUSED_MS = 7 * 24 * 3600 * 1000;
/** `<key>.tmp-<pid>`: a build in progress; `<key>.old-<pid>`: a template being removed. */
const WORK_DIR = /^(.*)\.(tmp|old)-(\d+)$/;

/** template.json: what a template was built from and the digests of its two files. */
export interface TemplateManifest {
  format: number;
  key: string;
  qemuBuild: string;
  created: string;
  stateSha256: string;
  stateSize: number;
  ramSha256: string;
  ramSize: number;
  /** Recorded since runx could list templates; older manifests lack them. */
  accel?: Accel;
  shape?: VmShape;
  /** Since format 3. */
  devices?: VmDevices;
}

export function templatesDir(): string {
  return path.join(cacheDir(), 'templates');
}

/**
 * Marks a template used now: its directory's mtime (one utimensat). On every create's
 * path, so it never fails: a mark that could not be set only makes prune see it older.
 */
export function markTemplateUsed(dir: string): void {
  const now = new Date();
  try {
    fs.utimesSync(dir, now, now);
  } catch (err) {
    log().debug(`cannot mark VM template ${path.basename(dir)} used: ${messageOf(err)}`);
  }
}

/**
 * Removes a template directory: renamed away first (one step, so its path holds a
 * whole template or none), then deleted. Missing is fine.
 */
export function removeTemplateDir(dir: string): void {
  const old = `${dir}.old-${process.pid}`;
  fs.rmSync(old, { recursive: true, force: true });
  try {
    fs.renameSync(dir, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  fs.rmSync(old, { recursive: true, force: true });
}

export type TemplateStatus = 'ready' | 'building' | 'stale';

/** One directory under templates/, as `runx template list` shows it. */
export interface TemplateEntry {
  /** The directory's name: the key, or `<key>.tmp-<pid>` for a build in progress. */
  name: string;
  dir: string;
  /** From the manifest; undefined where it is missing or unreadable. */
  key?: string;
  format?: number;
  accel?: Accel;
  shape?: VmShape;
  devices?: VmDevices;
  created?: string;
  /** The directory's mtime (markTemplateUsed), ISO 8601. */
  lastUsed: string;
  /** Allocated bytes (the files are sparse), not their length. */
  sizeBytes: number;
  status: TemplateStatus;
  /** Why it is stale, or why prune keeps it anyway. */
  reason?: string;
}

export interface TemplateCacheOptions {
  /** Keys never stale: the current inputs' template for the default shape. */
  keep?: readonly string[];
  /** Milliseconds since the epoch; tests set it. */
  now?: number;
  maxUnusedMs?: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function allocatedBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const st = fs.lstatSync(path.join(dir, e.name), { throwIfNoEntry: false });
    if (!st) continue;
    total += st.blocks * 512;
    if (st.isDirectory()) total += allocatedBytes(path.join(dir, e.name));
  }
  return total;
}

function readManifest(dir: string): Partial<TemplateManifest> | undefined {
  try {
    const m: unknown = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8'));
    return typeof m === 'object' && m !== null ? m as Partial<TemplateManifest> : undefined;
  } catch {
    return undefined;
  }
}

const days = (ms: number): string => `${(ms / 86_400_000).toFixed(1)} days`;

function entryOf(name: string, dir: string, st: fs.Stats, o: TemplateCacheOptions): TemplateEntry {
  const now = o.now ?? Date.now();
  const maxUnused = o.maxUnusedMs ?? MAX_UNUSED_MS;
  let sizeBytes = 0;
  try {
    sizeBytes = allocatedBytes(dir);
  } catch { /* removed meanwhile */ }
  const base = { name, dir, lastUsed: st.mtime.toISOString(), sizeBytes };
  const work = WORK_DIR.exec(name);
  if (work) {
    const pid = Number(work[3]);
    return pidAlive(pid)
      ? { ...base, status: 'building', reason: `${work[2] === 'tmp' ? 'being built' : 'being removed'} by pid ${pid}` }
      : { ...base, status: 'stale', reason: `left by pid ${pid}, which is gone` };
  }
  const m = readManifest(dir);
  const entry: TemplateEntry = {
    ...base, key: typeof m?.key === 'string' ? m.key : undefined, format: typeof m?.format === 'number' ? m.format : undefined,
    accel: m?.accel, shape: m?.shape, devices: m?.devices, created: typeof m?.created === 'string' ? m.created : undefined, status: 'ready',
  };
  const stale = !m ? `${MANIFEST} is missing or unreadable`
    : entry.format !== TEMPLATE_FORMAT ? `format ${entry.format ?? 'unknown'}, not ${TEMPLATE_FORMAT}`
      : now - st.mtimeMs > maxUnused ? `not used for ${days(now - st.mtimeMs)}` : undefined;
  if (o.keep?.includes(name)) return { ...entry, reason: stale ? `kept: the current default-shape template (${stale})` : undefined };
  return stale ? { ...entry, status: 'stale', reason: stale } : entry;
}

/** Every directory under templates/, oldest use first; none if there is no cache. */
export function listTemplates(o: TemplateCacheOptions = {}): TemplateEntry[] {
  const root = templatesDir();
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const entries: TemplateEntry[] = [];
  for (const name of names) {
    const dir = path.join(root, name);
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    // Beside the templates: inputs.verified.json and its temporary files.
    if (st?.isDirectory()) entries.push(entryOf(name, dir, st, o));
  }
  return entries.sort((a, b) => a.lastUsed.localeCompare(b.lastUsed));
}

/** Removes the stale templates (rules at the top of this file); returns what it removed. */
export function pruneTemplates(o: TemplateCacheOptions = {}): TemplateEntry[] {
  const removed: TemplateEntry[] = [];
  for (const e of listTemplates(o)) {
    if (e.status !== 'stale') continue;
    if (WORK_DIR.test(e.name)) fs.rmSync(e.dir, { recursive: true, force: true });
    else removeTemplateDir(e.dir);
    log().debug(`removed VM template ${e.name} (${e.reason})`);
    removed.push(e);
  }
  return removed;
}
