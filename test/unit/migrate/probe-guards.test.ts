// The small guards of issue 21's migration items: the stall watch, the destination's
// watch on silent sources, and which address a wildcard serve advertises.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StallWatch } from '../../../src/xcontainer/vm/stall-watch';
import { SourceWatch } from '../../../src/migrate/source-watch';
import { advertisedHost, isWildcard, plainAddress, LOCAL_ADDRESS_KEY } from '../../../src/migrate/local-address';
import { migrationPackage } from '../../../src/migrate/proto';

describe('StallWatch', () => {
  it('throws once the counter has not moved for the timeout, not before', () => {
    const w = new StallWatch(5000, 'the disk mirror');
    w.progress(1, 0);
    w.progress(1, 4999);
    w.progress(2, 5001);
    w.progress(2, 10_000);
    expect(() => w.progress(2, 10_002)).toThrow('the disk mirror made no progress for 5 s (is the link to the destination down?)');
  });
});

describe('SourceWatch', () => {
  afterEach(() => { vi.useRealTimers(); });
  it('reports a source silent for the timeout; a ping or a stop defers or ends it', () => {
    vi.useFakeTimers();
    const silent: string[] = [];
    const w = new SourceWatch(5000, (id) => silent.push(id));
    w.heard('a');
    w.heard('b');
    vi.advanceTimersByTime(4000);
    w.heard('a');
    w.stop('b');
    vi.advanceTimersByTime(4000);
    expect(silent).toEqual([]);
    expect(w.watching('a')).toBe(true);
    vi.advanceTimersByTime(1001);
    expect(silent).toEqual(['a']);
    expect(w.watching('a')).toBe(false);
    expect(w.watching('b')).toBe(false);
  });
});

describe('advertised address', () => {
  const md = (local?: string) => {
    const m = new (migrationPackage().grpc.Metadata)();
    if (local) m.set(LOCAL_ADDRESS_KEY, local);
    return m;
  };
  it('is the listen host, or for a wildcard the address the call came in on', () => {
    expect(isWildcard('0.0.0.0') && isWildcard('::') && !isWildcard('10.0.0.2')).toBe(true);
    expect(advertisedHost('10.0.0.2', md('10.9.9.9'))).toBe('10.0.0.2');
    expect(advertisedHost('0.0.0.0', md('10.0.0.2'))).toBe('10.0.0.2');
    expect(advertisedHost('::', md('fd00::2'))).toBe('fd00::2');
    expect(advertisedHost('0.0.0.0', md())).toBe('0.0.0.0');
    expect(plainAddress('::ffff:10.0.0.2')).toBe('10.0.0.2');
    expect(plainAddress('fd00::2')).toBe('fd00::2');
  });
});
