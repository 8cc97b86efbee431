// The keeper's state table: every phase × op, served or refused (with the table's
import { RunxError } from '../../../../src/errors';
// one-line reason and an error code), through the real dispatcher and handlers over a
// fake VM session; then the transitions the handlers make, and the orchestration of
// a migration (including a cancel that comes while the destination prepares).
import { describe, expect, it } from 'vitest';
import { admitRequest, dispatch } from '../../../../src/xcontainer/keeper/keeper-control';
import { checkKeeperReply, checkKeeperRequest } from '../../../../src/xcontainer/keeper/keeper-schema';
import { type KeeperFacts, KeeperMachine, PHASES, type Phase, admit, transition } from '../../../../src/xcontainer/keeper/phases';
import { KEEPER_OPS, KEEPER_PROTOCOL, type KeeperOp, type KeeperReply, type KeeperRequest } from '../../../../src/xcontainer/keeper/protocol';
import { FakeCore, STATS } from './fake-core';

const SEND = { nbdUri: 'nbd://127.0.0.1:1/root', migrateUri: 'tcp:127.0.0.1:2' };
const INCOMING = { host: '127.0.0.1', nbdPort: 1, migratePort: 2 };

/** A valid request for every op. */
const REQUESTS: { [K in KeeperOp]: KeeperRequest<K> } = {
  ping: { op: 'ping', protocol: KEEPER_PROTOCOL },
  start: { op: 'start', protocol: KEEPER_PROTOCOL },
  kill: { op: 'kill', protocol: KEEPER_PROTOCOL, signal: 15, all: false },
  pause: { op: 'pause', protocol: KEEPER_PROTOCOL },
  resume: { op: 'resume', protocol: KEEPER_PROTOCOL },
  checkpoint: { op: 'checkpoint', protocol: KEEPER_PROTOCOL, dir: '/img', leaveRunning: true },
  'begin-migration': { op: 'begin-migration', protocol: KEEPER_PROTOCOL, owner: { pid: 4242 } },
  migrate: { op: 'migrate', protocol: KEEPER_PROTOCOL, send: SEND },
  'cancel-migration': { op: 'cancel-migration', protocol: KEEPER_PROTOCOL },
  'abort-migration': { op: 'abort-migration', protocol: KEEPER_PROTOCOL },
  'check-link': { op: 'check-link', protocol: KEEPER_PROTOCOL, to: '127.0.0.1:7700', auth: { tokenFile: '/t' } },
  handover: { op: 'handover', protocol: KEEPER_PROTOCOL, to: '127.0.0.1:7700', auth: { tokenFile: '/t' } },
  'finish-incoming': { op: 'finish-incoming', protocol: KEEPER_PROTOCOL },
  'take-back': { op: 'take-back', protocol: KEEPER_PROTOCOL, incoming: INCOMING },
  'abort-incoming': { op: 'abort-incoming', protocol: KEEPER_PROTOCOL },
  resize: { op: 'resize', protocol: KEEPER_PROTOCOL, rows: 24, cols: 80 },
  exec: { op: 'exec', protocol: KEEPER_PROTOCOL, fields: [['arg', ['sh', '-c', 'true']], ['tty', false]] },
  ps: { op: 'ps', protocol: KEEPER_PROTOCOL },
  stats: { op: 'stats', protocol: KEEPER_PROTOCOL },
  update: { op: 'update', protocol: KEEPER_PROTOCOL, fields: [['res.pids', '10']] },
};

/** The spec, written apart from the table: what each phase serves (a started container; sending not yet transferring). */
const SERVED: Record<Phase, KeeperOp[]> = {
  booting: ['ping', 'finish-incoming'],
  running: ['ping', 'kill', 'pause', 'resume', 'checkpoint', 'begin-migration', 'resize', 'exec', 'ps', 'stats', 'update'],
  paused: ['ping', 'kill', 'pause', 'resume', 'checkpoint', 'begin-migration'],
  sending: ['ping', 'kill', 'resize', 'exec', 'ps', 'stats', 'update', 'migrate', 'cancel-migration', 'abort-migration', 'check-link'],
  'handed-over': ['ping', 'handover', 'abort-migration'],
  'standing-in': ['ping', 'kill', 'take-back'],
  'taking-back': ['ping', 'kill', 'finish-incoming', 'abort-incoming'],
  exiting: ['ping'],
};

const factsIn = (phase: Phase): KeeperFacts => (phase === 'sending' || phase === 'handed-over'
  ? { phase, started: true, resumeTo: 'running', owner: { pid: 4242 } } : { phase, started: true });

describe('keeper state table', () => {
  it('every request used here conforms to keeper.json', () => {
    for (const op of KEEPER_OPS) expect(checkKeeperRequest(REQUESTS[op]), op).toEqual([]);
  });

  for (const phase of PHASES) {
    describe(phase, () => {
      for (const op of KEEPER_OPS) {
        const served = SERVED[phase].includes(op);
        it(`${served ? 'serves' : 'refuses'} ${op}`, async () => {
          const core = new FakeCore(factsIn(phase));
          const verdict = admit(core.machine.facts, op);
          if (op === 'exec') {
            // exec is admitted by the same table, then served on its own connection.
            const refused = admitRequest(core, REQUESTS.exec);
            expect(refused === undefined).toBe(served);
            if (refused) expect(refused).toMatchObject({ ok: false, code: 'ESTATE', protocol: KEEPER_PROTOCOL });
            return;
          }
          const reply = await dispatch(core, REQUESTS[op], () => undefined);
          expect(checkKeeperReply(op, reply), JSON.stringify(reply)).toEqual([]);
          if (served) {
            expect(verdict).toBe('serve');
            expect(reply.ok, JSON.stringify(reply)).toBe(true);
          } else {
            expect(verdict).not.toBe('serve');
            expect(reply).toEqual({ ok: false, protocol: KEEPER_PROTOCOL, code: 'ESTATE', error: (verdict as { message: string }).message });
            // One line, and nothing was done.
            expect((reply as { error: string }).error).not.toContain('\n');
            expect(core.calls).toEqual([]);
            expect(core.machine.facts).toEqual(factsIn(phase));
          }
        });
      }
    });
  }

  it('start is served once', async () => {
    const core = new FakeCore({ phase: 'running', started: false });
    expect(await dispatch(core, REQUESTS.start, () => undefined)).toEqual({ ok: true, protocol: KEEPER_PROTOCOL });
    expect(core.record.status).toBe('running');
    expect(await dispatch(core, REQUESTS.start, () => undefined)).toMatchObject({ ok: false, code: 'ESTATE', error: 'cannot start an already running container' });
    expect(core.calls).toEqual(['agent start']);
  });

  it('a second migrate while one transfers is refused', () => {
    expect(admit({ phase: 'sending', started: true, resumeTo: 'running', transferring: true }, 'migrate')).toEqual({ code: 'ESTATE', message: 'the VM is already being sent' });
  });

  it('an event a phase does not take is a keeper bug; exiting takes every event and stays', () => {
    expect(() => transition({ phase: 'running', started: true }, { kind: 'stood-in' })).toThrow(/stood-in.*running/);
    expect(transition({ phase: 'exiting', started: true }, { kind: 'paused' })).toEqual({ phase: 'exiting', started: true });
  });
});

describe('KeeperMachine listeners', () => {
  it('hear the facts after each event applied (carry refreshes wait on the phase so)', () => {
    const m = new KeeperMachine({ phase: 'running', started: true });
    const heard: Phase[] = [];
    m.onApply((f) => heard.push(f.phase));
    m.apply({ kind: 'paused' });
    m.apply({ kind: 'resumed' });
    expect(heard).toEqual(['paused', 'running']);
  });
});

describe('keeper ops over a fake VM session', () => {
  const run = (core: FakeCore, op: KeeperOp, over: Record<string, unknown> = {}, progress: (p: unknown) => void = () => undefined): Promise<KeeperReply> =>
    dispatch(core, { ...REQUESTS[op], ...over } as KeeperRequest, progress);

  it('ping answers the protocol and runx version', async () => {
    const reply = await run(new FakeCore({ phase: 'running', started: true }), 'ping');
    expect(reply).toEqual({ ok: true, protocol: KEEPER_PROTOCOL, result: { protocol: KEEPER_PROTOCOL, runx: expect.stringMatching(/^\d+\.\d+\.\d+/) } });
  });

  it('pause and resume stop and continue the VM and record it', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    await run(core, 'pause');
    expect(core.machine.phase).toBe('paused');
    expect(core.record.status).toBe('paused');
    await run(core, 'pause');
    await run(core, 'resume');
    expect(core.machine.phase).toBe('running');
    expect(core.record.status).toBe('running');
    // Stdin waits while the VM cannot read it (nothing stays in QEMU, lost if it is saved and ended);
    // no carry refresh is left halfway in the stopped VM; the container's processes are
    // frozen before the stop and thawed after the cont (runc's pause is a freeze).
    expect(core.calls).toEqual(['hold carry', 'agent freeze', 'agent hold stdin', 'qmp stop', 'release carry', 'qmp cont', 'agent thaw', 'agent release stdin']);
    expect(core.guestFrozen).toBe(false);
  });

  it('a pause whose agent cannot freeze still stops the VM, and its resume thaws nothing', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    core.agentFails.freeze = 'unknown message freeze';
    await run(core, 'pause');
    expect(core.machine.phase).toBe('paused');
    await run(core, 'resume');
    expect(core.calls).toEqual(['hold carry', 'agent freeze', 'agent hold stdin', 'qmp stop', 'release carry', 'qmp cont', 'agent release stdin']);
  });

  it('a checkpoint without --leave-running of a container with read-write binds freezes it, saves, then runs the VM cut off to write back, and only then says stopped', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    core.carriesWrites = true;
    const progress: unknown[] = [];
    let statusAtWriteBack: string | undefined;
    const request = core.agent().request;
    core.agent = () => ({ ...FakeCore.prototype.agent.call(core), request: async (name, fields, t) => {
      if (name === 'carry') statusAtWriteBack = core.record.status ?? 'running';
      return request(name, fields, t);
    } });
    await run(core, 'checkpoint', { leaveRunning: false }, (p) => progress.push(p));
    expect(core.calls).toEqual(['hold carry', 'agent freeze', 'agent hold stdin', 'qmp stop', 'save /img', 'isolate', 'qmp cont', 'agent carry to=host', 'end 137', 'release carry']);
    expect(statusAtWriteBack).toBe('running');
    expect(core.record).toMatchObject({ status: 'stopped', exitStatus: 137, checkpointed: true });
    expect(progress).toEqual([{ writeBack: { ms: expect.any(Number) } }]);
  });

  it('a paused container (frozen at its pause) is written back after the save; a failed copy is a warning in the progress, and it still ends', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    core.carriesWrites = true;
    await run(core, 'pause');
    core.calls.length = 0;
    core.agentFails.carry = 'carry: write back slot 1: No space left on device';
    const progress: unknown[] = [];
    const reply = await run(core, 'checkpoint', { leaveRunning: false }, (p) => progress.push(p));
    expect(reply).toMatchObject({ ok: true });
    expect(core.calls).toEqual(['hold carry', 'qmp stop', 'save /img', 'isolate', 'qmp cont', 'agent carry to=host', 'end 137', 'release carry']);
    expect(progress).toEqual([{ writeBack: { ms: expect.any(Number), error: expect.stringMatching(/not written back to the host \(.*No space left on device\); the image holds/) } }]);
    expect(core.record).toMatchObject({ status: 'stopped', exitStatus: 137 });
  });

  it('a container that could not be frozen is not written back (the copy would not be the image\'s): said, and the checkpoint stands', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    core.carriesWrites = true;
    core.agentFails.freeze = 'cgroup: freeze: the container\'s processes did not all stop within 5000 ms';
    const progress: unknown[] = [];
    await run(core, 'checkpoint', { leaveRunning: false }, (p) => progress.push(p));
    expect(core.calls).toEqual(['hold carry', 'agent freeze', 'agent hold stdin', 'qmp stop', 'save /img', 'end 137', 'release carry']);
    expect(progress).toEqual([{ writeBack: { ms: expect.any(Number), error: expect.stringMatching(/could not be frozen/) } }]);
  });

  it('a failed save thaws what the checkpoint froze, and the container runs on', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    core.carriesWrites = true;
    core.saveCheckpoint = async () => { core.calls.push('save fails'); throw new RunxError('EHOST', 'disk full'); };
    expect(await run(core, 'checkpoint', { leaveRunning: false })).toMatchObject({ ok: false });
    expect(core.calls).toEqual(['hold carry', 'agent freeze', 'agent hold stdin', 'qmp stop', 'save fails', 'qmp cont', 'agent thaw', 'agent release stdin', 'release carry']);
    expect(core.machine.phase).toBe('running');
  });

  it('a checkpoint without --leave-running ends the container (137); with it, a paused VM stays stopped', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    await run(core, 'checkpoint', { leaveRunning: false });
    expect(core.machine.phase).toBe('exiting');
    expect(core.record).toMatchObject({ status: 'stopped', exitStatus: 137, checkpointed: true });
    // Stdin is all in the agent before the VM stops (nothing in flight is lost with this QEMU),
    // and no carry refresh has the VM's share mounted.
    expect(core.calls).toEqual(['hold carry', 'agent hold stdin', 'qmp stop', 'save /img', 'end 137', 'release carry']);
    const paused = new FakeCore({ phase: 'paused', started: true });
    await run(paused, 'checkpoint');
    // Held since its pause; --leave-running leaves it paused, and held.
    expect(paused.calls).toEqual(['hold carry', 'qmp stop', 'save /img', 'release carry']);
    expect(paused.machine.phase).toBe('paused');
  });

  it('ps and stats give the agent\'s fields', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    expect(await run(core, 'ps')).toMatchObject({ ok: true, result: ['1:0:0:S:sh', '7:1:0:R:ps'] });
    expect(await run(core, 'stats')).toMatchObject({ ok: true, result: { id: '1', 'mem.usage': '4096' } });
  });

  it('a migration: begin, send, hand over, stand in; kill then goes to the other host', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    await run(core, 'begin-migration');
    expect(core.machine.phase).toBe('sending');
    expect(await run(core, 'migrate')).toEqual({ ok: true, protocol: KEEPER_PROTOCOL, result: STATS });
    expect(core.machine.phase).toBe('handed-over');
    await run(core, 'handover');
    expect(core.machine.phase).toBe('standing-in');
    await run(core, 'kill');
    expect(core.calls).toEqual(['hold carry', 'sendVm tcp:127.0.0.1:2 wasRunning=true', 'release carry', 'agent suspend stdin', 'leaveVm', 'standIn 127.0.0.1:7700 /t', 'signalRemote 15']);
  });

  it('a cancel while the destination prepares is kept: migrate then sends nothing, fails "migration cancelled", and the VM runs on', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    await run(core, 'begin-migration');
    expect(await run(core, 'cancel-migration')).toEqual({ ok: true, protocol: KEEPER_PROTOCOL });
    const reply = await run(core, 'migrate');
    expect(reply).toEqual({ ok: false, protocol: KEEPER_PROTOCOL, code: 'ESTATE', error: 'migration cancelled' });
    expect(core.calls).toEqual([]);
    expect(core.machine.facts).toEqual({ phase: 'running', started: true });
  });

  it('a cancel during the transfer is seen by it; the keeper returns to where it was (paused stays paused)', async () => {
    const core = new FakeCore({ phase: 'paused', started: true });
    let release!: () => void;
    const polled = new Promise<void>((r) => { release = r; });
    core.send = async (cancelled) => {
      await polled;
      if (cancelled()) throw new Error('migration cancelled');
      return STATS;
    };
    await run(core, 'begin-migration');
    const sending = run(core, 'migrate');
    await new Promise((r) => setImmediate(r));
    expect(core.machine.facts.transferring).toBe(true);
    expect(await run(core, 'migrate')).toMatchObject({ ok: false, error: 'the VM is already being sent' });
    await run(core, 'cancel-migration');
    release();
    expect(await sending).toMatchObject({ ok: false, code: 'EHOST', error: 'migration cancelled' });
    expect(core.machine.facts).toEqual({ phase: 'paused', started: true });
    expect(core.calls).toEqual(['hold carry', 'sendVm tcp:127.0.0.1:2 wasRunning=false', 'release carry']);
  });

  it('an abort before the transfer, or after it when Finish failed, leaves the VM running here, its stdin let go on after a transfer', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    await run(core, 'begin-migration');
    await run(core, 'abort-migration');
    expect(core.machine.phase).toBe('running');
    await run(core, 'begin-migration');
    await run(core, 'migrate');
    await run(core, 'abort-migration');
    expect(core.machine.phase).toBe('running');
    expect(core.calls).toEqual(['hold carry', 'sendVm tcp:127.0.0.1:2 wasRunning=true', 'release carry', 'agent suspend stdin', 'qmp cont', 'agent release stdin']);
  });

  it('a migration whose CLI went away before the transfer lapses at the next request', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    await run(core, 'begin-migration');
    core.ownerIsAlive = false;
    expect(await run(core, 'pause')).toMatchObject({ ok: true });
    expect(core.machine.phase).toBe('paused');
  });

  it('a return to this stand-in: take-back boots, finish runs it and retires the link; a failed boot or an abort stands in again', async () => {
    const core = new FakeCore({ phase: 'standing-in', started: true });
    await run(core, 'take-back', { network: { mac: '02:00:00:00:00:01' } });
    expect(core.machine.phase).toBe('taking-back');
    await run(core, 'finish-incoming');
    expect(core.machine.phase).toBe('running');
    expect(core.record.status).toBe('running');
    expect(core.calls).toEqual(['bootIncoming 2 02:00:00:00:00:01', 'runIncoming', 'retireLink']);
    const failing = new FakeCore({ phase: 'standing-in', started: true });
    failing.bootFails = true;
    expect(await run(failing, 'take-back')).toEqual({ ok: false, protocol: KEEPER_PROTOCOL, code: 'EBOOT', error: 'QEMU would not start' });
    expect(failing.machine.phase).toBe('standing-in');
    const aborted = new FakeCore({ phase: 'taking-back', started: true });
    await run(aborted, 'abort-incoming');
    expect(aborted.machine.phase).toBe('standing-in');
  });

  it('a destination keeper runs the VM at finish; handover without a stand-in ends this keeper', async () => {
    const dest = new FakeCore({ phase: 'booting', started: false });
    await run(dest, 'finish-incoming');
    expect(dest.machine.facts).toEqual({ phase: 'running', started: true });
    expect(dest.calls).toEqual(['runIncoming']);
    const source = new FakeCore({ phase: 'handed-over', started: true, resumeTo: 'running' });
    await run(source, 'handover', { standIn: false });
    expect(source.machine.phase).toBe('exiting');
    expect(source.calls).toEqual(['leaveVm', 'endAsReturned 127.0.0.1:7700']);
  });
});
