import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors';
import { guestCreateFields } from '../../../src/bundle/guest-plan';
import { guestResourceFields } from '../../../src/bundle/guest-resources';
import { controlMessage } from '../../../src/xcontainer/agent/agent-messages';
import { checkControlMessage } from '../../../src/xcontainer/agent/agent-schema';

describe('guest resource fields', () => {
  it('carry linux.resources with -1 as max and 0 left out', () => {
    const f = guestResourceFields({
      memory: { limit: 64 << 20, reservation: -1, swap: 0 },
      cpu: { shares: 512, quota: 50_000, period: 100_000, cpus: '0-1' },
      pids: { limit: 20 },
    }, 'linux.resources');
    expect(f).toEqual([
      ['res.memory', String(64 << 20)], ['res.memory.reservation', 'max'], ['res.pids', '20'],
      ['res.cpu.shares', '512'], ['res.cpu.quota', '50000'], ['res.cpu.period', '100000'],
    ]);
    expect(guestResourceFields(undefined, 'linux.resources')).toEqual([]);
    expect(guestResourceFields({ devices: [{ allow: false, access: 'rwm' }] }, 'linux.resources')).toEqual([]);
  });

  it('write integers past 2^53 in plain decimal', () => {
    expect(guestResourceFields({ memory: { limit: 9223372036854775807 } }, 'r')).toEqual([['res.memory', '9223372036854775808']]);
  });

  it('refuse what the guest kernel would, naming the field', () => {
    const bad = (r: unknown) => () => guestResourceFields(r, 'resources');
    expect(bad({ memory: { limit: -5 } })).toThrow(/^resources\.memory\.limit must be positive, or -1 for no limit, not -5$/);
    expect(bad({ memory: { limit: 1.5 } })).toThrow(/resources\.memory\.limit must be an integer/);
    expect(bad({ pids: { limit: 'x' } })).toThrow(/resources\.pids\.limit must be an integer, not "x"/);
    expect(bad({ pids: { limit: 5_000_000 } })).toThrow(/above the guest kernel's maximum/);
    expect(bad({ cpu: { period: 10 } })).toThrow(/resources\.cpu\.period 10 is out of range/);
    expect(bad({ cpu: { quota: 10 } })).toThrow(/below the guest kernel's minimum/);
    expect(bad({ memory: { limit: 100 << 20, swap: 50 << 20 } })).toThrow(/memory\+swap limit should be >= memory limit/);
    expect(bad({ memory: 5 })).toThrow(/resources\.memory must be an object/);
    expect(bad([1])).toThrow(ConfigError);
  });

  it('name what is set but not applied', () => {
    const warned: string[] = [];
    guestResourceFields({ cpu: { cpus: '0', mems: '' }, blockIO: { weight: 10 }, memory: { kernel: 0 } }, 'resources', (w) => warned.push(w));
    expect(warned).toEqual(['resources.cpu.cpus, resources.blockIO']);
  });

  it('go into create, and create and update conform to agent.json', () => {
    const f = guestCreateFields({
      ociVersion: '1.0.2',
      process: { user: { uid: 0, gid: 0 }, args: ['true'], cwd: '/' },
      root: { path: 'rootfs' },
      linux: { resources: { pids: { limit: 20 }, cpu: { quota: -1 } } },
    }, { mounts: [], shares: [], binds: [] });
    expect(f.filter(([k]) => k.startsWith('res.'))).toEqual([['res.pids', '20'], ['res.cpu.quota', 'max']]);
    expect(checkControlMessage(controlMessage('create', [['id', 1], ...f]), 'host')).toEqual([]);
    const update = guestResourceFields({ memory: { limit: 1 << 30, swap: -1, reservation: 1 << 20 }, cpu: { shares: 2, period: 1000 } }, 'resources');
    expect(checkControlMessage(controlMessage('update', [['id', 2], ...update]), 'host')).toEqual([]);
    expect(checkControlMessage(controlMessage('stats', { id: 3 }), 'host')).toEqual([]);
    expect(checkControlMessage(controlMessage('usage', { id: 3, 'cpu.total': 1, 'mem.usage': 2, 'mem.limit': 3, 'pids.current': 1 }), 'agent')).toEqual([]);
  });
});
