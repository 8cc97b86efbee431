// Inputs that name paths, other than checkpoint images: a state.json or launch.json
// pointing elsewhere (record-trust.ts, launch-trust.ts) and a template whose files are
// links (template.ts via path-safety.ts). Each is refused, or anchored to its own
// directory, and the victim file is never touched.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../../src/xcontainer/state/state-store';
import { anchorLaunch, trustedGuestFiles } from '../../../src/xcontainer/state/launch-trust';
import type { KeeperLaunch } from '../../../src/xcontainer/keeper/keeper-launch';
import { verifyTemplate } from '../../../src/xcontainer/template/template';
import { OpenDir } from '../../../src/xcontainer/host/path-safety';

let work: string;
const saved = { cache: process.env.RUNX_CACHE_DIR, assets: process.env.RUNX_ASSET_DIR };

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-paths-'));
  fs.writeFileSync(path.join(work, 'victim'), 'host secret\n');
  process.env.RUNX_CACHE_DIR = path.join(work, 'cache');
  process.env.RUNX_ASSET_DIR = path.join(work, 'assets');
});
afterEach(() => {
  fs.rmSync(work, { recursive: true, force: true });
  process.env.RUNX_CACHE_DIR = saved.cache;
  process.env.RUNX_ASSET_DIR = saved.assets;
});

function launchOf(over: Partial<KeeperLaunch['qemu']>, rest: Partial<KeeperLaunch> = {}): KeeperLaunch {
  return {
    id: 'c1', root: '/elsewhere', qemuBinary: 'qemu', agentCreate: [], bootTimeoutMs: 1, log: {} as KeeperLaunch['log'],
    qemu: { accel: 'tcg', qemuBuild: 'QEMU emulator version 7.2.22', kernel: '', initramfs: '', shape: { memoryMiB: 256, vcpus: 1 }, shares: [], ...over }, ...rest,
  } as KeeperLaunch;
}

describe('a state directory is its own authority', () => {
  it('refuses a state.json of another container, and one naming a cgroup outside the cgroup fs', () => {
    const store = new StateStore(path.join(work, 'root'));
    store.claim('a');
    fs.writeFileSync(store.file('a', 'state.json'), JSON.stringify({ id: '../../victim-dir', status: 'stopped', keeperPid: 0 }));
    expect(() => store.read('a')).toThrow(/state file .* is of another container \("..\/..\/victim-dir"\)/);
    fs.writeFileSync(store.file('a', 'state.json'), JSON.stringify({ id: 'a', status: 'stopped', keeperPid: 0, cgroup: { root: '/sys/fs/cgroup', layout: 'v2', dirs: { '': '/sys/fs/cgroup/../../etc' } } }));
    expect(() => store.read('a')).toThrow(/names cgroup \/sys\/fs\/cgroup\/..\/..\/etc, which is not under \/sys\/fs\/cgroup/);
  });

  it('anchors launch.json to its directory: root, id and a restore state come from the path', () => {
    const dir = path.join(work, 'root', 'c1');
    const l = anchorLaunch(dir, launchOf({}, { id: '../x', root: '/etc', restore: { stateFile: path.join(work, 'victim'), status: 'running' } }));
    expect(l.root).toBe(path.join(work, 'root'));
    expect(l.id).toBe('c1');
    expect(l.restore?.stateFile).toBe(path.join(dir, 'vm.state'));
    expect(() => anchorLaunch(dir, launchOf({}, { template: { stateFile: path.join(work, 'victim'), diskBytes: 1 } }))).toThrow(/not in the template cache/);
  });

  it('does not take a guest kernel from launch.json unless it is runx\'s or the state directory\'s own', () => {
    const dir = path.join(work, 'root', 'c1');
    fs.mkdirSync(dir, { recursive: true });
    expect(() => trustedGuestFiles(dir, { kernel: path.join(work, 'victim'), initramfs: path.join(work, 'victim') }))
      .toThrow(/names .*victim as the guest kernel, which is neither this runx's nor in the container's state directory/);
    fs.writeFileSync(path.join(dir, 'bzImage'), 'k');
    fs.symlinkSync(path.join(work, 'victim'), path.join(dir, 'initramfs.cpio'));
    expect(() => trustedGuestFiles(dir, { kernel: path.join(dir, 'bzImage'), initramfs: path.join(dir, 'initramfs.cpio') }))
      .toThrow(/initramfs.cpio is a symbolic link, not a regular file/);
  });
});

describe('templates', () => {
  it('a template whose files are links is refused (and so rebuilt), never read through', () => {
    const dir = path.join(work, 'cache', 'templates', 'k');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'template.json'), '{}');
    fs.writeFileSync(path.join(dir, 'vm.state'), 's');
    fs.symlinkSync(path.join(work, 'victim'), path.join(dir, 'vm.ram'));
    expect(() => verifyTemplate(dir, 'k', 'b')).toThrow(/vm.ram is a symbolic link, not a regular file/);
    const other = path.join(work, 'cache', 'templates', 'k2');
    fs.symlinkSync(dir, other);
    expect(() => verifyTemplate(other, 'k2', 'b')).toThrow(/is a symbolic link, not a directory/);
  });
});

describe('OpenDir', () => {
  it('opens a name only beneath the directory it holds open', () => {
    const d = OpenDir.open(work, 'dir');
    try {
      expect(() => d.at('../etc/passwd')).toThrow(/invalid file name/);
      expect(() => d.openFile('nope', 'dir')).toThrow('dir: nope is missing');
      const f = d.openFile('victim', 'dir')!;
      fs.closeSync(f.fd);
      expect(f.stat.size).toBe(12);
    } finally {
      d.close();
    }
  });
});

describe('a migration Prepare', () => {
  it('refuses names that would reach outside the state directory, before acting on any', async () => {
    const { checkPrepareNames, checkNetnsName } = await import('../../../src/migrate/prepare-trust');
    const req = { containerId: 'c1', instance: 'ab12', netnsPath: '', nic: undefined } as unknown as Parameters<typeof checkPrepareNames>[0];
    expect(() => checkPrepareNames({ ...req, containerId: '../../etc' })).toThrow(/invalid container id format/);
    expect(() => checkPrepareNames({ ...req, instance: '../x' })).toThrow(/instance must be up to 64 hex digits/);
    expect(() => checkPrepareNames({ ...req, netnsPath: '/run/netns/../../etc/shadow' })).toThrow(/is not an absolute, normalised path/);
    expect(() => checkNetnsName(path.join(work, 'victim'), 'network namespace')).toThrow(/victim is not a network namespace on this host/);
    expect(() => checkNetnsName('/proc/self/ns/net', 'network namespace')).not.toThrow();
    expect(() => checkPrepareNames(req)).not.toThrow();
  });
});
