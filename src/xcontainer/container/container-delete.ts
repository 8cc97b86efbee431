// `delete`: remove a stopped (or created) container's VM leftovers and state; with
// --force, kill a running one first. A keeper that will not die is killed by pid,
// which takes its QEMU with it (parent-death signal).
import fs from 'node:fs';
import { RunxError } from '../../errors';
import { log } from '../../log';
import { type ContainerRecord, toOciState } from '../state/container-record';
import { runHooksWarnOnly } from './hooks';
import { sleep, waitForExit } from '../host/host';
import { removeHostCgroup } from '../cgroup/host-cgroup';
import { callKeeper } from '../keeper/keeper-client';
import { KEEPER_SOCKET } from '../keeper/keeper-launch';
import { type GuestNetwork, teardownNetwork } from '../devices/net/config';
import { netFromState } from '../devices/net/persist';
import { readVm } from '../vm/vm-state';
import type { RuntimeOptions } from './runtime-options';
import { CorruptStateError, StateStore } from '../state/state-store';

const SIGKILL = 9;

export async function deleteContainer(id: string, force: boolean, runtime: RuntimeOptions): Promise<void> {
  const store = new StateStore(runtime.root);
  await store.withLock(id, async () => {
    let live;
    try {
      live = store.readLive(id);
    } catch (err) {
      // As runc: --force on an id whose state never got written still cleans its directory.
      if (force && (err as RunxError).code === 'ENOTFOUND') {
        if (fs.existsSync(store.dir(id))) store.remove(id);
        return;
      }
      if (force && err instanceof CorruptStateError) {
        await removeUnreadable(store, id);
        return;
      }
      throw err;
    }
    const { rec, status, keeperAlive } = live;
    if ((status === 'running' || status === 'paused') && !force) {
      throw new RunxError('ESTATE', `cannot delete container ${id} that is not stopped: ${status}`);
    }
    // Also before its keeper is spawned (keeperPid still 0): the create in progress
    // would otherwise lose its directory and fail. A record whose keeper died reads
    // as stopped, so a crashed create is still deleted without --force.
    if (status === 'creating' && !force) {
      throw new RunxError('ESTATE', `cannot delete container ${id} while it is being created`);
    }
    if (keeperAlive) await endKeeper(store, rec, status !== 'stopped');
    let hooks;
    try {
      hooks = store.config(id).hooks;
    } catch { /* a create that failed early copied no config */ }
    // After a checkpoint the namespace's interface stays held by the (readerless) tap:
    // packets for the VM are dropped, not answered with resets by the namespace's own
    // stack, so a restore finds its TCP peers still connected.
    if (!rec.checkpointed) releaseNetwork(store, id);
    // The keeper is gone, and with it QEMU (or it is going: removal waits a moment).
    if (rec.cgroup) await removeHostCgroup(rec.cgroup, [rec.keeperPid, rec.qemuPid ?? 0]);
    store.remove(id);
    await runHooksWarnOnly('poststop', hooks, toOciState(rec, 'stopped'));
  });
}

async function endKeeper(store: StateStore, rec: ContainerRecord, kill: boolean): Promise<void> {
  if (kill) {
    await callKeeper(store.file(rec.id, KEEPER_SOCKET), 'kill', { signal: SIGKILL, all: true }, { timeoutMs: 5000 })
      .catch((err) => log().warn(`delete ${rec.id}: ${(err as Error).message}`));
  }
  else if (await waitForExit(rec.keeperPid, rec.keeperStartTime, 200)) return;
  // A stopped container's keeper that is still there may be waiting for a stand-in on
  // another host to take the exit status (keeper-link.ts): it ends on SIGTERM.
  else {
    try {
      process.kill(rec.keeperPid, 'SIGTERM');
    } catch { /* gone */ }
  }
  if (await waitForExit(rec.keeperPid, rec.keeperStartTime, 10_000)) return;
  log().warn(`delete ${rec.id}: keeper ${rec.keeperPid} did not exit; killing it`);
  try {
    process.kill(rec.keeperPid, 'SIGKILL');
  } catch { /* already gone */ }
  await waitForExit(rec.keeperPid, rec.keeperStartTime, 5000);
}

/** Removes the tap and redirects create set up in the container's network namespace. */
function releaseNetwork(store: StateStore, id: string): void {
  let net: GuestNetwork | undefined;
  try {
    net = netFromState(readVm(store.dir(id)).state.devices.net);
  } catch {
    return;
  }
  if (net) teardownNetwork(net);
}

/**
 * --force on a container whose state.json is unreadable: whatever keeper still answers
 * on its socket is told to kill it, its NIC is released, and its directory goes.
 */
async function removeUnreadable(store: StateStore, id: string): Promise<void> {
  const sock = store.file(id, KEEPER_SOCKET);
  if (fs.existsSync(sock)) {
    const told = await callKeeper(sock, 'kill', { signal: SIGKILL, all: true }, { timeoutMs: 5000 })
      .then(() => true, (err) => { log().warn(`delete ${id}: ${(err as Error).message}`); return false; });
    // Its pid is in the record we cannot read; a keeper removes its socket as it exits.
    for (let i = 0; told && i < 100 && fs.existsSync(sock); i++) await sleep(100);
  }
  releaseNetwork(store, id);
  store.remove(id);
}
