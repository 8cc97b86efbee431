import { describe, expect, it } from 'vitest';
import { parseGoDuration, runcStats } from '../../../../src/xcontainer/container/container-events';
import { parseBytes } from '../../../../src/xcontainer/container/container-update';

describe('events', () => {
  it('print the agent counters in runc\'s shape, with Go\'s omitempty', () => {
    const s = runcStats({
      'cpu.total': '3000', 'cpu.user': '1000', 'cpu.kernel': '2000', 'cpu.periods': '0', 'cpu.throttled.periods': '0', 'cpu.throttled.time': '0',
      'mem.usage': '100', 'mem.limit': '1000', 'mem.peak': '200', 'mem.failcnt': '0', 'mem.cache': '0',
      'swap.usage': '0', 'pids.current': '2', 'oom.kills': '0',
    });
    expect(JSON.stringify(s)).toBe(JSON.stringify({
      cpu: { usage: { total: 3000, kernel: 2000, user: 1000 }, throttling: {} },
      memory: {
        usage: { limit: 1000, usage: 100, max: 200, failcnt: 0 },
        swap: { limit: 1000, usage: 100, failcnt: 0 },
        kernel: { limit: 0, failcnt: 0 },
        kernelTCP: { limit: 0, failcnt: 0 },
      },
      pids: { current: 2 },
      blkio: {},
      hugetlb: {},
    }));
  });

  it('take Go durations for --interval', () => {
    expect(parseGoDuration('5s')).toBe(5000);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('0')).toBe(0);
    expect(() => parseGoDuration('5')).toThrow(/invalid --interval "5"/);
    expect(() => parseGoDuration('5x')).toThrow(/invalid --interval/);
  });
});

describe('update flags', () => {
  it('take memory sizes as runc does', () => {
    expect(parseBytes('--memory', '1048576')).toBe(1048576);
    expect(parseBytes('--memory', '64m')).toBe(64 << 20);
    expect(parseBytes('--memory', '1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(parseBytes('--memory', '-1')).toBe(-1);
    expect(() => parseBytes('--memory', '12q')).toThrow(/invalid value for --memory: "12q"/);
  });
});
