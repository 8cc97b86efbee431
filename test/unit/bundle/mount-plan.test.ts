import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_BINDS, parseOptions, planMounts } from '../../../src/bundle/mount-plan';

describe('mount options', () => {
  it('map to MS_* flags and data, later options winning', () => {
    expect(parseOptions(['nosuid', 'noexec', 'nodev', 'ro'])).toEqual({ flags: 1 | 2 | 4 | 8, data: '', prop: 0 });
    expect(parseOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k'])).toEqual({ flags: 2 | (1 << 24), data: 'mode=755,size=65536k', prop: 0 });
    expect(parseOptions(['ro', 'rw'])).toEqual({ flags: 0, data: '', prop: 0 });
  });

  it('keep propagation apart from the flags, so its MS_REC does not make a bind recursive', () => {
    expect(parseOptions(['bind', 'rshared'])).toEqual({ flags: 4096, data: '', prop: (1 << 20) | 16384 });
    expect(parseOptions(['rbind', 'rprivate'])).toEqual({ flags: 4096 | 16384, data: '', prop: (1 << 18) | 16384 });
    expect(parseOptions(['slave'])).toEqual({ flags: 0, data: '', prop: 1 << 19 });
    expect(parseOptions(['runbindable'])).toEqual({ flags: 0, data: '', prop: (1 << 17) | 16384 });
    // Each replaces the type, as runc applies them in order.
    expect(parseOptions(['shared', 'private'])).toEqual({ flags: 0, data: '', prop: 1 << 18 });
  });
});

describe('mount plan', () => {
  it('keeps kernel file systems in order and maps cgroup to cgroup2', () => {
    const plan = planMounts([
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] },
    ], '/tmp');
    expect(plan.mounts.map((m) => [m.dest, m.type])).toEqual([['/proc', 'proc'], ['/sys/fs/cgroup', 'cgroup2']]);
    expect(plan.shares).toEqual([]);
  });

  it('stages every bind, file or directory, as a slot of one share, resolving symlinks; carried by default', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'runx-mp-')));
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'hosts'), '');
    fs.symlinkSync('hosts', path.join(dir, 'link'));
    const plan = planMounts([
      { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
      { destination: '/etc/hosts', source: path.join(dir, 'hosts'), options: ['bind'] },
      { destination: '/etc/hostname', type: 'bind', source: 'link', options: ['rbind', 'ro', 'rw'] },
    ], dir);
    // Carried: the agent mounts no share for the container, it binds from the carry disk.
    expect(plan.shares).toEqual([]);
    expect(plan.binds).toEqual([
      { source: path.join(dir, 'data'), readonly: true, recursive: true, carried: true, destination: '/data' },
      { source: path.join(dir, 'hosts'), readonly: false, recursive: false, carried: true, destination: '/etc/hosts' },
      { source: path.join(dir, 'hosts'), readonly: false, recursive: true, carried: true, destination: '/etc/hostname' },
    ]);
    expect(plan.mounts.map((m) => [m.dest, m.source, m.flags & 4096])).toEqual([
      ['/data', '/mnt/carry/0', 4096], ['/etc/hosts', '/mnt/carry/1', 4096], ['/etc/hostname', '/mnt/carry/2', 4096]]);
    // io.runx.live-share keeps the named ones live shares of the container's 9p share.
    const live = planMounts([
      { destination: '/data', type: 'bind', source: 'data', options: ['rbind'] },
      { destination: '/etc/hosts', type: 'bind', source: 'hosts', options: ['rbind'] },
    ], dir, { 'io.runx.live-share': ' /data/ ' });
    expect(live.shares).toEqual(['runx0']);
    expect(live.binds.map((b) => b.carried)).toEqual([false, true]);
    expect(live.mounts.map((m) => m.source)).toEqual(['/mnt/share/runx0/0', '/mnt/carry/1']);
    expect(planMounts([{ destination: '/data', type: 'bind', source: 'data' }], dir, { 'io.runx.live-share': '*' }).binds[0]!.carried).toBe(false);
  });

  it('refuses a missing bind source and more than MAX_BINDS binds, and takes 32 and more', () => {
    expect(() => planMounts([{ destination: '/x', type: 'bind', source: '/no/such/dir' }], '/')).toThrow(/mounts\[0\]\.source .* does not exist/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-mp-'));
    const mounts = Array.from({ length: MAX_BINDS + 1 }, (_, i) => ({ destination: `/d${i}`, type: 'bind', source: dir }));
    expect(planMounts(mounts.slice(0, 40), '/').binds).toHaveLength(40);
    expect(() => planMounts(mounts, '/')).toThrow(/more than 1024 bind mounts/);
  });
});
