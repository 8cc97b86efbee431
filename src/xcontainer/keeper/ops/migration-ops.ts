// The keeper's ops of a live migration (docs/protocol/migration.md): on the source,
// begin, migrate (send the VM), cancel, abort and handover; on a destination, finish;
// on a stand-in whose container comes back, take-back and abort-incoming. Each reports
// what it did to the state machine, whose table decided it may run.
import { RunxError } from '../../../errors';
import type { OpHandlers } from './keeper-core';

type MigrationOps = 'begin-migration' | 'check-link' | 'migrate' | 'cancel-migration' | 'abort-migration' | 'handover' | 'finish-incoming' | 'take-back' | 'abort-incoming';

export const migrationOps: Pick<OpHandlers, MigrationOps> = {
  async 'begin-migration'(core, req) {
    core.machine.apply({ kind: 'migration-begun', owner: req.owner });
    return undefined;
  },
  async 'check-link'(core, req) {
    // It runs elsewhere than `runx migrate` (another working directory, perhaps another
    // network namespace): learn now, while nothing has moved, that it can attach.
    await core.checkLink(req.to, req.auth);
    return undefined;
  },
  async migrate(core, req, progress) {
    if (core.machine.facts.cancelled) {
      // Cancelled while the destination prepared: nothing was sent.
      core.machine.apply({ kind: 'migration-aborted' });
      throw new RunxError('ESTATE', 'migration cancelled');
    }
    const wasRunning = core.machine.facts.resumeTo !== 'paused';
    core.machine.apply({ kind: 'transfer-started' });
    // Sending starts none; one begun before has to end: QEMU cannot send a VM whose share is mounted.
    const release = await core.holdCarry();
    let stats;
    try {
      // A cancel is seen at the transfer's next poll: it cleans up and fails.
      stats = await core.sendVm(req.send, progress, wasRunning, () => core.machine.facts.cancelled === true);
    } catch (err) {
      core.machine.apply({ kind: 'transfer-failed' });
      throw err;
    } finally {
      release();
    }
    // The VM has stopped and gone: stdin from here on waits for the stand-in's link
    // (or, should the migration be aborted, for this VM again), as does what was on its
    // way to the agent (agent.md, "Stdin across a migration").
    core.agent().suspendStdin();
    core.machine.apply({ kind: 'transfer-done' });
    return stats;
  },
  async 'cancel-migration'(core) {
    // Before the transfer (the destination still preparing) it is refused when it
    // comes; during it, it stops at its next poll.
    core.machine.apply({ kind: 'cancel-requested' });
    return undefined;
  },
  async 'abort-migration'(core) {
    if (core.machine.is('sending') && core.machine.facts.transferring) {
      // The transfer ends by itself, and its failure returns the machine.
      core.machine.apply({ kind: 'cancel-requested' });
      return undefined;
    }
    // After a completed transfer, Finish never ran: the destination never ran the VM,
    // so ours is still the one.
    core.leaveHostNetns();
    if (core.machine.is('handed-over') && core.machine.facts.resumeTo !== 'paused') {
      await core.qmp().execute('cont', {});
      // (A paused container's stdin stays held by its pause.)
      core.agent().releaseStdin();
    }
    core.machine.apply({ kind: 'migration-aborted' });
    return undefined;
  },
  async handover(core, req) {
    await core.leaveVm();
    if (req.standIn === false) {
      core.machine.apply({ kind: 'ending' });
      core.endAsReturned(req.to);
      return undefined;
    }
    await core.standIn(req.to, req.auth, req.link);
    core.machine.apply({ kind: 'stood-in' });
    return undefined;
  },
  async 'finish-incoming'(core) {
    const takingBack = core.machine.is('taking-back');
    await core.runIncoming();
    core.machine.apply({ kind: 'incoming-finished' });
    if (takingBack) core.retireLink();
    core.updateRecord({ status: 'running' });
    return undefined;
  },
  async 'take-back'(core, req) {
    // The container comes back to the host this keeper stands in on: the pid its
    // supervisor knows runs it again, from a VM waiting for the incoming state.
    core.machine.apply({ kind: 'take-back-begun' });
    try {
      await core.bootIncoming(req.incoming, req.network);
    } catch (err) {
      core.machine.apply({ kind: 'take-back-aborted' });
      throw err instanceof RunxError ? err : new RunxError('EBOOT', String((err as Error).message ?? err));
    }
    return undefined;
  },
  async 'abort-incoming'(core, req) {
    // The return will not happen: end that VM and go on standing in.
    await core.abortIncoming(req.network);
    core.machine.apply({ kind: 'take-back-aborted' });
    return undefined;
  },
};
