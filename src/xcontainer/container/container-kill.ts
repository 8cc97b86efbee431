// `kill`: deliver a signal to the container's process (or, with --all, every process
// in the container) through the keeper and the agent.
import { RunxError, containerNotRunning } from '../../errors';
import { canKill } from '../state/container-record';
import { callKeeper } from '../keeper/keeper-client';
import { KEEPER_SOCKET } from '../keeper/keeper-launch';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from '../state/state-store';

export async function killContainer(id: string, signal: number, all: boolean, runtime: RuntimeOptions): Promise<void> {
  const store = new StateStore(runtime.root);
  const { status } = store.readLive(id);
  if (!canKill(status)) throw containerNotRunning(id);
  try {
    await callKeeper(store.file(id, KEEPER_SOCKET), 'kill', { signal, all });
  } catch (err) {
    // The process may have exited between our read and the keeper's answer.
    if (err instanceof RunxError && store.readLive(id).status === 'stopped') throw containerNotRunning(id);
    throw err;
  }
}
