// Host -> container updates of carried binds after create (docs/mounts.md): the keeper
// watches the host sources of read-only binds and of read-write file binds and, a
// moment after a change, has the agent copy those slots from the share onto the carry
// disk (`carry to=guest`, docs/protocol/agent.md). A read-write directory is never
// refreshed: the copy makes the container's side the host's, and would undo the
// container's own writes there. A refresh mounts the VM's share, which QEMU cannot
// save or send, so none runs unless `may` says so (started, running here, nothing
// holding them back: a checkpoint, a migration); a change seen meanwhile waits, and
// one refresh is done once they may run again.
import fs from 'node:fs';
import { log } from '../../../log';
import { messageOf } from '../../../errors';
import type { StagedBind } from '../../../bundle/mount-plan';
import { type SourceWatch, watchSource } from './watch-source';

/** A change is copied once the source has been quiet this long (an update is many writes)... */
export const REFRESH_DEBOUNCE_MS = 200;
/** ...or this long after the first change, for a source that never goes quiet. */
export const REFRESH_MAX_WAIT_MS = 2000;
/** Changed directories named per slot at most; past it the whole slot is compared. */
export const MAX_DIR_HINTS = 64;

export interface RefreshedBind {
  slot: number;
  source: string;
  kind: 'file' | 'dir';
}

/**
 * The carried binds a refresh keeps up to date, by slot: read-only ones, and
 * read-write files. A source missing here (a destination's placed path removed since)
 * is left out, said in one line.
 */
export function refreshedBinds(binds: readonly StagedBind[]): RefreshedBind[] {
  const out: RefreshedBind[] = [];
  binds.forEach((b, slot) => {
    if (b.carried !== true) return;
    let st: fs.Stats;
    try {
      st = fs.statSync(b.source);
    } catch (err) {
      log().warn(`carried bind ${b.destination ?? slot}: its source ${b.source} is not watched: ${messageOf(err)}`);
      return;
    }
    const kind = st.isDirectory() ? 'dir' : 'file';
    if (kind === 'dir' && !b.readonly) return;
    out.push({ slot, source: b.source, kind });
  });
  return out;
}

/**
 * A slot to copy, and the only directories of it that changed (relative, '.' for its
 * own, parents first), or all of it: the agent then compares those directories'
 * entries only, not the whole tree (each entry costs a 9p round trip).
 */
export interface SlotRefresh {
  slot: number;
  dirs?: string[];
}

export interface RefreshDeps {
  /** Has the agent copy these slots onto the carry disk; rejects with the agent's reason. */
  send(slots: SlotRefresh[]): Promise<void>;
  /** Whether a refresh may run now (the container started, its VM running here). */
  may(): boolean;
}

export class CarryRefresher {
  private readonly watches: SourceWatch[] = [];
  /** Per slot: the directories that changed, or null for all of it. */
  private readonly dirty = new Map<number, Set<string> | null>();
  private firstDirtyAt = 0;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private holds = 0;
  private closed = false;

  constructor(binds: readonly RefreshedBind[], private readonly deps: RefreshDeps) {
    for (const b of binds) {
      try {
        this.watches.push(watchSource(b.source, b.kind, (dir) => this.changed(b.slot, dir)));
      } catch (err) {
        log().warn(`carried bind ${b.source}: not watched, host changes will not reach the container: ${messageOf(err)}`);
      }
    }
  }

  /** The facts `may` reads changed: changes seen meanwhile are refreshed now if they may be. */
  kick(): void {
    if (this.dirty.size) this.schedule(REFRESH_DEBOUNCE_MS);
  }

  /**
   * Keeps refreshes back until the returned release, once the one under way (if any)
   * is done: the VM's share is unmounted then, so QEMU can save or send the VM.
   */
  async hold(): Promise<() => void> {
    this.holds++;
    await this.inFlight;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.kick();
    };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of this.watches) w.close();
  }

  private changed(slot: number, dir?: string): void {
    if (this.closed) return;
    if (!this.dirty.size) this.firstDirtyAt = Date.now();
    const dirs = this.dirty.has(slot) ? this.dirty.get(slot)! : new Set<string>();
    if (dirs && dir !== undefined && (dirs.has(dir) || dirs.size < MAX_DIR_HINTS)) this.dirty.set(slot, dirs.add(dir));
    else this.dirty.set(slot, null);
    const waited = Date.now() - this.firstDirtyAt;
    this.schedule(waited >= REFRESH_MAX_WAIT_MS ? 0 : Math.min(REFRESH_DEBOUNCE_MS, REFRESH_MAX_WAIT_MS - waited));
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), ms);
  }

  private flush(): void {
    this.timer = undefined;
    // Not now: what is dirty stays, for kick() or the end of the copy under way.
    if (this.closed || this.inFlight || this.holds > 0 || !this.deps.may() || !this.dirty.size) return;
    const slots: SlotRefresh[] = [...this.dirty].sort(([a], [b]) => a - b)
      .map(([slot, dirs]) => (dirs ? { slot, dirs: parentsFirst([...dirs]) } : { slot }));
    this.dirty.clear();
    this.inFlight = this.deps.send(slots)
      .catch((err: unknown) => log().warn(`carried binds ${slots.map((s) => s.slot).join(',')}: host changes not copied to the container: ${messageOf(err)}`))
      .finally(() => {
        this.inFlight = undefined;
        // Changes that came during the copy may not be in it.
        this.kick();
      });
  }
}

/** A parent's copy can make a child whole: it comes first. */
function parentsFirst(dirs: string[]): string[] {
  const depth = (d: string) => (d === '.' ? 0 : d.split('/').length);
  return dirs.sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
}
