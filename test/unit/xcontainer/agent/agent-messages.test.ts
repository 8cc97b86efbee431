import { describe, expect, it } from 'vitest';
import { controlMessage, decodeControl, encodeControl, field } from '../../../../src/xcontainer/agent/agent-messages';
import { checkControlMessage } from '../../../../src/xcontainer/agent/agent-schema';

describe('agent control messages', () => {
  it('round-trip with repeated keys in order and values holding "="', () => {
    const msg = controlMessage('create', { id: 7, arg: ['sh', '-c', 'a=b'], env: ['X=1=2'], cwd: '/', uid: 0, gid: 0, nnp: true, hostname: undefined });
    const back = decodeControl(encodeControl(msg));
    expect(back).toEqual(msg);
    expect(back.fields.filter(([k]) => k === 'arg').map(([, v]) => v)).toEqual(['sh', '-c', 'a=b']);
    expect(field(back, 'env')).toBe('X=1=2');
    expect(field(back, 'nnp')).toBe('1');
    expect(field(back, 'hostname')).toBeUndefined();
  });

  it('refuses a NUL inside a field', () => {
    expect(() => encodeControl(controlMessage('create', { cwd: 'a\0b' }))).toThrow(/NUL/);
  });

  it('are checked against agent.json', () => {
    const ok = controlMessage('create', { id: 1, arg: ['true'], cwd: '/', uid: 0, gid: 0 });
    expect(checkControlMessage(ok, 'host')).toEqual([]);
    expect(checkControlMessage(controlMessage('create', { id: 1, arg: ['true'], cwd: '/', uid: 0 }), 'host')).toEqual(['create.gid is required']);
    expect(checkControlMessage(controlMessage('create', { id: 1, arg: ['x'], cwd: '/', uid: -1, gid: 0 }), 'host')).toEqual(['create.uid="-1" is not a uint']);
    expect(checkControlMessage(controlMessage('start', { id: 1 }), 'agent')[0]).toMatch(/sent by the host/);
    expect(checkControlMessage(controlMessage('frobnicate', {}), 'host')).toEqual(['unknown message "frobnicate"']);
    expect(checkControlMessage(controlMessage('kill', [['id', 1], ['signal', 9], ['signal', 15]]), 'host')).toEqual(['kill.signal repeats']);
  });
});
