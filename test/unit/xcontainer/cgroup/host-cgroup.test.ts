import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, RunxError } from '../../../../src/errors';
import {
  type CgroupHost, cleanPath, createHostCgroup, joinHostCgroup, makeHostCgroup, removeHostCgroup,
  resolveHostCgroup, sharesToWeight, systemdCgroupPath, HOST_PIDS_FLOOR, hostPidsMax,
} from '../../../../src/xcontainer/cgroup/host-cgroup';

// Fake cgroup trees in a temporary directory: each hierarchy is a directory holding
// cgroup.procs (what marks a hierarchy), as a mounted cgroupfs would.
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

function tmpRoot(): string {
  const r = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-cgroup-test-'));
  roots.push(r);
  return r;
}

function put(file: string, text = ''): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

const mountLine = (n: number, root: string, mountpoint: string, type: string, superOpts: string) =>
  `${30 + n} 23 0:${30 + n} ${root} ${mountpoint} rw,relatime - ${type} ${type} ${superOpts}`;

/** A hybrid host as this project's machines have it, with pids mounted from /docker/abc. */
function v1Host(opts: { cpuset?: boolean } = {}): CgroupHost {
  const root = tmpRoot();
  const hierarchies: Array<[string, string, string]> = [
    ['cpu,cpuacct', '/', 'rw,cpu,cpuacct'],
    ['memory', '/', 'rw,memory'],
    ['pids', '/docker/abc', 'rw,pids'],
    ['systemd', '/', 'rw,xattr,name=systemd'],
  ];
  if (opts.cpuset !== false) hierarchies.push(['cpuset', '/', 'rw,cpuset']);
  const lines = [`31 1 0:28 / ${root} rw - tmpfs tmpfs rw,mode=755`];
  hierarchies.forEach(([name, mroot, superOpts], i) => {
    put(path.join(root, name, 'cgroup.procs'));
    lines.push(mountLine(i, mroot, path.join(root, name), 'cgroup', superOpts));
  });
  put(path.join(root, 'unified', 'cgroup.procs'));
  put(path.join(root, 'unified', 'cgroup.controllers'));
  lines.push(mountLine(9, '/', path.join(root, 'unified'), 'cgroup2', 'rw,nsdelegate'));
  fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpu'));
  fs.mkdirSync(path.join(root, 'not-a-hierarchy'));
  if (opts.cpuset !== false) {
    put(path.join(root, 'cpuset', 'cpuset.cpus'), '0-3\n');
    put(path.join(root, 'cpuset', 'cpuset.mems'), '0\n');
  }
  return {
    root,
    mountinfo: `${lines.join('\n')}\n`,
    selfCgroup: '9:name=systemd:/\n8:pids:/docker/abc\n4:memory:/process_api/x\n3:cpuset:/\n2:cpu,cpuacct:/\n0::/user.slice\n',
  };
}

function v2Host(own = '/user.slice/user-0.slice/session-1.scope'): CgroupHost {
  const root = tmpRoot();
  put(path.join(root, 'cgroup.procs'));
  put(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  return { root, mountinfo: `31 23 0:28 / ${root} rw - cgroup2 cgroup2 rw,nsdelegate\n`, selfCgroup: `0::${own}\n` };
}

const V1_NAMES = ['cpu,cpuacct', 'cpuset', 'memory', 'pids', 'systemd', 'unified'];

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('host cgroup: where cgroupsPath goes', () => {
  it('puts an absolute path below the root of every v1 hierarchy, unified included', () => {
    const host = v1Host();
    const cg = resolveHostCgroup('/default/c1', 'c1', false, host);
    expect(cg.layout).toBe('v1');
    expect(Object.keys(cg.dirs).sort()).toEqual(V1_NAMES);
    for (const name of V1_NAMES) expect(cg.dirs[name]).toBe(path.join(host.root, name, 'default/c1'));
  });

  it('puts a relative path below our own cgroup in each v1 hierarchy, as runc does', () => {
    const host = v1Host();
    const cg = resolveHostCgroup('ctr/c1', 'c1', false, host);
    expect(cg.dirs.memory).toBe(path.join(host.root, 'memory/process_api/x/ctr/c1'));
    // The pids mount shows /docker/abc as its root, and that is where we are.
    expect(cg.dirs.pids).toBe(path.join(host.root, 'pids/ctr/c1'));
    expect(cg.dirs['cpu,cpuacct']).toBe(path.join(host.root, 'cpu,cpuacct/ctr/c1'));
    expect(cg.dirs.unified).toBe(path.join(host.root, 'unified/user.slice/ctr/c1'));
  });

  it('without cgroupsPath uses runc\'s default, the id below our own cgroup', () => {
    const host = v1Host();
    expect(resolveHostCgroup(undefined, 'c9', false, host).dirs.memory).toBe(path.join(host.root, 'memory/process_api/x/c9'));
    expect(resolveHostCgroup('', 'c9', false, host).dirs.pids).toBe(path.join(host.root, 'pids/c9'));
  });

  it('cleans paths so that a relative one cannot climb out of where it starts', () => {
    expect(cleanPath('../../etc')).toBe('etc');
    expect(cleanPath('/a/../../b/')).toBe('/b');
    expect(cleanPath('a/./b//c')).toBe('a/b/c');
    const host = v1Host();
    expect(resolveHostCgroup('../../x', 'c1', false, host).dirs.memory).toBe(path.join(host.root, 'memory/process_api/x/x'));
  });

  it('refuses a path that is the hierarchy root itself', () => {
    const host = v1Host();
    for (const p of ['/', '/..', '.', '..']) {
      const err = thrown(() => resolveHostCgroup(p, 'c1', false, host));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toContain('linux.cgroupsPath');
    }
  });

  it('refuses a relative path when our own cgroup is outside the mounted part', () => {
    const host = { ...v1Host(), selfCgroup: '8:pids:/elsewhere\n4:memory:/\n3:cpuset:/\n2:cpu,cpuacct:/\n9:name=systemd:/\n0::/\n' };
    const err = thrown(() => resolveHostCgroup('c1', 'c1', false, host));
    expect(err).toBeInstanceOf(RunxError);
    expect(err.message).toContain('/elsewhere');
    // An absolute path does not depend on where we are.
    expect(resolveHostCgroup('/c1', 'c1', false, host).dirs.pids).toBe(path.join(host.root, 'pids/c1'));
  });

  it('on pure v2 puts an absolute path below the root and a relative one below our cgroup\'s parent', () => {
    const host = v2Host();
    const abs = resolveHostCgroup('/default/c1', 'c1', false, host);
    expect(abs).toEqual({ root: host.root, layout: 'v2', dirs: { '': path.join(host.root, 'default/c1') } });
    expect(resolveHostCgroup('c1', 'c1', false, host).dirs['']).toBe(path.join(host.root, 'user.slice/user-0.slice/c1'));
    const atRoot = v2Host('/');
    expect(resolveHostCgroup(undefined, 'c1', false, atRoot).dirs['']).toBe(path.join(atRoot.root, 'c1'));
  });

  it('fails in one line when nothing is mounted', () => {
    const err = thrown(() => resolveHostCgroup('/c1', 'c1', false, { root: tmpRoot(), selfCgroup: '', mountinfo: '' }));
    expect(err).toBeInstanceOf(RunxError);
    expect(err.message).toMatch(/^no cgroup hierarchy is mounted at /);
  });
});

describe('host cgroup: --systemd-cgroup', () => {
  it('names the scope as runc\'s systemd driver does', () => {
    expect(systemdCgroupPath('system.slice:docker:abc', 'c1')).toBe('/system.slice/docker-abc.scope');
    expect(systemdCgroupPath('a-b-c.slice:cri:x', 'c1')).toBe('/a.slice/a-b.slice/a-b-c.slice/cri-x.scope');
    expect(systemdCgroupPath('-.slice:p:x', 'c1')).toBe('/p-x.scope');
    expect(systemdCgroupPath(':p:x', 'c1')).toBe('/system.slice/p-x.scope');
    expect(systemdCgroupPath('user.slice::x', 'c1')).toBe('/user.slice/x.scope');
    expect(systemdCgroupPath('kubepods.slice:p:kubepods-pod1.slice', 'c1')).toBe('/kubepods.slice/kubepods-pod1.slice');
    expect(systemdCgroupPath(undefined, 'c1')).toBe('/system.slice/runc-c1.scope');
  });

  it('refuses what is not slice:prefix:name, in one line naming the field', () => {
    for (const bad of ['/default/c1', 'a:b', 'a:b:c:d', 'system:p:x', 'a--b.slice:p:x', '-a.slice:p:x', '.slice:p:x', 'system.slice:p:', 'system.slice:p:../../x', 'system.slice:a/b:x']) {
      const err = thrown(() => systemdCgroupPath(bad, 'c1'));
      expect(err, bad).toBeInstanceOf(ConfigError);
      expect(err.message).toContain('linux.cgroupsPath');
      expect(err.message).not.toContain('\n');
    }
  });

  it('puts the scope below the root of every hierarchy, without systemd', () => {
    const host = v1Host();
    const cg = resolveHostCgroup('system.slice:docker:abc', 'c1', true, host);
    for (const name of V1_NAMES) expect(cg.dirs[name]).toBe(path.join(host.root, name, 'system.slice/docker-abc.scope'));
    const v2 = v2Host();
    expect(resolveHostCgroup(undefined, 'c1', true, v2).dirs['']).toBe(path.join(v2.root, 'system.slice/runc-c1.scope'));
  });
});

describe('host cgroup: making, joining and removing', () => {
  it('on v1 makes every level, gives cpuset levels their parent\'s CPUs and nodes, and sets CPU limits only', () => {
    const host = v1Host();
    const cg = resolveHostCgroup('/runx/c1', 'c1', false, host);
    createHostCgroup(cg, { cpu: { quota: 50_000, period: 100_000, shares: 512 }, memory: { limit: 64 << 20 }, pids: { limit: 20 } });
    for (const dir of Object.values(cg.dirs)) expect(fs.statSync(dir).isDirectory()).toBe(true);
    const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8');
    expect(read(path.join(host.root, 'cpuset/runx'), 'cpuset.cpus')).toBe('0-3');
    expect(read(cg.dirs.cpuset!, 'cpuset.cpus')).toBe('0-3');
    expect(read(cg.dirs.cpuset!, 'cpuset.mems')).toBe('0');
    expect(read(cg.dirs['cpu,cpuacct']!, 'cpu.cfs_quota_us')).toBe('50000');
    expect(read(cg.dirs['cpu,cpuacct']!, 'cpu.cfs_period_us')).toBe('100000');
    expect(read(cg.dirs['cpu,cpuacct']!, 'cpu.shares')).toBe('512');
    // The container's memory limit is the guest's, not QEMU's; its small pids limit
    // reaches the host cgroup raised to what the keeper and QEMU need.
    expect(fs.readdirSync(cg.dirs.memory!)).toEqual([]);
    expect(read(cg.dirs.pids!, 'pids.max')).toBe(String(HOST_PIDS_FLOOR));
    expect(fs.existsSync(path.join(cg.dirs.unified!, 'pids.max'))).toBe(false);
    joinHostCgroup(cg, 4242);
    for (const dir of Object.values(cg.dirs)) expect(read(dir, 'cgroup.procs')).toBe('4242');
  });

  it('on v1 writes the container\'s own cpuset over the inherited one', () => {
    const host = v1Host();
    const cg = resolveHostCgroup('/c1', 'c1', false, host);
    createHostCgroup(cg, { cpu: { cpus: '1', mems: '0' } });
    expect(fs.readFileSync(path.join(cg.dirs.cpuset!, 'cpuset.cpus'), 'utf8')).toBe('1');
  });

  it('on v2 delegates controllers down to the leaf\'s parent and sets cpu.max, cpu.weight and cpuset', () => {
    const host = v2Host();
    const cg = resolveHostCgroup('/runx/c1', 'c1', false, host);
    createHostCgroup(cg, { cpu: { quota: 150_000, period: 100_000, shares: 1024, cpus: '0-1' }, memory: { limit: 1 << 30 } });
    const dir = cg.dirs['']!;
    const controllers = '+cpuset +cpu +io +memory +pids';
    expect(fs.readFileSync(path.join(host.root, 'cgroup.subtree_control'), 'utf8')).toBe(controllers);
    expect(fs.readFileSync(path.join(host.root, 'runx', 'cgroup.subtree_control'), 'utf8')).toBe(controllers);
    expect(fs.existsSync(path.join(dir, 'cgroup.subtree_control'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'cpu.max'), 'utf8')).toBe('150000 100000');
    expect(fs.readFileSync(path.join(dir, 'cpu.weight'), 'utf8')).toBe('39');
    expect(fs.readFileSync(path.join(dir, 'cpuset.cpus'), 'utf8')).toBe('0-1');
    expect(fs.existsSync(path.join(dir, 'memory.max'))).toBe(false);
  });

  it('sets pids.max to the container\'s pids limit, never below the floor, on v1 and v2', () => {
    const v1 = resolveHostCgroup('/c1', 'c1', false, v1Host());
    createHostCgroup(v1, { pids: { limit: 1000 } });
    expect(fs.readFileSync(path.join(v1.dirs.pids!, 'pids.max'), 'utf8')).toBe('1000');
    const v2 = resolveHostCgroup('/c1', 'c1', false, v2Host());
    createHostCgroup(v2, { pids: { limit: -1 } });
    expect(fs.readFileSync(path.join(v2.dirs['']!, 'pids.max'), 'utf8')).toBe('max');
    expect(hostPidsMax(undefined)).toBeUndefined();
    expect(hostPidsMax(0)).toBeUndefined();
    expect(hostPidsMax(HOST_PIDS_FLOOR - 1)).toBe(String(HOST_PIDS_FLOOR));
  });

  it('on v2 writes "max" for a quota without a limit', () => {
    const host = v2Host();
    const cg = resolveHostCgroup('/c1', 'c1', false, host);
    createHostCgroup(cg, { cpu: { quota: -1, period: 50_000 } });
    expect(fs.readFileSync(path.join(cg.dirs['']!, 'cpu.max'), 'utf8')).toBe('max 50000');
  });

  it('maps shares to weight as runc does', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262_144)).toBe(10_000);
  });

  it('fails in one line naming the directory, and removes what it made', () => {
    const host = v1Host({ cpuset: false });
    put(path.join(host.root, 'pids', 'blocker'), 'a file');
    const cg = resolveHostCgroup('/blocker/c1', 'c1', false, host);
    const err = thrown(() => createHostCgroup(cg, undefined));
    expect(err).toBeInstanceOf(RunxError);
    expect(err.message).toBe(`cannot create cgroup ${path.join(host.root, 'pids/blocker')}: a file of that name is in the way`);
    for (const name of ['cpu,cpuacct', 'memory']) expect(fs.existsSync(path.join(host.root, name, 'blocker'))).toBe(false);
    expect(fs.readFileSync(path.join(host.root, 'pids', 'blocker'), 'utf8')).toBe('a file');
  });

  it('makes no cgroup the config does not name, and fails on one it names but cannot make', () => {
    const none = { root: path.join(tmpRoot(), 'missing'), selfCgroup: '', mountinfo: '' };
    expect(makeHostCgroup(undefined, 'c1', false, v1Host())).toBeUndefined();
    expect(makeHostCgroup({ resources: { cpu: { quota: 1000 } } }, 'c1', false, v1Host())).toBeUndefined();
    expect(() => makeHostCgroup({ cgroupsPath: '/c1' }, 'c1', false, none)).toThrow(RunxError);
    // A bad systemd form is the config's fault, default or not.
    expect(() => makeHostCgroup({ cgroupsPath: 'nope' }, 'c1', true, v1Host())).toThrow(ConfigError);
    const host = v1Host({ cpuset: false });
    const cg = makeHostCgroup({ cgroupsPath: '/made' }, 'c1', false, host);
    expect(cg && fs.statSync(cg.dirs.memory!).isDirectory()).toBe(true);
  });

  it('removes only the leaves, and what is already gone is no error', async () => {
    const host = v1Host({ cpuset: false });
    const cg = resolveHostCgroup('/default/c1', 'c1', false, host);
    createHostCgroup(cg, undefined);
    fs.rmdirSync(cg.dirs.memory!);
    await removeHostCgroup(cg, [], 100);
    for (const [name, dir] of Object.entries(cg.dirs)) {
      expect(fs.existsSync(dir)).toBe(false);
      expect(fs.existsSync(path.join(host.root, name, 'default'))).toBe(true);
    }
  });
});
