// restoreBinds: host paths come from the restoring bundle only; the manifest's shares
// only have to agree with it in number.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { restoreBinds } from '../../../src/checkpoint/restore-shares';
import { vitalDifference } from '../../../src/checkpoint/config-compat';
import type { CheckpointManifest } from '../../../src/checkpoint/manifest';
import type { SpecConfig } from '../../../src/bundle/spec-types';

const manifestWith = (shares: unknown, files: Record<string, unknown> = {}) => ({ shares, files } as unknown as CheckpointManifest);
const bindTo = (source: string): SpecConfig => ({ mounts: [{ destination: '/d', type: 'bind', source, options: ['rbind'] }] } as SpecConfig);

describe('restore binds', () => {
  it('ignores the manifest\'s host paths and takes the bundle\'s', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'runx-rs-')));
    const binds = restoreBinds('/img', manifestWith([{ tag: 'runx0', hostPath: '/', readonly: false }], { 'carry.ext4': {} }), bindTo(dir), { config: bindTo(dir), dir });
    expect(binds).toEqual([{ source: dir, readonly: false, recursive: true, carried: true, destination: '/d' }]);
    // The saved VM's binds must be the bundle's: as many, each carried as it was, and a carry disk with them.
    expect(() => restoreBinds('/img', manifestWith([{ tag: 'runx0', binds: [{}, {}] }], { 'carry.ext4': {} }), bindTo(dir), { config: bindTo(dir), dir }))
      .toThrow('checkpoint image /img was saved with 2 bind mount(s); the bundle\'s config.json gives 1');
    expect(() => restoreBinds('/img', manifestWith([{ tag: 'runx0', binds: [{ carried: false }] }], { 'carry.ext4': {} }), bindTo(dir), { config: bindTo(dir), dir }))
      .toThrow(/bind mount \/d was saved as a live share, and the bundle's config.json .* makes it carried/);
    expect(() => restoreBinds('/img', manifestWith([{ tag: 'runx0' }]), bindTo(dir), { config: bindTo(dir), dir })).toThrow(/has no carry disk/);
  });
  it('refuses a manifest whose share count is not the bundle\'s, or binds with no bundle', () => {
    expect(() => restoreBinds('/img', manifestWith([{ tag: 'runx0', hostPath: '/' }]), {}, { config: {} as SpecConfig, dir: '/' }))
      .toThrow('checkpoint image /img was saved with 1 share device(s); the bundle\'s config.json gives 0');
    expect(() => restoreBinds('/img', manifestWith('x'), {}, undefined)).toThrow(/no valid list of share device/);
    expect(() => restoreBinds('/img', manifestWith([]), bindTo('/'), undefined)).toThrow(/restore it with a --bundle whose config.json names them/);
    expect(restoreBinds('/img', manifestWith([]), {}, undefined)).toEqual([]);
  });
  it('matches the bundle\'s binds to the saved slots by container path, whatever their order (Podman\'s restore --import)', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'runx-rs-')));
    for (const f of ['hosts', 'hostname', 'data']) fs.mkdirSync(path.join(dir, f));
    const mount = (d: string, prop: string) => ({ destination: `/${d}`, type: 'bind', source: path.join(dir, d), options: ['rbind', prop] });
    const saved = { mounts: ['hosts', 'hostname', 'data'].map((d) => mount(d, 'rprivate')) } as SpecConfig;
    const again = { mounts: ['data', 'hostname', 'hosts'].map((d) => mount(d, 'private')) } as SpecConfig;
    const savedBinds = ['hosts', 'hostname', 'data'].map((d) => ({ destination: `/${d}`, carried: true }));
    const binds = restoreBinds('/img', manifestWith([{ tag: 'runx0', binds: savedBinds }], { 'carry.ext4': {} }), saved, { config: again, dir });
    expect(binds.map((b) => b.source)).toEqual(['hosts', 'hostname', 'data'].map((d) => path.join(dir, d)));
    // the same mounts, reordered and "private" for "rprivate": not a difference
    expect(vitalDifference(saved, again)).toBeUndefined();
    // another source, or a mount more, is
    expect(vitalDifference(saved, { mounts: [...again.mounts!.slice(1), mount('hosts', 'private'), { ...mount('data', 'private'), source: '/tmp' }] } as SpecConfig)).toBe('mounts');
    expect(() => restoreBinds('/img', manifestWith([{ tag: 'runx0', binds: [{ destination: '/elsewhere', carried: true }, ...savedBinds.slice(1)] }], { 'carry.ext4': {} }), saved, { config: again, dir }))
      .toThrow('checkpoint image /img has a bind mount at /elsewhere; the bundle\'s config.json has none there');
  });
});
