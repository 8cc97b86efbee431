// The keeper's ops on the whole VM: pause, resume (QMP stop/cont) and checkpoint.
import type { OpHandlers } from './keeper-core';

export const vmOps: Pick<OpHandlers, 'pause' | 'resume' | 'checkpoint'> = {
  async pause(core) {
    if (core.machine.is('paused')) return undefined;
    await core.qmp().execute('stop', {});
    core.machine.apply({ kind: 'paused' });
    core.updateRecord({ status: 'paused' });
    return undefined;
  },
  async resume(core) {
    if (!core.machine.is('paused')) return undefined;
    await core.qmp().execute('cont', {});
    core.machine.apply({ kind: 'resumed' });
    core.updateRecord({ status: 'running' });
    return undefined;
  },
  /**
   * The VM's state and a copy of its root disk, taken at one instant while the VM is
   * stopped. On failure the VM resumes untouched; a paused container (containerd
   * pauses before it checkpoints) stays paused.
   */
  async checkpoint(core, req) {
    const wasPaused = core.machine.is('paused');
    const qmp = core.qmp();
    // Stdin still between us and the guest when it stops would be lost with this QEMU:
    // the agent reads it all first, and nothing more goes until the VM runs again. (A
    // paused guest cannot read: what was in flight then stays QEMU's, lost at exit.)
    const release = wasPaused ? undefined : await core.agent().holdStdin();
    try {
      await qmp.execute('stop', {});
      await core.saveCheckpoint(req.dir);
    } catch (err) {
      if (!wasPaused) await qmp.execute('cont', {}).catch(() => undefined);
      release?.();
      throw err;
    }
    if (req.leaveRunning) {
      if (!wasPaused) await qmp.execute('cont', {});
      release?.();
      return undefined;
    }
    // As with runc, a checkpoint without --leave-running ends the container: its
    // process is gone from this host as if killed (137).
    core.machine.apply({ kind: 'ending' });
    core.updateRecord({ status: 'stopped', exitStatus: 137, finished: new Date().toISOString(), checkpointed: true });
    core.endAfterCheckpoint();
    return undefined;
  },
};
