// The keeper's ops on the whole VM: pause, resume (QMP stop/cont, the container's
// processes frozen in the guest meanwhile) and checkpoint.
import { RunxError, messageOf } from '../../../errors';
import { log } from '../../../log';
import type { AgentPort, KeeperCore, OpHandlers } from './keeper-core';
import { freezeGuest, thawGuest, writeBackSaved } from './write-back';

/**
 * Before QEMU stops: stdin still between us and the guest then would stay in QEMU, and
 * be lost with it if the VM is saved and ended; so none goes until it runs again, and
 * the agent reads what was sent first. An agent that does not answer does not stop the
 * VM from stopping.
 */
async function holdStdin(agent: AgentPort, why: string): Promise<void> {
  if (!await agent.holdStdin()) log().warn(`${why}: the guest agent did not answer; stdin sent just before may be lost`);
}

/** Runs a paused VM again (nothing if it is not paused): `resume`, and a SIGKILL to a paused container. */
export async function resumeVm(core: KeeperCore): Promise<void> {
  if (!core.machine.is('paused')) return;
  await core.qmp().execute('cont', {});
  await thawGuest(core, 'resume');
  core.agent().releaseStdin();
  core.machine.apply({ kind: 'resumed' });
  core.updateRecord({ status: 'running' });
}

/** The checkpoint itself, with no carry refresh under way (its share is unmounted). */
const checkpointHeld: OpHandlers['checkpoint'] = async (core, req, progress) => {
  const wasPaused = core.machine.is('paused');
  const qmp = core.qmp();
  // Written back after the save from a container that has not run since (write-back.ts):
  // frozen before the VM stops. A paused one was frozen at its pause.
  const writeBack = !req.leaveRunning && core.carriesWrites;
  const froze = writeBack && !wasPaused && await freezeGuest(core, 'checkpoint');
  // A paused VM's stdin was held at its pause.
  if (!wasPaused) await holdStdin(core.agent(), 'checkpoint');
  try {
    await qmp.execute('stop', {});
    await core.saveCheckpoint(req.dir);
  } catch (err) {
    // QEMU not answering even this: it is gone (killed, crashed), and the container
    // with it, which the one error line must say rather than QMP's view of it.
    const answered = await (wasPaused ? qmp.execute('query-status', {}) : qmp.execute('cont', {})).then(() => true, () => false);
    if (froze && answered) await thawGuest(core, 'checkpoint');
    if (!wasPaused) core.agent().releaseStdin();
    if (!answered) throw new RunxError('EQMP', `its VM (QEMU) ended during the save (${messageOf(err)}); the container is stopped`, { cause: err });
    throw err;
  }
  if (req.leaveRunning) {
    if (!wasPaused) {
      await qmp.execute('cont', {});
      core.agent().releaseStdin();
    }
    return undefined;
  }
  // As with runc, a checkpoint without --leave-running ends the container: its
  // process is gone from this host as if killed (137). Nothing else is served from
  // here; the record says stopped once the host has the binds' data.
  core.machine.apply({ kind: 'ending' });
  if (writeBack) await writeBackSaved(core, progress);
  core.updateRecord({ status: 'stopped', exitStatus: 137, finished: new Date().toISOString(), checkpointed: true });
  core.endAfterCheckpoint();
  return undefined;
};

export const vmOps: Pick<OpHandlers, 'pause' | 'resume' | 'checkpoint'> = {
  async pause(core) {
    if (core.machine.is('paused')) return undefined;
    // No copy stopped halfway with the share mounted: a checkpoint of the paused VM
    // could not save it, and could not wait for the copy either.
    const release = await core.holdCarry();
    try {
      // Frozen as runc's pause freezes, so that a checkpoint of the paused container
      // can write its binds back from a container that has not run since (containerd
      // pauses before it checkpoints). An agent that cannot does not stop the pause.
      await freezeGuest(core, 'pause');
      await holdStdin(core.agent(), 'pause');
      await core.qmp().execute('stop', {}).catch(async (err: unknown) => {
        await thawGuest(core, 'pause');
        core.agent().releaseStdin();
        throw err;
      });
      core.machine.apply({ kind: 'paused' });
      core.updateRecord({ status: 'paused' });
    } finally {
      release();
    }
    return undefined;
  },
  async resume(core) {
    await resumeVm(core);
    return undefined;
  },
  /**
   * The VM's state and a copy of its root disk, taken at one instant while the VM is
   * stopped. On failure the VM resumes untouched; a paused container (containerd
   * pauses before it checkpoints) stays paused.
   */
  async checkpoint(core, req, progress) {
    const release = await core.holdCarry();
    try {
      return await checkpointHeld(core, req, progress);
    } finally {
      release();
    }
  },
};
