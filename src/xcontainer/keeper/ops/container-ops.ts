// The keeper's ops that the guest agent answers: ping, start, kill, resize, ps, stats,
// update. Which phases serve them is the table's (phases.ts); these only do them.
import { log } from '../../../log';
import { messageOf } from '../../../errors';
import { readPackageFile } from '../../../package-root';
import { KEEPER_PROTOCOL } from '../protocol';
import type { KeeperCore, OpHandlers } from './keeper-core';
import { resumeVm } from './vm-ops';

const SIGKILL = 9;

let runxVersion: string | undefined;

export const containerOps: Pick<OpHandlers, 'ping' | 'start' | 'kill' | 'resize' | 'ps' | 'stats' | 'update'> = {
  async ping() {
    runxVersion ??= (JSON.parse(readPackageFile('package.json')) as { version: string }).version;
    return { protocol: KEEPER_PROTOCOL, runx: runxVersion };
  },
  async start(core) {
    // Before the agent answers: a second start meanwhile is refused, not sent twice.
    core.machine.apply({ kind: 'started' });
    await core.agent().request('start', {});
    core.updateRecord({ status: 'running' });
    return undefined;
  },
  async kill(core, req) {
    if (core.machine.is('standing-in', 'taking-back')) core.signalRemote(req.signal);
    else if (core.machine.is('paused')) await killPaused(core, req);
    else await core.agent().request('kill', { signal: req.signal, all: req.all });
    return undefined;
  },
  async resize(core, req) {
    await core.agent().request('resize', { rows: req.rows, cols: req.cols });
    return undefined;
  },
  async ps(core) {
    const reply = await core.agent().request('ps', {});
    return reply.fields.filter(([k]) => k === 'proc').map(([, v]) => v);
  },
  async stats(core) {
    const usage = await core.agent().request('stats', {});
    return Object.fromEntries(usage.fields);
  },
  async update(core, req) {
    await core.agent().request('update', req.fields);
    return undefined;
  },
};

/**
 * A paused VM's agent cannot answer until the VM runs, so waiting for it would hold
 * the caller until the call timed out. A signal to a frozen process is pending until
 * it thaws: so is this one, sent now and read by the agent when the VM runs again
 * (an error then is only logged). SIGKILL is the exception: it kills frozen tasks
 * (cgroup v2's freezer, and what `delete --force` needs), so the VM runs again to
 * take it and the container ends now.
 */
async function killPaused(core: KeeperCore, req: { signal: number; all: boolean }): Promise<void> {
  if (req.signal === SIGKILL) {
    await resumeVm(core);
    await core.agent().request('kill', { signal: req.signal, all: req.all });
    return;
  }
  core.agent().request('kill', { signal: req.signal, all: req.all })
    .catch((err: unknown) => log().warn(`signal ${req.signal} sent while paused: ${messageOf(err)}`));
}
