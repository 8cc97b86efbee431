// Where a migration's destination puts the container's bind mounts. They arrive on
// the carry disk (devices/carry), so no host path is shared from the wire: the
// destination only decides where each bind's data is written back when the
// container ends here. A path from config_json is taken only inside a --volume-root
// this host's `runx serve` was given (an engine's volume store, the same path on
// every host); any other bind gets a directory of runx's own under --root,
// @volumes/<id>/<slot> (@: no container id has it; kept after delete, as an engine keeps a named volume). A Prepare with share_paths, a live share, a path that
// leaves its volume root or a read-write bind's path this host cannot write is refused in one line.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import { LIVE_SHARE_ANNOTATION, isBindMount, parseOptions, type StagedBind } from '../bundle/mount-plan';
import type { SpecConfig } from '../bundle/spec-types';
import type { PrepareRequest } from './proto';

const MS_RDONLY = 1;
const MS_REC = 16384;

/** Throws a one-line error if the request asks for any host path to be shared. */
export function refuseWireShares(req: Pick<PrepareRequest, 'sharePaths' | 'configJson' | 'containerId'>): void {
  if (req.sharePaths.length) {
    throw new RunxError('ECONFIG', `Prepare of ${req.containerId}: share_paths is refused (${req.sharePaths.length} path(s)): a destination shares no host path a migration names`);
  }
  const config = parseConfig(req);
  if ((config.mounts ?? []).some(isBindMount) && config.annotations?.[LIVE_SHARE_ANNOTATION] !== undefined) {
    throw new RunxError('ECONFIG', `Prepare of ${req.containerId}: config_json keeps bind mounts live host shares (${LIVE_SHARE_ANNOTATION}), which a migration cannot carry`);
  }
}

function parseConfig(req: Pick<PrepareRequest, 'configJson' | 'containerId'>): SpecConfig {
  try {
    return JSON.parse(req.configJson) as SpecConfig;
  } catch {
    throw new RunxError('ECONFIG', `Prepare of ${req.containerId}: config_json is not JSON`);
  }
}

export interface PlacedBinds {
  binds: StagedBind[];
  /** config_json with each bind's source replaced by where it is placed here. */
  configText: string;
  /** Bytes the carried data may need here (the carry disk's size). */
  carryBytes: number;
  /** What was made here for them, deepest first: removed if the migration fails. */
  made: string[];
}

/** Lexically within root (itself resolved); makeUnder refuses a symlink below it. */
function insideRoot(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Makes `p` (a directory or an empty file) and any missing directory above it up
 * to `root`, refusing a symlink or a wrong kind on the way; returns what it made.
 */
function makeUnder(root: string, p: string, kind: 'dir' | 'file', what: string): string[] {
  const made: string[] = [];
  let at = root;
  const parts = path.relative(root, p).split(path.sep);
  parts.forEach((part, i) => {
    at = path.join(at, part);
    const last = i === parts.length - 1;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(at);
    } catch { /* missing: made below */ }
    if (st) {
      const ok = last && kind === 'file' ? st.isFile() : st.isDirectory();
      if (!ok) throw new RunxError('ECONFIG', `${what}: ${at} is ${st.isSymbolicLink() ? 'a symlink' : `not a ${last && kind === 'file' ? 'regular file' : 'directory'}`} here`);
      return;
    }
    if (last && kind === 'file') fs.closeSync(fs.openSync(at, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o644));
    else fs.mkdirSync(at, { mode: 0o755 });
    made.unshift(at);
  });
  return made;
}

/**
 * A read-write bind is written back here at the container's end: a path that cannot
 * take it (a read-only mount, no permission) is refused now, not found out then, when
 * the source no longer has the data.
 */
function mustBeWritable(p: string, what: string): void {
  try {
    fs.accessSync(p, fs.constants.W_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new RunxError('ECONFIG', `${what}: ${p} is not writable here (${e.message.split(',')[0]}), and the container's writes are written back there at its end`);
  }
}

/**
 * The binds of the Prepare's container, placed on this host; nothing made when it
 * throws. `ownDir`: runx's directory for binds outside every volume root.
 */
export function placeBinds(req: Pick<PrepareRequest, 'configJson' | 'containerId' | 'bundle' | 'carryBytes' | 'carriedKinds'>,
  volumeRoots: readonly string[], ownDir: string): PlacedBinds {
  const config = parseConfig(req);
  const mounts = config.mounts ?? [];
  const kinds = req.carriedKinds ?? [];
  const carryBytes = Number(req.carryBytes ?? 0);
  const bindCount = mounts.filter(isBindMount).length;
  if (bindCount !== kinds.length) {
    throw new RunxError('ECONFIG', `Prepare of ${req.containerId}: config_json has ${bindCount} bind mount(s) but carried_kinds names ${kinds.length} (a source older than carried mounts?)`);
  }
  if (bindCount && !carryBytes) throw new RunxError('ECONFIG', `Prepare of ${req.containerId}: bind mounts but no carry disk (carry_bytes 0)`);
  if (!bindCount) return { binds: [], configText: req.configJson, carryBytes: 0, made: [] };
  const roots = volumeRoots.map((r) => fs.realpathSync(r));
  const made: string[] = [];
  const binds: StagedBind[] = [];
  try {
    let slot = 0;
    for (const [i, m] of mounts.entries()) {
      if (!isBindMount(m)) continue;
      const kind = kinds[slot];
      if (kind !== 'dir' && kind !== 'file') throw new RunxError('ECONFIG', `Prepare of ${req.containerId}: carried_kinds[${slot}] is "${String(kind)}", not dir or file`);
      const what = `Prepare of ${req.containerId}: mounts[${i}] (${m.destination})`;
      const wanted = m.source ? path.resolve(req.bundle || '/', m.source) : '';
      const root = roots.find((r) => insideRoot(wanted, r));
      const placed = root ? wanted : path.join(ownDir, String(slot));
      if (!root && !fs.existsSync(ownDir)) {
        fs.mkdirSync(ownDir, { recursive: true, mode: 0o700 });
        made.push(ownDir);
      }
      made.unshift(...makeUnder(root ?? ownDir, placed, kind, what));
      const { flags } = parseOptions(m.options ?? []);
      if ((flags & MS_RDONLY) === 0) mustBeWritable(placed, what);
      binds.push({ source: placed, readonly: (flags & MS_RDONLY) !== 0, recursive: (flags & MS_REC) !== 0, carried: true, destination: m.destination });
      mounts[i] = { ...m, source: placed };
      slot++;
    }
  } catch (err) {
    removeMade(made);
    throw err;
  }
  return { binds, configText: JSON.stringify({ ...config, mounts }), carryBytes, made };
}

/** Undoes placeBinds (a failed migration leaves nothing behind). */
export function removeMade(made: readonly string[]): void {
  for (const p of made) fs.rmSync(p, { recursive: true, force: true });
}
