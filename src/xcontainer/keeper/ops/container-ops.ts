// The keeper's ops that the guest agent answers: ping, start, kill, resize, ps, stats,
// update. Which phases serve them is the table's (phases.ts); these only do them.
import { readPackageFile } from '../../../package-root';
import { KEEPER_PROTOCOL } from '../protocol';
import type { OpHandlers } from './keeper-core';

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
