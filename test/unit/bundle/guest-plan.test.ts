import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors';
import { capabilityMask, validateCapabilities } from '../../../src/bundle/capabilities';
import { guestCreateFields } from '../../../src/bundle/guest-plan';
import { guestNamespaces, validateNamespacePaths } from '../../../src/bundle/namespaces';
import type { SpecConfig } from '../../../src/bundle/spec-types';

const base = (): SpecConfig => ({
  ociVersion: '1.0.2',
  process: { user: { uid: 0, gid: 0 }, args: ['true'], cwd: '/' },
  root: { path: 'rootfs' },
});
const values = (fields: Array<[string, unknown]>, key: string) => fields.filter(([k]) => k === key).map(([, v]) => v);

describe('capabilities', () => {
  it('become 64-bit masks by capability number', () => {
    expect(capabilityMask(['CAP_CHOWN'])).toBe('1');
    expect(capabilityMask(['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE'])).toBe(String(0x20000420));
    expect(capabilityMask(['CAP_CHECKPOINT_RESTORE'])).toBe(String(2 ** 40));
    expect(capabilityMask(undefined)).toBe('0');
  });

  it('refuse an unknown name, naming the field', () => {
    expect(() => validateCapabilities({ ambient: ['CAP_KILL', 'CAP_BOGUS'] })).toThrow(/process\.capabilities\.ambient\[1\]: unknown capability "CAP_BOGUS"/);
    expect(() => validateCapabilities({ bounding: ['CAP_KILL'] })).not.toThrow();
  });
});

describe('namespaces', () => {
  it('are created in the guest when they have no path', () => {
    expect(guestNamespaces([{ type: 'pid' }, { type: 'network', path: '/proc/self/ns/net' }, { type: 'user' }, { type: 'uts' }, { type: 'time' }])).toEqual(['pid', 'user', 'uts']);
    // The VM's network stack is the container's network namespace.
    expect(guestNamespaces([{ type: 'network' }, { type: 'ipc' }])).toEqual(['ipc']);
  });

  it('with a path: the right type is accepted, a wrong type or a non-namespace refused', () => {
    expect(() => validateNamespacePaths([{ type: 'network', path: '/proc/self/ns/net' }])).not.toThrow();
    expect(() => validateNamespacePaths([{ type: 'pid', path: '/proc/self/ns/net' }])).toThrow(/is a net namespace, not pid/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-ns-'));
    expect(() => validateNamespacePaths([{ type: 'ipc', path: path.join(dir, 'nope') }])).toThrow(ConfigError);
    expect(() => validateNamespacePaths([{ type: 'ipc' }, { type: 'ipc' }])).toThrow(/duplicate/);
  });
});

describe('guest create fields', () => {
  it('carry capabilities, oomScoreAdj, sysctl, devices, namespaces and seccomp', () => {
    const c = base();
    c.process!.capabilities = { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] };
    c.process!.oomScoreAdj = -500;
    c.linux = {
      namespaces: [{ type: 'pid' }, { type: 'mount' }],
      sysctl: { 'net.ipv4.ip_forward': '1' },
      devices: [{ path: '/dev/a:b', type: 'c', major: 1, minor: 3, fileMode: 0o640, uid: 1, gid: 2 }],
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'] },
    };
    const f = guestCreateFields(c, { mounts: [], shares: [], binds: [] });
    expect(values(f, 'cap.bounding')).toEqual(['32']);
    expect(values(f, 'cap.inheritable')).toEqual(['0']);
    expect(values(f, 'oomscoreadj')).toEqual(['-500']);
    expect(values(f, 'sysctl')).toEqual(['net.ipv4.ip_forward=1']);
    expect(values(f, 'device')).toEqual(['c:1:3:416:1:2:/dev/a:b']);
    expect(values(f, 'ns')).toEqual(['pid', 'mount']);
    expect(values(f, 'seccomp.flags')).toEqual([2]);
    expect(String(values(f, 'seccomp')[0])).toMatch(/^([0-9a-f]{16})+$/);
  });

  it('carry a mount\'s propagation right after its other fields, and rootfsPropagation', () => {
    const c = base();
    c.linux = { rootfsPropagation: 'unbindable' };
    const f = guestCreateFields(c, {
      mounts: [
        { dest: '/a', type: 'tmpfs', source: 'tmpfs', flags: 0, data: '', prop: (1 << 20) | 16384 },
        { dest: '/b', type: 'tmpfs', source: 'tmpfs', flags: 0, data: '', prop: 0 },
      ],
      shares: [], binds: [],
    });
    const keys = f.map(([k]) => k).filter((k) => k.startsWith('mount.'));
    expect(keys.slice(0, 6)).toEqual(['mount.dest', 'mount.type', 'mount.source', 'mount.flags', 'mount.data', 'mount.prop']);
    expect(values(f, 'mount.prop')).toEqual([(1 << 20) | 16384]);
    expect(values(f, 'rootprop')).toEqual([1 << 17]);
    expect(values(guestCreateFields(base(), { mounts: [], shares: [], binds: [] }), 'rootprop')).toEqual([]);
  });

  it('carry a user namespace with its uid and gid mappings, and refuse one without', () => {
    const c = base();
    c.linux = {
      namespaces: [{ type: 'pid' }, { type: 'user' }],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 2000 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 3000 }, { containerID: 5000, hostID: 7, size: 1 }],
    };
    const f = guestCreateFields(c, { mounts: [], shares: [], binds: [] });
    expect(values(f, 'ns')).toEqual(['pid', 'user']);
    expect(values(f, 'uidmap')).toEqual(['0:1000:2000']);
    expect(values(f, 'gidmap')).toEqual(['0:1000:3000', '5000:7:1']);
    // What the agent makes before entering it carries the container's ids as the guest's.
    c.linux.devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 3, uid: 5, gid: 5000 }];
    const g = guestCreateFields(c, { mounts: [{ dest: '/dev/pts', type: 'devpts', source: 'devpts', flags: 0, data: 'newinstance,gid=5,mode=0620', prop: 0 }], shares: [], binds: [] });
    expect(values(g, 'mount.data')).toEqual(['newinstance,gid=1005,mode=0620']);
    expect(values(g, 'device')).toEqual(['c:1:3:438:1005:7:/dev/x']);
    c.linux.devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 3, uid: 2000 }];
    expect(() => guestCreateFields(c, { mounts: [], shares: [], binds: [] })).toThrow(/uid 2000 is not in linux.uidMappings/);
    delete c.linux.devices;
    // Given by path: the VM's own, no mappings sent.
    c.linux.namespaces = [{ type: 'user', path: '/proc/self/ns/user' }];
    expect(values(guestCreateFields(c, { mounts: [], shares: [], binds: [] }), 'uidmap')).toEqual([]);
    c.linux = { namespaces: [{ type: 'user' }], uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] };
    expect(() => guestCreateFields(c, { mounts: [], shares: [], binds: [] })).toThrow(/needs linux.gidMappings/);
    c.linux.gidMappings = [{ containerID: 1, hostID: 1, size: 1 }];
    expect(() => guestCreateFields(c, { mounts: [], shares: [], binds: [] })).toThrow(/must map container id 0/);
    c.linux.gidMappings = [{ containerID: 0, hostID: 1, size: 0 }];
    expect(() => guestCreateFields(c, { mounts: [], shares: [], binds: [] })).toThrow(/size must be at least 1/);
  });

  it('leave capabilities out when the config has none', () => {
    const f = guestCreateFields(base(), { mounts: [], shares: [], binds: [] });
    expect(f.some(([k]) => k.startsWith('cap.') || k === 'seccomp' || k === 'oomscoreadj')).toBe(false);
  });
});
