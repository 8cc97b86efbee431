// QmpClient against a fake socket: greeting and negotiation, replies matched by id
// across split and merged chunks (events among them), error replies, timeouts, and
// every pending command rejected when the connection closes.
import { describe, expect, it, vi } from 'vitest';
import { QmpClient, type QmpEvent } from '../../../../src/xcontainer/vm/qmp-client';
import { FakeSocket, everySplit } from '../wire/fake-socket';

const GREETING = { QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: 'Debian 1:7.2+dfsg-7' }, capabilities: [] } };
const line = (v: unknown) => `${JSON.stringify(v)}\n`;
const sentCommands = (sock: FakeSocket) => Buffer.concat(sock.written).toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('QmpClient', () => {
  it('reads the greeting and leaves negotiation mode', async () => {
    const sock = new FakeSocket();
    const qmp = new QmpClient(sock.asSocket());
    const negotiated = qmp.negotiate();
    sock.feed(line(GREETING));
    await new Promise((r) => setImmediate(r));
    expect(sentCommands(sock)).toEqual([{ execute: 'qmp_capabilities', id: 1 }]);
    sock.feed(line({ return: {}, id: 1 }));
    expect((await negotiated).QMP.version.qemu.major).toBe(7);
  });

  it('matches replies by id whatever the chunking, and emits the events between them', async () => {
    const wire = Buffer.from(line({ timestamp: { seconds: 1, microseconds: 2 }, event: 'STOP' })
      + line({ return: { running: false, status: 'paused' }, id: 2 })
      + line({ return: [{ device: 'runx-mirror', ready: true, len: 10, offset: 10 }], id: 1 })
      // a multi-byte character in the stream: a split inside it must not garble it
      + line({ event: 'BLOCK_JOB_READY', data: { device: 'runx-mirror', msg: 'é✓' } }));
    for (const chunks of everySplit(wire)) {
      const sock = new FakeSocket();
      const qmp = new QmpClient(sock.asSocket());
      const events: QmpEvent[] = [];
      qmp.on('event', (e) => events.push(e));
      const jobs = qmp.execute('query-block-jobs', {});
      const status = qmp.execute('query-status', {});
      sock.feed(...chunks);
      expect(await status).toEqual({ running: false, status: 'paused' });
      expect((await jobs)[0]?.ready).toBe(true);
      expect(events.map((e) => [e.event, e.data?.msg])).toEqual([['STOP', undefined], ['BLOCK_JOB_READY', 'é✓']]);
    }
  });

  it('sends arguments only when there are some', () => {
    const sock = new FakeSocket();
    const qmp = new QmpClient(sock.asSocket());
    void qmp.execute('stop', {});
    void qmp.execute('migrate', { uri: 'tcp:127.0.0.1:1' });
    expect(sentCommands(sock)).toEqual([{ execute: 'stop', id: 1 }, { execute: 'migrate', id: 2, arguments: { uri: 'tcp:127.0.0.1:1' } }]);
  });

  it('an error reply rejects with QEMU\'s description', async () => {
    const sock = new FakeSocket();
    const qmp = new QmpClient(sock.asSocket());
    const cont = qmp.execute('cont', {});
    sock.feed(line({ error: { class: 'GenericError', desc: 'Migration is not finished yet' }, id: 1 }));
    await expect(cont).rejects.toMatchObject({ code: 'EQMP', message: 'QMP: Migration is not finished yet' });
  });

  it('times out a command, and a greeting that never comes', async () => {
    vi.useFakeTimers();
    try {
      const qmp = new QmpClient(new FakeSocket().asSocket(), 1000);
      const status = qmp.execute('query-status', {}, 200);
      const greeting = qmp.negotiate();
      vi.advanceTimersByTime(201);
      await expect(status).rejects.toMatchObject({ code: 'EQMP', message: 'QMP query-status: no answer within 200 ms' });
      vi.advanceTimersByTime(1000);
      await expect(greeting).rejects.toMatchObject({ code: 'EQMP', message: 'QMP greeting not received' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects every pending command when the connection closes, and later ones at once', async () => {
    const sock = new FakeSocket();
    const qmp = new QmpClient(sock.asSocket());
    const closed = vi.fn();
    qmp.on('close', closed);
    const pending = [qmp.execute('stop', {}), qmp.execute('query-migrate', {})];
    sock.destroy();
    await expect(pending[0]).rejects.toMatchObject({ code: 'EQMP', message: 'QMP stop: QMP connection closed' });
    await expect(pending[1]).rejects.toMatchObject({ message: 'QMP query-migrate: QMP connection closed' });
    expect(closed).toHaveBeenCalledTimes(1);
    await expect(qmp.execute('cont', {})).rejects.toMatchObject({ message: 'cont: QMP connection closed' });
  });
});
