// The keeper's host -> container refreshes of carried binds, over real directories
// and inotify: which binds are watched, that a change (also in a directory made after
// the watch began) asks for its slot, and that nothing is asked while refreshes may
// not run or are held, one refresh being done after.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StagedBind } from '../../../../../src/bundle/mount-plan';
import { CarryRefresher, MAX_DIR_HINTS, type SlotRefresh, refreshedBinds } from '../../../../../src/xcontainer/devices/carry/refresh';

let dir: string;
const open: CarryRefresher[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-refresh-'));
});

afterEach(() => {
  for (const r of open.splice(0)) r.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function bind(source: string, readonly: boolean, carried = true): StagedBind {
  return { source, readonly, recursive: true, carried, destination: `/m/${path.basename(source)}` };
}

function refresher(binds: StagedBind[], may: () => boolean = () => true) {
  const sent: SlotRefresh[][] = [];
  let finish: (() => void) | undefined;
  let slow = false;
  const r = new CarryRefresher(refreshedBinds(binds), {
    may,
    send: (slots) => {
      sent.push(slots);
      if (!slow) return Promise.resolve();
      return new Promise<void>((resolve) => { finish = resolve; });
    },
  });
  open.push(r);
  return { r, sent, slowly: () => { slow = true; }, finish: () => finish?.() };
}

describe('refreshedBinds', () => {
  it('keeps read-only binds and read-write files; never a read-write directory, nor a live share', () => {
    for (const d of ['ro', 'rw', 'live']) fs.mkdirSync(path.join(dir, d));
    fs.writeFileSync(path.join(dir, 'hosts'), 'x');
    const binds = [bind(path.join(dir, 'ro'), true), bind(path.join(dir, 'rw'), false), bind(path.join(dir, 'hosts'), false), bind(path.join(dir, 'live'), true, false)];
    expect(refreshedBinds(binds)).toEqual([
      { slot: 0, source: path.join(dir, 'ro'), kind: 'dir' },
      { slot: 2, source: path.join(dir, 'hosts'), kind: 'file' },
    ]);
  });

  it('leaves out a source that is not there', () => {
    expect(refreshedBinds([bind(path.join(dir, 'gone'), true)])).toEqual([]);
  });
});

describe('CarryRefresher', () => {
  it('asks for the slot of a file rewritten in place, once for a burst of writes', async () => {
    const hosts = path.join(dir, 'hosts');
    fs.writeFileSync(hosts, 'a\n');
    fs.mkdirSync(path.join(dir, 'rw'));
    const { sent } = refresher([bind(path.join(dir, 'rw'), false), bind(hosts, false)]);
    for (let i = 0; i < 5; i++) fs.appendFileSync(hosts, `${i}\n`);
    await vi.waitFor(() => expect(sent).toEqual([[{ slot: 1 }]]), { timeout: 5000 });
  });

  it('names the directories that changed, parents first; a directory made later is watched and named too', async () => {
    const cfg = path.join(dir, 'cfg');
    fs.mkdirSync(cfg);
    const { sent } = refresher([bind(cfg, true)]);
    fs.mkdirSync(path.join(cfg, 'a', 'b'), { recursive: true });
    await vi.waitFor(() => expect(sent.length).toBe(1), { timeout: 5000 });
    expect(sent[0]![0]!.dirs?.[0]).toBe('.');
    expect(sent[0]![0]!.dirs).toContain('a');
    // The watch of a/b is set up when a's event comes; wait for the copy of that one to settle.
    await new Promise((r) => setTimeout(r, 400));
    const before = sent.length;
    fs.writeFileSync(path.join(cfg, 'a', 'b', 'key'), 'v2');
    await vi.waitFor(() => expect(sent.length).toBe(before + 1), { timeout: 5000 });
    expect(sent.at(-1)).toEqual([{ slot: 0, dirs: ['a/b'] }]);
  });

  it('asks nothing while it may not, and once when kicked after', async () => {
    const cfg = path.join(dir, 'cfg');
    fs.mkdirSync(cfg);
    let may = false;
    const { r, sent } = refresher([bind(cfg, true)], () => may);
    fs.writeFileSync(path.join(cfg, 'k'), '1');
    fs.writeFileSync(path.join(cfg, 'k'), '2');
    await new Promise((res) => setTimeout(res, 600));
    expect(sent).toEqual([]);
    may = true;
    r.kick();
    await vi.waitFor(() => expect(sent).toEqual([[{ slot: 0, dirs: ['.'] }]]), { timeout: 5000 });
  });

  it('asks for the whole slot when more directories changed than it names', async () => {
    const cfg = path.join(dir, 'cfg');
    for (let i = 0; i <= MAX_DIR_HINTS; i++) fs.mkdirSync(path.join(cfg, `d${i}`), { recursive: true });
    let may = false;
    const { r, sent } = refresher([bind(cfg, true)], () => may);
    for (let i = 0; i <= MAX_DIR_HINTS; i++) fs.writeFileSync(path.join(cfg, `d${i}`, 'k'), 'x');
    await new Promise((res) => setTimeout(res, 600));
    may = true;
    r.kick();
    await vi.waitFor(() => expect(sent).toEqual([[{ slot: 0 }]]), { timeout: 5000 });
  });

  it('hold waits for the refresh under way and keeps others back until released', async () => {
    const cfg = path.join(dir, 'cfg');
    fs.mkdirSync(cfg);
    const { r, sent, slowly, finish } = refresher([bind(cfg, true)]);
    slowly();
    fs.writeFileSync(path.join(cfg, 'k'), '1');
    await vi.waitFor(() => expect(sent.length).toBe(1), { timeout: 5000 });
    let held = false;
    const holding = r.hold().then((release) => { held = true; return release; });
    await new Promise((res) => setTimeout(res, 50));
    expect(held).toBe(false);
    finish();
    const release = await holding;
    fs.writeFileSync(path.join(cfg, 'k'), '2');
    await new Promise((res) => setTimeout(res, 600));
    expect(sent.length).toBe(1);
    release();
    await vi.waitFor(() => expect(sent.length).toBe(2), { timeout: 5000 });
  });
});
