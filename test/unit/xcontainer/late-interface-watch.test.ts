import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchLateInterfaces } from '../../../src/xcontainer/devices/net/late-interface';

describe('watchLateInterfaces', () => {
  afterEach(() => vi.useRealTimers());

  it('reports each interface added after the first look, once, and not while paused', () => {
    vi.useFakeTimers();
    let links = ['lo', 'eth0', 'tap0_runx'];
    let paused = false;
    const seen: string[] = [];
    const stop = watchLateInterfaces((n) => seen.push(n), () => paused, 1000, () => links);
    vi.advanceTimersByTime(1000);
    expect(seen).toEqual([]);
    links = [...links, 'eth1'];
    paused = true;
    vi.advanceTimersByTime(3000);
    expect(seen).toEqual([]);
    paused = false;
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(3000);
    expect(seen).toEqual(['eth1']);
    stop();
    links = [...links, 'eth2'];
    vi.advanceTimersByTime(3000);
    expect(seen).toEqual(['eth1']);
  });
});
