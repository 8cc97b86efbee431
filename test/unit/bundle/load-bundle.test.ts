import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../../../src/bundle/load-bundle';
import { defaultSpec } from '../../../src/bundle/default-spec';
import { ConfigError } from '../../../src/errors';

function bundleWith(config: unknown | string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-bundle-'));
  fs.mkdirSync(path.join(dir, 'rootfs'));
  fs.writeFileSync(path.join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

function fieldOfError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain('\n');
    return (err as ConfigError).field;
  }
  throw new Error('expected a ConfigError');
}

describe('loadBundle', () => {
  it('accepts runc\'s default spec and resolves the rootfs', () => {
    const dir = bundleWith(defaultSpec(false));
    const b = loadBundle(dir);
    expect(b.rootfs).toBe(path.join(dir, 'rootfs'));
    expect(b.config.process?.args).toEqual(['sh']);
  });

  it('names the field for each kind of bad config', () => {
    const spec = () => defaultSpec(false) as unknown as Record<string, any>;
    expect(fieldOfError(() => loadBundle(bundleWith('{"ociVersion": ')))).toBe('config.json');
    expect(fieldOfError(() => loadBundle(bundleWith({ ...spec(), ociVersion: '2.0.0' })))).toBe('ociVersion');
    const noArgs = spec(); delete noArgs.process.args;
    expect(fieldOfError(() => loadBundle(bundleWith(noArgs)))).toBe('process.args');
    const emptyArgs = spec(); emptyArgs.process.args = [];
    expect(fieldOfError(() => loadBundle(bundleWith(emptyArgs)))).toBe('process.args');
    const badRoot = spec(); badRoot.root.path = 'nope';
    expect(fieldOfError(() => loadBundle(bundleWith(badRoot)))).toBe('root.path');
    const badType = spec(); badType.process.user.uid = 'root';
    expect(fieldOfError(() => loadBundle(bundleWith(badType)))).toBe('process.user.uid');
    const badRlimit = spec(); badRlimit.process.rlimits = [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }];
    expect(fieldOfError(() => loadBundle(bundleWith(badRlimit)))).toBe('process.rlimits[0].type');
    const badNs = spec(); badNs.linux.namespaces = [{ type: 'bogus' }];
    expect(fieldOfError(() => loadBundle(bundleWith(badNs)))).toMatch(/^linux\.namespaces\[0\]/);
  });

  it('reports an unreadable bundle in one line', () => {
    expect(() => loadBundle('/no/such/bundle')).toThrow(/^cannot read \/no\/such\/bundle\/config.json: ENOENT$/);
  });
});
