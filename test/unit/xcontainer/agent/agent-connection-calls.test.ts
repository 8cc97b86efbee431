// AgentConnection's calls and events against a fake socket: replies matched by id
// across split and merged chunks, output and exit events, error replies, timeouts,
// and every pending call rejected when the connection closes. (Its stdin credit is
// agent-connection.test.ts's.)
import { describe, expect, it, vi } from 'vitest';
import { RunxError } from '../../../../src/errors';
import { AgentConnection } from '../../../../src/xcontainer/agent/agent-connection';
import { FrameReader, FrameType, encodeFrame, execPayload } from '../../../../src/xcontainer/agent/agent-frames';
import { type ControlMessage, controlMessage, decodeControl, encodeControl } from '../../../../src/xcontainer/agent/agent-messages';
import { FakeSocket, everySplit } from '../wire/fake-socket';

const control = (name: string, fields: Record<string, string | number>) => encodeFrame(FrameType.control, encodeControl(controlMessage(name, fields)));

/** The control messages the host wrote. */
function sent(sock: FakeSocket): ControlMessage[] {
  const frames = new FrameReader().push(Buffer.concat(sock.written));
  return frames.filter((f) => f.type === FrameType.control).map((f) => decodeControl(f.payload));
}

describe('AgentConnection', () => {
  it('matches replies to requests by id, whatever the chunking', async () => {
    for (const chunks of everySplit(Buffer.concat([control('ok', { id: 2 }), control('procs', { id: 1, proc: '1:0:0:S:sh' })]))) {
      const sock = new FakeSocket();
      const agent = new AgentConnection(sock.asSocket());
      const ps = agent.request('ps', {});
      const ping = agent.request('ping', {});
      expect(sent(sock).map((m) => [m.name, m.fields])).toEqual([['ps', [['id', '1']]], ['ping', [['id', '2']]]]);
      sock.feed(...chunks);
      expect((await ps).fields).toEqual([['id', '1'], ['proc', '1:0:0:S:sh']]);
      expect((await ping).name).toBe('ok');
    }
  });

  it('an error reply rejects its call with the agent\'s message', async () => {
    const sock = new FakeSocket();
    const agent = new AgentConnection(sock.asSocket());
    const kill = agent.request('kill', { signal: 9 });
    sock.feed(control('error', { id: 1, msg: 'no process' }));
    await expect(kill).rejects.toMatchObject({ code: 'EAGENT', message: 'no process' });
  });

  it('surfaces stdout, stderr, exec output and exits, split at every byte', () => {
    const wire = Buffer.concat([
      encodeFrame(FrameType.stdout, Buffer.from('out')),
      encodeFrame(FrameType.stderr, Buffer.from('err')),
      encodeFrame(FrameType['exec-stdout'], execPayload(3, Buffer.from('x'))),
      control('exec-exit', { exec: 3, code: 2 }),
      control('exit', { signal: 9 }),
    ]);
    for (const chunks of everySplit(wire)) {
      const sock = new FakeSocket();
      const agent = new AgentConnection(sock.asSocket());
      const events: unknown[] = [];
      agent.on('stdout', (b) => events.push(['stdout', b.toString()]));
      agent.on('stderr', (b) => events.push(['stderr', b.toString()]));
      agent.on('execStdout', (n, b) => events.push(['execStdout', n, b.toString()]));
      agent.on('execExit', (n, e) => events.push(['execExit', n, e]));
      agent.on('exit', (e) => events.push(['exit', e]));
      sock.feed(...chunks);
      expect(events).toEqual([['stdout', 'out'], ['stderr', 'err'], ['execStdout', 3, 'x'], ['execExit', 3, { code: 2 }], ['exit', { signal: 9 }]]);
    }
  });

  it('times a call out with its label', async () => {
    vi.useFakeTimers();
    try {
      const agent = new AgentConnection(new FakeSocket().asSocket());
      const ping = agent.request('ping', {}, 500);
      vi.advanceTimersByTime(501);
      await expect(ping).rejects.toMatchObject({ code: 'EAGENT', message: 'agent ping: no answer within 500 ms' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects every pending call when the connection closes, and later ones at once', async () => {
    const sock = new FakeSocket();
    const agent = new AgentConnection(sock.asSocket());
    const closed = vi.fn();
    agent.on('close', closed);
    const calls = [agent.request('ping', {}), agent.request('ps', {})];
    sock.destroy();
    for (const c of calls) await expect(c).rejects.toThrow(/agent connection closed/);
    expect(closed).toHaveBeenCalledTimes(1);
    await expect(agent.request('ping', {})).rejects.toMatchObject({ code: 'EAGENT', message: 'ping: agent connection closed' });
  });

  it('refuses to send a message agent.json does not allow, sending nothing', async () => {
    const sock = new FakeSocket();
    const agent = new AgentConnection(sock.asSocket());
    await expect(agent.request('kill', {})).rejects.toThrow(RunxError);
    await expect(agent.request('kill', {})).rejects.toMatchObject({ code: 'EINTERNAL', message: expect.stringContaining('kill.signal is required') });
    expect(sock.written).toEqual([]);
  });

  it('reports a reply nobody asked for, and a corrupt frame ends the connection', () => {
    const sock = new FakeSocket();
    const agent = new AgentConnection(sock.asSocket());
    const problems: string[] = [];
    agent.on('protocolError', (why) => problems.push(why));
    sock.feed(control('ok', { id: 77 }));
    expect(problems).toEqual(['unexpected "ok" (id 77)']);
    sock.feed(Buffer.from('XX\x01\x01\x00\x00\x00\x00'));
    expect(problems).toHaveLength(2);
    expect(sock.destroyed).toBe(true);
  });
});
