// Watches a carried bind's host source for changes (devices/carry/refresh.ts acts on
// them). A file is watched itself (its inode: a rewrite in place, as dockerd rewrites
// /etc/hosts; a file replaced by rename is not what the VM's staged bind holds
// either). A directory is watched per directory, not with Node 20's recursive
// fs.watch: on Linux that one stats and watches every file, synchronously, on the
// keeper's event loop; a directory's own inotify watch already reports its files'
// writes, so one watch per directory sees everything. Symlinks are not followed.
import fs from 'node:fs';
import path from 'node:path';
import { log } from '../../../log';
import { messageOf } from '../../../errors';

/** Directories watched per bind at most; past it the rest of the tree goes unseen, said once. */
export const MAX_WATCHED_DIRS = 4096;

export interface SourceWatch {
  close(): void;
}

/**
 * Calls onChange on any change under `source` (a file or a directory) until closed,
 * with, for a directory, the directory that changed (its entries or their content),
 * relative to `source` ('.' for itself). A directory made after the watch began is
 * named too once its own watch is set, for what was written to it before.
 */
export function watchSource(source: string, kind: 'file' | 'dir', onChange: (dir?: string) => void): SourceWatch {
  if (kind === 'file') {
    const w = fs.watch(source, { persistent: false }, () => onChange());
    w.on('error', (err) => log().warn(`carried bind ${source}: watch ended: ${messageOf(err)}`));
    return { close: () => w.close() };
  }
  return new TreeWatch(source, onChange);
}

class TreeWatch implements SourceWatch {
  /** Watched directories, with the inode watched: a directory removed and made again is a new one. */
  private readonly dirs = new Map<string, { watcher: fs.FSWatcher; ino: number }>();
  private closed = false;
  private full = false;

  constructor(private readonly root: string, private readonly onChange: (dir: string) => void) {
    this.add(root, false);
  }

  close(): void {
    this.closed = true;
    for (const { watcher } of this.dirs.values()) watcher.close();
    this.dirs.clear();
  }

  /** Watches `dir` and the directories below it not watched yet; `tell`: name each to onChange. */
  private add(dir: string, tell: boolean): void {
    const todo = [dir];
    while (todo.length && !this.closed) {
      const d = todo.pop()!;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(d);
      } catch {
        continue;
      }
      if (!st.isDirectory()) continue;
      const had = this.dirs.get(d);
      if (had?.ino === st.ino) continue;
      had?.watcher.close();
      if (this.dirs.size >= MAX_WATCHED_DIRS) {
        if (!this.full) log().warn(`carried bind ${this.root}: more than ${MAX_WATCHED_DIRS} directories; changes below the first ${MAX_WATCHED_DIRS} do not reach the container`);
        this.full = true;
        return;
      }
      let watcher: fs.FSWatcher;
      try {
        watcher = fs.watch(d, { persistent: false }, (_event, name) => this.changed(d, name));
      } catch (err) {
        log().warn(`carried bind ${this.root}: cannot watch ${d}: ${messageOf(err)}`);
        continue;
      }
      watcher.on('error', () => this.drop(d, watcher));
      this.dirs.set(d, { watcher, ino: st.ino });
      if (tell) this.onChange(this.rel(d));
      try {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) todo.push(path.join(d, e.name));
      } catch { /* removed meanwhile: its parent's watch says so */ }
    }
  }

  private changed(dir: string, name: string | Buffer | null): void {
    if (this.closed) return;
    log().debug({ dir, name: name?.toString() }, 'carried bind source changed');
    if (!fs.existsSync(dir)) {
      const w = this.dirs.get(dir);
      if (w) this.drop(dir, w.watcher);
    } else if (name) {
      // A directory made (or moved) in: its own entries are watched from now on.
      this.add(path.join(dir, name.toString()), true);
    }
    this.onChange(this.rel(dir));
  }

  private rel(dir: string): string {
    return path.relative(this.root, dir) || '.';
  }

  private drop(dir: string, watcher: fs.FSWatcher): void {
    watcher.close();
    if (this.dirs.get(dir)?.watcher === watcher) this.dirs.delete(dir);
  }
}
