import { describe, expect, it } from 'vitest';
import { type ContainerRecord, canKill, effectiveStatus, toOciState } from '../../../../src/xcontainer/state/container-record';

const rec = (status: ContainerRecord['status']): ContainerRecord => ({
  ociVersion: '1.0.2', id: 'c1', status, bundle: '/b', rootfs: '/b/rootfs', created: '2026-11-24T00:00:00.000Z', owner: '', keeperPid: 42,
});

describe('container record', () => {
  it('reports a live status whose keeper died as stopped', () => {
    expect(effectiveStatus(rec('running'), false)).toBe('stopped');
    expect(effectiveStatus(rec('created'), false)).toBe('stopped');
    expect(effectiveStatus(rec('running'), true)).toBe('running');
    expect(effectiveStatus({ ...rec('creating'), keeperPid: 0 }, false)).toBe('creating');
  });

  it('guards verbs by status', () => {
    expect(canKill('stopped')).toBe(false);
    expect(canKill('created')).toBe(true);
    expect(canKill('paused')).toBe(true);
  });

  it('prints the OCI state in runc\'s shape, pid 0 once stopped', () => {
    expect(Object.keys(toOciState(rec('running'), 'running'))).toEqual(['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner']);
    expect(toOciState(rec('running'), 'stopped').pid).toBe(0);
    expect(toOciState({ ...rec('running'), annotations: { a: 'b' } }, 'running').annotations).toEqual({ a: 'b' });
  });
});
