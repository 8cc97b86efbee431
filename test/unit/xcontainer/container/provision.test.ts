// provision(): the one way a VM comes into being, run against a fake VM session. The
// keeper is a real process (a small node script that waits for `go` on fd 3, reads
// launch.json and answers as told), so "no keeper left" is a process that is gone;
// the cgroup, NIC and disk are fakes that record what exists. Every step is made to
// fail in turn, and each failure must leave nothing: no state dir, no cgroup, no NIC,
// no keeper.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunxError } from '../../../../src/errors';
import type { SpecConfig } from '../../../../src/bundle/spec-types';
import { type VmPlan, bootTimeoutMs, provision } from '../../../../src/xcontainer/container/provision';
import { type ProvisionHost, realProvisionHost } from '../../../../src/xcontainer/container/provision-host';
import type { RuntimeOptions } from '../../../../src/xcontainer/container/runtime-options';
import type { KeeperLaunch } from '../../../../src/xcontainer/keeper/keeper-launch';
import type { GuestNetwork } from '../../../../src/xcontainer/devices/net/config';
import type { ContainerRecord } from '../../../../src/xcontainer/state/container-record';

// The fake keeper: after `go`, answers per FAKE_KEEPER (ok, fail, exit) and, unless it
// exited, lives on until killed, as a keeper would.
const FAKE_KEEPER = `
const fs = require('fs'), net = require('net'), path = require('path');
const dir = process.argv[1];
const s = new net.Socket({ fd: 3, readable: true, writable: true });
let text = '';
s.on('data', (d) => {
  text += d;
  if (!text.includes('go\\n')) return;
  const launch = JSON.parse(fs.readFileSync(path.join(dir, 'launch.json'), 'utf8'));
  const how = process.env.FAKE_KEEPER;
  if (how === 'exit') process.exit(3);
  s.write(JSON.stringify(how === 'fail' ? { ok: false, error: 'guest agent said no' } : { ok: true, result: launch.id }) + '\\n');
});
setInterval(() => undefined, 1000);
`;

const temps: string[] = [];
const keepers: number[] = [];
afterEach(() => {
  for (const pid of keepers.splice(0)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true });
  delete process.env.FAKE_KEEPER;
  delete process.env.RUNX_BOOT_TIMEOUT_MS;
});

function tmp(): string {
  const t = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-provision-test-'));
  temps.push(t);
  return t;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

type Step = 'spawn' | 'plan' | 'cgroup' | 'nic' | 'disk' | 'endpoints' | 'ready-fail' | 'ready-exit' | 'after-ready' | 'pid-file';

/** A fake VM session: what it made, and the step it fails at. */
function fakeSession(failAt?: Step) {
  const t = tmp();
  const made = { cgroups: new Set<string>(), nics: new Set<string>(), keeperPids: [] as number[] };
  const fail = (step: Step) => {
    if (failAt === step) throw new RunxError('EHOST', `fake ${step} failed`);
  };
  const host: ProvisionHost = {
    ...realProvisionHost,
    spawnKeeper(dir, _detach, _stdio) {
      fail('spawn');
      const child = spawn(process.execPath, ['-e', FAKE_KEEPER, dir], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'], detached: true });
      keepers.push(child.pid!);
      made.keeperPids.push(child.pid!);
      return child;
    },
    makeCgroup(linux, id) {
      fail('cgroup');
      if (!linux?.cgroupsPath) return undefined;
      const dir = path.join(t, 'cgroup', id);
      fs.mkdirSync(dir, { recursive: true });
      made.cgroups.add(dir);
      return { root: path.join(t, 'cgroup'), layout: 'v2', dirs: { '': dir } };
    },
    async removeCgroup(cg) {
      for (const dir of Object.values(cg.dirs)) {
        fs.rmdirSync(dir);
        made.cgroups.delete(dir);
      }
    },
    setupNetwork(netnsPath) {
      fail('nic');
      made.nics.add(netnsPath);
      return nic(netnsPath, '02:00:00:00:00:01');
    },
    setupMigratedNetwork(netnsPath, guest) {
      fail('nic');
      made.nics.add(netnsPath);
      return { ...nic(netnsPath, guest.mac), ...guest };
    },
    teardownNetwork(net) {
      made.nics.delete(net.netnsPath);
    },
    buildRootfs(_rootfs, image) {
      fail('disk');
      fs.writeFileSync(image, 'ext4');
    },
    copySparse(from, to) {
      fail('disk');
      fs.copyFileSync(from, to);
    },
    qemuBuild: () => 'QEMU emulator version 7.2.0 (fake)',
  };
  return { t, made, host, fail };
}

const nic = (netnsPath: string, mac: string): GuestNetwork => ({ netnsPath, hostIf: 'eth0', tap: 'tap0_runx', mac, cidr: '10.0.0.2/24', mtu: 1500 });

const runtime = (root: string): RuntimeOptions => ({ root, accel: 'tcg', log: { format: 'text' }, systemdCgroup: false, boot: 'cold' });

function bundlePlan(t: string, over: Partial<VmPlan> = {}): VmPlan {
  const config: SpecConfig = { ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args: ['true'], cwd: '/' },
    linux: { cgroupsPath: '/runx-test/c1', namespaces: [{ type: 'network', path: '/run/netns/a' }] } } as SpecConfig;
  return {
    origin: { kind: 'bundle', rootfs: path.join(t, 'rootfs'), boot: 'cold' },
    configText: JSON.stringify(config),
    config,
    bundle: t,
    rootfs: path.join(t, 'rootfs'),
    nic: { kind: 'netns', netnsPath: '/run/netns/a' },
    qemuBinary: 'qemu-system-x86_64',
    accel: 'tcg',
    kernel: { path: '/k' },
    initramfs: { path: '/i' },
    shape: { memoryMiB: 128, vcpus: 1 },
    shares: [],
    agentCreate: [['args', ['true']]],
    ...over,
  };
}

describe('provision', () => {
  const steps: Step[] = ['spawn', 'plan', 'cgroup', 'nic', 'disk', 'endpoints', 'ready-fail', 'ready-exit', 'after-ready', 'pid-file'];
  for (const step of steps) {
    it(`leaves nothing when ${step} fails`, async () => {
      const s = fakeSession(step);
      const root = path.join(s.t, 'root');
      if (step === 'ready-fail') process.env.FAKE_KEEPER = 'fail';
      if (step === 'ready-exit') process.env.FAKE_KEEPER = 'exit';
      const p = provision({
        id: 'c1',
        runtime: runtime(root),
        keeper: { detach: false, stdio: 'ignore' },
        pidFile: step === 'pid-file' ? path.join(s.t, 'no-such-dir', 'pid') : path.join(s.t, 'pid'),
        plan: () => {
          s.fail('plan');
          if (step !== 'endpoints') return bundlePlan(s.t);
          return bundlePlan(s.t, { origin: { kind: 'incoming', diskBytes: 4096, endpoints: async () => {
            s.fail('endpoints');
            throw new Error('unreachable');
          } } });
        },
        afterReady: async () => s.fail('after-ready'),
      }, s.host);
      await expect(p).rejects.toThrow();
      expect(fs.existsSync(path.join(root, 'c1'))).toBe(false);
      expect([...s.made.cgroups]).toEqual([]);
      expect([...s.made.nics]).toEqual([]);
      expect(s.made.keeperPids.filter(alive)).toEqual([]);
      expect(fs.existsSync(path.join(s.t, 'pid'))).toBe(false);
      if (step !== 'spawn') expect(s.made.keeperPids.length).toBe(1);
    });
  }

  it('says why the VM did not come up, with the source\'s prefix', async () => {
    const s = fakeSession();
    process.env.FAKE_KEEPER = 'fail';
    await expect(provision({ id: 'c1', runtime: runtime(path.join(s.t, 'root')), keeper: { detach: false, stdio: 'ignore' },
      bootErrorPrefix: 'restore of c1 failed: ', plan: () => bundlePlan(s.t) }, s.host))
      .rejects.toMatchObject({ code: 'EBOOT', message: 'restore of c1 failed: guest agent said no' });
  });

  it('refuses a taken id and leaves the holder alone', async () => {
    const s = fakeSession();
    const root = path.join(s.t, 'root');
    fs.mkdirSync(path.join(root, 'c1'), { recursive: true });
    fs.writeFileSync(path.join(root, 'c1', 'state.json'), 'theirs');
    await expect(provision({ id: 'c1', runtime: runtime(root), keeper: { detach: false, stdio: 'ignore' }, plan: () => bundlePlan(s.t) }, s.host))
      .rejects.toMatchObject({ code: 'EEXIST' });
    expect(fs.readFileSync(path.join(root, 'c1', 'state.json'), 'utf8')).toBe('theirs');
    expect(s.made.keeperPids).toEqual([]);
  });

  it('makes a bundle\'s VM: record, config, disk, launch with the NIC\'s agent fields, pid file; its rollback undoes it', async () => {
    const s = fakeSession();
    const root = path.join(s.t, 'root');
    process.env.RUNX_BOOT_TIMEOUT_MS = '45000';
    let seen: ContainerRecord | undefined;
    const done = await provision({ id: 'c1', runtime: runtime(root), keeper: { detach: false, stdio: 'ignore' }, pidFile: path.join(s.t, 'pid'),
      plan: () => bundlePlan(s.t), afterReady: async (_k, rec) => { seen = rec; } }, s.host);
    const dir = path.join(root, 'c1');
    expect(fs.readFileSync(path.join(s.t, 'pid'), 'utf8')).toBe(String(done.keeper.pid));
    expect(seen?.keeperPid).toBe(done.keeper.pid);
    const rec = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as ContainerRecord;
    expect(rec).toMatchObject({ id: 'c1', status: 'creating', bundle: s.t, cgroup: { dirs: { '': path.join(s.t, 'cgroup', 'c1') } } });
    const launch = JSON.parse(fs.readFileSync(path.join(dir, 'launch.json'), 'utf8')) as KeeperLaunch;
    expect(launch.bootTimeoutMs).toBe(45000);
    expect(launch.cgroup).toEqual(rec.cgroup);
    expect(launch.qemu.network?.netnsPath).toBe('/run/netns/a');
    expect(launch.agentCreate.map(([k]) => k)).toContain('net.mac');
    expect(fs.readFileSync(path.join(dir, 'rootfs.ext4'), 'utf8')).toBe('ext4');
    expect(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe(bundlePlan(s.t).configText);
    // The VM's spec, derived once: what launch.json's QEMU part was made from.
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'vm-spec.json'), 'utf8'))).toMatchObject({
      qemuBuild: 'QEMU emulator version 7.2.0 (fake)', accel: 'tcg', cpu: 'max', kernel: '/k', initramfs: '/i', shape: launch.qemu.shape,
    });
    await done.rollback();
    expect(fs.existsSync(dir)).toBe(false);
    expect(alive(done.keeper.pid!)).toBe(false);
    expect([...s.made.cgroups]).toEqual([]);
    expect([...s.made.nics]).toEqual([]);
  });

  it('makes a checkpoint\'s VM: the disk copied, kernel and initramfs kept in the state dir, the saved MAC kept, no agent create', async () => {
    const s = fakeSession();
    const image = path.join(s.t, 'image');
    fs.mkdirSync(image);
    for (const f of ['rootfs.ext4', 'bzImage', 'initramfs.cpio']) fs.writeFileSync(path.join(image, f), `saved ${f}`);
    const root = path.join(s.t, 'root');
    const done = await provision({ id: 'c1', runtime: runtime(root), keeper: { detach: false, stdio: 'ignore' },
      plan: () => bundlePlan(s.t, {
        origin: { kind: 'image', disk: path.join(image, 'rootfs.ext4'), stateFile: path.join(image, 'vm.state'), status: 'running' },
        nic: { kind: 'netns', netnsPath: '/run/netns/a', mac: '02:aa:bb:cc:dd:ee', required: true },
        kernel: { copyFrom: path.join(image, 'bzImage') }, initramfs: { copyFrom: path.join(image, 'initramfs.cpio') }, agentCreate: [],
      }) }, s.host);
    const dir = path.join(root, 'c1');
    expect(fs.readFileSync(path.join(dir, 'rootfs.ext4'), 'utf8')).toBe('saved rootfs.ext4');
    expect(done.launch.qemu.kernel).toBe(path.join(dir, 'bzImage'));
    expect(fs.readFileSync(done.launch.qemu.initramfs, 'utf8')).toBe('saved initramfs.cpio');
    expect(done.launch.restore).toEqual({ stateFile: path.join(image, 'vm.state'), status: 'running' });
    expect(done.launch.qemu.network?.mac).toBe('02:aa:bb:cc:dd:ee');
    expect(done.launch.agentCreate).toEqual([]);
    await done.rollback();
  });

  it('makes a migration destination\'s VM with the host cgroup and the boot timeout, an empty disk of the source\'s size, the config naming this host\'s namespace', async () => {
    const s = fakeSession();
    const root = path.join(s.t, 'root');
    process.env.RUNX_BOOT_TIMEOUT_MS = '61000';
    const endpoints = { host: '127.0.0.1', nbdPort: 1, migratePort: 2, relay: true };
    const done = await provision({ id: 'c1', runtime: runtime(root), keeper: { detach: false, stdio: 'pipe' },
      plan: () => bundlePlan(s.t, {
        origin: { kind: 'incoming', diskBytes: 1 << 20, endpoints: async (net) => ({ ...endpoints, relay: net !== undefined }) },
        nic: { kind: 'migrated', netnsPath: '/run/netns/b', guest: { mac: '02:11:22:33:44:55', cidr: '10.0.0.2/24', mtu: 1500 } },
        kernel: { data: Buffer.from('k') }, initramfs: { data: Buffer.from('i') }, agentCreate: [],
      }) }, s.host);
    const dir = path.join(root, 'c1');
    expect(done.launch.cgroup?.dirs['']).toBe(path.join(s.t, 'cgroup', 'c1'));
    expect(done.launch.bootTimeoutMs).toBe(61000);
    expect(done.launch.incoming).toEqual(endpoints);
    expect(fs.statSync(path.join(dir, 'rootfs.ext4')).size).toBe(1 << 20);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as SpecConfig;
    expect(config.linux?.namespaces?.[0]?.path).toBe('/run/netns/b');
    expect(fs.readFileSync(done.launch.qemu.kernel, 'utf8')).toBe('k');
    await done.rollback();
    expect(fs.existsSync(dir)).toBe(false);
    expect([...s.made.cgroups]).toEqual([]);
  });

  it('a restore whose namespace has no interface for the saved NIC fails in one line and leaves nothing', async () => {
    const s = fakeSession();
    s.host.setupNetwork = () => undefined;
    const root = path.join(s.t, 'root');
    await expect(provision({ id: 'c1', runtime: runtime(root), keeper: { detach: false, stdio: 'ignore' },
      plan: () => bundlePlan(s.t, { nic: { kind: 'netns', netnsPath: '/run/netns/a', mac: '02:aa:bb:cc:dd:ee', required: true } }) }, s.host))
      .rejects.toMatchObject({ code: 'ECONFIG', message: expect.stringMatching(/^network namespace \/run\/netns\/a has no interface/) });
    expect(fs.existsSync(path.join(root, 'c1'))).toBe(false);
    expect(s.made.keeperPids.filter(alive)).toEqual([]);
  });

  it('takes the boot timeout from RUNX_BOOT_TIMEOUT_MS, else 30 s', () => {
    expect(bootTimeoutMs({})).toBe(30_000);
    expect(bootTimeoutMs({ RUNX_BOOT_TIMEOUT_MS: '60000' })).toBe(60_000);
    expect(bootTimeoutMs({ RUNX_BOOT_TIMEOUT_MS: 'x' })).toBe(30_000);
  });
});
