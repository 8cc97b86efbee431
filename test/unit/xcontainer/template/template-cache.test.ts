import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  listTemplates, markTemplateUsed, MAX_UNUSED_MS, pruneTemplates, removeTemplateDir, TEMPLATE_FORMAT, templatesDir,
} from '../../../../src/xcontainer/template/template-cache';

const DAY = 24 * 3600 * 1000;
let work: string;
const savedCacheDir = process.env.RUNX_CACHE_DIR;

/** A fake template directory: a manifest (or the given text, or none) and a small vm.ram. */
function fakeTemplate(name: string, o: { format?: number; manifest?: string | null; ageDays?: number } = {}): string {
  const dir = path.join(templatesDir(), name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'vm.ram'), Buffer.alloc(8192, 1));
  if (o.manifest !== null) {
    fs.writeFileSync(path.join(dir, 'template.json'), o.manifest ?? JSON.stringify({
      format: o.format ?? TEMPLATE_FORMAT, key: name, qemuBuild: 'QEMU 7.2', created: new Date().toISOString(),
      shape: { memoryMiB: 256, vcpus: 1 }, accel: 'tcg',
    }));
  }
  // Last: writing inside the directory moves its mtime, which is its "last used".
  const t = new Date(Date.now() - (o.ageDays ?? 0) * DAY);
  fs.utimesSync(dir, t, t);
  return dir;
}

/** A pid no process has: one that has just exited. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

const names = (entries: { name: string }[]): string[] => entries.map((e) => e.name).sort();

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-template-cache-'));
  process.env.RUNX_CACHE_DIR = path.join(work, 'cache');
});

afterEach(() => {
  if (savedCacheDir === undefined) delete process.env.RUNX_CACHE_DIR;
  else process.env.RUNX_CACHE_DIR = savedCacheDir;
  fs.rmSync(work, { recursive: true, force: true });
});

describe('template prune', () => {
  it('removes other formats, missing or unreadable manifests and templates unused for over 7 days', () => {
    fakeTemplate('current');
    fakeTemplate('used-6-days-ago', { ageDays: 6 });
    fakeTemplate('format-1', { format: 1 });
    fakeTemplate('format-4', { format: 4 });
    fakeTemplate('no-manifest', { manifest: null });
    fakeTemplate('garbled', { manifest: '{"format":2,' });
    fakeTemplate('not-an-object', { manifest: '2' });
    fakeTemplate('unused-8-days', { ageDays: 8 });
    fs.writeFileSync(path.join(templatesDir(), 'inputs.verified.json'), '{}');

    const removed = pruneTemplates();
    expect(names(removed)).toEqual(['format-1', 'format-4', 'garbled', 'no-manifest', 'not-an-object', 'unused-8-days']);
    expect(removed.find((e) => e.name === 'format-1')!.reason).toBe(`format 1, not ${TEMPLATE_FORMAT}`);
    expect(removed.find((e) => e.name === 'unused-8-days')!.reason).toMatch(/^not used for 8\.0 days$/);
    expect(fs.readdirSync(templatesDir()).sort()).toEqual(['current', 'inputs.verified.json', 'used-6-days-ago']);
    expect(pruneTemplates()).toEqual([]);
  });

  it('never removes a kept template (the current default shape), whatever its state', () => {
    fakeTemplate('default-old', { ageDays: 30 });
    fakeTemplate('default-format-1', { format: 1 });
    fakeTemplate('other-old', { ageDays: 30 });
    const keep = ['default-old', 'default-format-1'];
    const listed = listTemplates({ keep });
    expect(listed.find((e) => e.name === 'default-old')).toMatchObject({ status: 'ready', reason: expect.stringMatching(/^kept: /) });
    expect(names(pruneTemplates({ keep }))).toEqual(['other-old']);
    expect(fs.readdirSync(templatesDir()).sort()).toEqual(['default-format-1', 'default-old']);
  });

  it('keeps the build and removal directories of live processes, removes those of dead ones', () => {
    const dead = deadPid();
    fakeTemplate(`aaaa.tmp-${process.pid}`, { manifest: null });
    fakeTemplate(`bbbb.old-${process.pid}`, { ageDays: 30 });
    fakeTemplate(`cccc.tmp-${dead}`, { manifest: null });
    fakeTemplate(`dddd.old-${dead}`);
    expect(listTemplates().find((e) => e.name === `aaaa.tmp-${process.pid}`)).toMatchObject({ status: 'building', reason: `being built by pid ${process.pid}` });
    const removed = pruneTemplates();
    expect(names(removed)).toEqual([`cccc.tmp-${dead}`, `dddd.old-${dead}`]);
    expect(removed[0]!.reason).toMatch(/^left by pid \d+, which is gone$/);
    expect(fs.readdirSync(templatesDir()).sort()).toEqual([`aaaa.tmp-${process.pid}`, `bbbb.old-${process.pid}`]);
  });

  it('counts from the last use: a template marked used is no longer stale', () => {
    const dir = fakeTemplate('old', { ageDays: 10 });
    expect(listTemplates()[0]).toMatchObject({ name: 'old', status: 'stale' });
    markTemplateUsed(dir);
    expect(Date.now() - fs.statSync(dir).mtimeMs).toBeLessThan(60_000);
    expect(listTemplates()[0]).toMatchObject({ name: 'old', status: 'ready' });
    expect(pruneTemplates()).toEqual([]);
    // and the limit is the one given
    expect(names(pruneTemplates({ now: Date.now() + MAX_UNUSED_MS + DAY }))).toEqual(['old']);
  });

  it('marking a template that is gone does not throw (create never fails for it)', () => {
    expect(() => markTemplateUsed(path.join(templatesDir(), 'gone'))).not.toThrow();
  });
});

describe('template list', () => {
  it('finds nothing where there is no cache', () => {
    expect(listTemplates()).toEqual([]);
  });

  it('reports the manifest, the last use and the allocated size of sparse files', () => {
    const dir = fakeTemplate('k1', { ageDays: 2 });
    const ram = path.join(dir, 'vm.ram');
    fs.truncateSync(ram, 256 * 1024 * 1024);
    const t = new Date(Date.now() - 2 * DAY);
    fs.utimesSync(dir, t, t);
    const [e] = listTemplates();
    expect(e).toMatchObject({ name: 'k1', key: 'k1', format: TEMPLATE_FORMAT, accel: 'tcg', shape: { memoryMiB: 256, vcpus: 1 }, status: 'ready' });
    expect(e!.lastUsed).toBe(t.toISOString());
    expect(e!.sizeBytes).toBeGreaterThan(0);
    expect(e!.sizeBytes).toBeLessThan(1024 * 1024);
  });

  it('lists the oldest use first', () => {
    fakeTemplate('new');
    fakeTemplate('old', { ageDays: 3 });
    expect(listTemplates().map((e) => e.name)).toEqual(['old', 'new']);
  });
});

describe('removing a template directory', () => {
  it('renames it away before deleting it, and a missing one is fine', () => {
    const dir = fakeTemplate('k1');
    removeTemplateDir(dir);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readdirSync(templatesDir())).toEqual([]);
    expect(() => removeTemplateDir(dir)).not.toThrow();
  });
});
