// `start`: run the startContainer hooks in the guest, then tell the keeper to have the
// agent exec the prepared process.
import { RunxError } from '../../errors';
import type { SpecHooks } from '../../bundle/spec-types';
import { toOciState } from '../state/container-record';
import { runStartContainerHooks } from './guest-hooks';
import { runHooksWarnOnly } from './hooks';
import { callKeeper } from '../keeper/keeper-client';
import { KEEPER_SOCKET, LAUNCH_FILE } from '../keeper/keeper-launch';
import { refuseLateInterface } from '../devices/net/late-interface';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from '../state/state-store';

export async function startContainer(id: string, runtime: RuntimeOptions): Promise<void> {
  const store = new StateStore(runtime.root);
  await store.withLock(id, async () => {
    const { rec, status } = store.readLive(id);
    if (status === 'running') throw new RunxError('ESTATE', 'cannot start an already running container');
    if (status === 'stopped') throw new RunxError('ESTATE', 'cannot start a container that has stopped');
    if (status !== 'created') throw new RunxError('ESTATE', `cannot start a container in the ${status} state`);
    const config = store.config(id);
    const { hooks } = config;
    refuseLateInterface(rec.keeperPid, config.linux?.namespaces, store.file(id, LAUNCH_FILE));
    await runStartContainerHooks(config, toOciState(rec, 'created'), store.file(id, KEEPER_SOCKET));
    await callKeeper(store.file(id, KEEPER_SOCKET), 'start', {});
    await runHooksWarnOnly('poststart', hooks, toOciState(rec, 'running'));
  });
}

/**
 * What is left of `start` for a process the keeper started with create (`run`): the
 * poststart hooks (`hooks` as create read them from the config).
 */
export async function afterStartedAtCreate(id: string, runtime: RuntimeOptions, hooks: SpecHooks | undefined): Promise<void> {
  if (!hooks?.poststart?.length) return;
  await runHooksWarnOnly('poststart', hooks, toOciState(new StateStore(runtime.root).read(id), 'running'));
}
