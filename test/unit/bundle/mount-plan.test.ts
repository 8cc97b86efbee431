import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_SHARES, parseOptions, planMounts } from '../../../src/bundle/mount-plan';

describe('mount options', () => {
  it('map to MS_* flags and data, later options winning', () => {
    expect(parseOptions(['nosuid', 'noexec', 'nodev', 'ro'])).toEqual({ flags: 1 | 2 | 4 | 8, data: '' });
    expect(parseOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k'])).toEqual({ flags: 2 | (1 << 24), data: 'mode=755,size=65536k' });
    expect(parseOptions(['ro', 'rw'])).toEqual({ flags: 0, data: '' });
    expect(parseOptions(['rbind', 'rprivate'])).toEqual({ flags: 4096 | 16384, data: '' });
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

  it('shares host directories over 9p and binds files from their directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-mp-'));
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'hosts'), '');
    const plan = planMounts([
      { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
      { destination: '/etc/hosts', source: path.join(dir, 'hosts'), options: ['bind'] },
    ], dir);
    expect(plan.shares).toEqual([
      { tag: 'runx0', hostPath: path.join(dir, 'data'), readonly: false },
      { tag: 'runx1', hostPath: dir, readonly: false },
    ]);
    expect(plan.mounts.map((m) => [m.dest, m.source, m.flags & 4096])).toEqual([['/data', '/mnt/share/runx0', 4096], ['/etc/hosts', '/mnt/share/runx1/hosts', 4096]]);
  });

  it('refuses a missing bind source and too many shared directories', () => {
    expect(() => planMounts([{ destination: '/x', type: 'bind', source: '/no/such/dir' }], '/')).toThrow(/mounts\[0\]\.source .* does not exist/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-mp-'));
    const mounts = Array.from({ length: MAX_SHARES + 1 }, (_, i) => {
      fs.mkdirSync(path.join(dir, `d${i}`));
      return { destination: `/d${i}`, type: 'bind', source: path.join(dir, `d${i}`) };
    });
    expect(() => planMounts(mounts, '/')).toThrow(/at most 4/);
  });
});
