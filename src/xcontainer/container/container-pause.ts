// `pause` and `resume`: the whole VM is stopped and continued (QMP stop/cont) by the
// keeper; the container's processes notice nothing but the lost time.
import { RunxError } from '../../errors';
import { callKeeper } from '../keeper/keeper-client';
import { KEEPER_SOCKET } from '../keeper/keeper-launch';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from '../state/state-store';

export async function pauseContainer(id: string, runtime: RuntimeOptions): Promise<void> {
  const store = new StateStore(runtime.root);
  await store.withLock(id, async () => {
    const { status } = store.readLive(id);
    if (status !== 'running') throw new RunxError('ESTATE', `container "${id}" not running: container not running`);
    await callKeeper(store.file(id, KEEPER_SOCKET), 'pause', {});
  });
}

export async function resumeContainer(id: string, runtime: RuntimeOptions): Promise<void> {
  const store = new StateStore(runtime.root);
  await store.withLock(id, async () => {
    const { status } = store.readLive(id);
    if (status !== 'paused') throw new RunxError('ESTATE', `container "${id}" not paused`);
    await callKeeper(store.file(id, KEEPER_SOCKET), 'resume', {});
  });
}
