// A checkpoint that ends the container (no --leave-running) writes its read-write
// carried binds back to their host sources (docs/mounts.md), as its end would: a runc
// container's volume holds what it wrote when it was checkpointed. The copy must be
// exactly what the image holds, so the container must not run between the save and
// the copy: its processes are frozen in the guest (agent `freeze`, the cgroup v2
// freezer) before the VM stops, and the VM then runs for the copy only, its NIC's link
// down and the agent relaying nothing of the frozen container. A pause freezes too
// (runc's pause is a freeze), since containerd pauses before it checkpoints. The image
// holds the frozen container; a restore thaws it (keeper.ts), as a resume does.
import { messageOf } from '../../../errors';
import { log } from '../../../log';
import type { KeeperCore } from './keeper-core';

/** The agent waits up to 5 s for every task to stop (a task blocked in I/O stops once it returns). */
const FREEZE_TIMEOUT_MS = 10_000;
/** A write-back copies what changed since create, and stats every entry (9p round trips under TCG). */
export const WRITE_BACK_TIMEOUT_MS = 10 * 60_000;

/** The progress line a checkpoint that writes back sends before its reply (docs/protocol/keeper.md). */
export interface WriteBackProgress {
  writeBack: { ms: number; error?: string };
}

export function isWriteBackProgress(p: unknown): p is WriteBackProgress {
  const w = (p as { writeBack?: unknown } | undefined)?.writeBack as { ms?: unknown } | undefined;
  return typeof w === 'object' && w !== null && typeof w.ms === 'number';
}

/** Freezes the container's processes; false (said in one line) if the agent could not. */
export async function freezeGuest(core: KeeperCore, why: string): Promise<boolean> {
  const t0 = Date.now();
  try {
    await core.agent().request('freeze', {}, FREEZE_TIMEOUT_MS);
    core.guestFrozen = true;
    log().debug(`${why}: the container's processes frozen in ${Date.now() - t0} ms`);
    return true;
  } catch (err) {
    log().warn(`${why}: the container's processes could not be frozen in its VM: ${messageOf(err)}`);
    return false;
  }
}

/** Thaws what freezeGuest froze (the VM running). */
export async function thawGuest(core: KeeperCore, why: string): Promise<void> {
  if (!core.guestFrozen) return;
  core.guestFrozen = false;
  await core.agent().request('thaw', {}).catch((err: unknown) => log().warn(`${why}: the container's processes could not be thawed: ${messageOf(err)}`));
}

/**
 * With the VM saved and stopped, the container frozen since before the stop: the VM
 * runs again, cut off from the network, for the agent to copy the read-write binds to
 * the host (`carry to=host back=1`). A failure is one warning, the CLI's (through the
 * progress line): the image has the data, and its restore's end writes it back.
 */
export async function writeBackSaved(core: KeeperCore, progress: (p: WriteBackProgress) => void): Promise<void> {
  const t0 = Date.now();
  const said = (error?: string) => progress({ writeBack: { ms: Date.now() - t0, ...(error ? { error } : {}) } });
  const notWritten = (why: string) => `checkpoint: the read-write binds were not written back to the host (${why}); the image holds the container's writes, and its restore writes them back when it ends`;
  // The warning line is the CLI's (its --log and stderr); ours is the keeper's record of it.
  if (!core.guestFrozen) {
    const msg = notWritten('the container could not be frozen, so the copy would not be the image\'s');
    log().info(msg);
    return said(msg);
  }
  try {
    await core.isolateVm();
    await core.qmp().execute('cont', {});
    await core.agent().request('carry', [['to', 'host'], ['back', true]], WRITE_BACK_TIMEOUT_MS);
  } catch (err) {
    const msg = notWritten(messageOf(err));
    log().info(msg);
    return said(msg);
  }
  log().info(`checkpoint: read-write binds written back to the host in ${Date.now() - t0} ms`);
  said();
}
