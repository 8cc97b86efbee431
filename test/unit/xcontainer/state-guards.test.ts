// Ids that fit every derived name, the lock namespace, private modes, and a claim that
// a concurrent delete took away.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_ID_LENGTH, StateStore, validateId } from '../../../src/xcontainer/state/state-store';
import { ClaimGuard } from '../../../src/xcontainer/state/claim-guard';

describe('container ids', () => {
  it('takes runc\'s alphabet up to 244 characters (64-hex ids fit)', () => {
    expect(MAX_ID_LENGTH).toBe(244);
    expect(() => validateId('a'.repeat(64))).not.toThrow();
    expect(() => validateId('a'.repeat(244))).not.toThrow();
    expect(() => validateId('a'.repeat(245))).toThrow('invalid container id: 245 characters, at most 244');
    expect(() => validateId('@locks')).toThrow(/invalid container id format/);
  });
});

describe('the state store', () => {
  it('makes the root and state directories 0700 and keeps locks apart from ids', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-unit-'));
    const store = new StateStore(path.join(base, 'root'));
    const dir = store.claim('.c1.lock');
    expect(fs.statSync(store.root).mode & 0o777).toBe(0o700);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    // c1's lock is not the directory of the container ".c1.lock"
    await store.withLock('c1', async () => {
      expect(fs.existsSync(path.join(store.root, '@locks', 'c1'))).toBe(true);
    });
    expect(fs.existsSync(dir)).toBe(true);
    fs.rmSync(base, { recursive: true, force: true });
  });
  it('lists nothing for a missing root and refuses one that is a file', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-unit-'));
    expect(new StateStore(path.join(base, 'none')).ids()).toEqual([]);
    fs.writeFileSync(path.join(base, 'file'), '');
    expect(() => new StateStore(path.join(base, 'file')).ids()).toThrow(/cannot read --root .*file: not a directory/);
    fs.rmSync(base, { recursive: true, force: true });
  });
});

describe('ClaimGuard', () => {
  it('tells a directory removed under a create', () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-unit-'));
    const dir = path.join(base, 'c1');
    fs.mkdirSync(dir);
    const claim = new ClaimGuard('c1', dir);
    const err = new Error('boom');
    expect(claim.explain(err)).toBe(err);
    fs.rmdirSync(dir);
    expect(claim.held()).toBe(false);
    expect((claim.explain(err) as Error).message).toMatch(/was deleted/);
    expect(() => claim.check()).toThrow('container "c1" was deleted (delete --force) while it was being created');
    fs.rmSync(base, { recursive: true, force: true });
  });
});
