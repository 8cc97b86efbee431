// `run`: create and start; in the foreground, forward signals to the container, wait
// for it, delete it (unless --keep) and return its exit status.
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import type tty from 'node:tty';
import { type RunxError, messageOf } from '../../errors';
import { log } from '../../log';
import { createContainer } from './container-create';
import { deleteContainer } from './container-delete';
import { killContainer } from './container-kill';
import { afterStartedAtCreate, startContainer } from './container-start';
import { callKeeper } from '../keeper/keeper-client';
import { KEEPER_SOCKET } from '../keeper/keeper-launch';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from '../state/state-store';

export interface RunOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  detach: boolean;
  keep: boolean;
  runtime: RuntimeOptions;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Returns the exit status `runx run` should exit with. */
export async function runContainer(opts: RunOptions): Promise<number> {
  const { keeper, terminal, started, hooks } = await createContainer({ ...opts, detachKeeper: opts.detach, start: true });
  const exited = keeperExit(keeper);
  // The container's terminal is relayed through ours: raw, so keys (Ctrl-C too) reach
  // the guest's terminal as bytes, and our size changes follow it.
  const untty = terminal && !opts.detach ? foregroundTerminal(opts.id, opts.runtime) : undefined;
  void exited.then(() => untty?.());
  try {
    if (started) await afterStartedAtCreate(opts.id, opts.runtime, hooks);
    else await startContainer(opts.id, opts.runtime);
  } catch (err) {
    await deleteContainer(opts.id, true, opts.runtime).catch(() => undefined);
    throw err;
  }
  if (opts.detach) return 0;
  return waitInForeground(opts.id, exited, opts.keep, opts.runtime);
}

function foregroundTerminal(id: string, runtime: RuntimeOptions): (() => void) | undefined {
  if (!process.stdin.isTTY) return undefined;
  const stdin = process.stdin as tty.ReadStream;
  stdin.setRawMode(true);
  const socket = new StateStore(runtime.root).file(id, KEEPER_SOCKET);
  const onResize = () => {
    const { rows, columns: cols } = process.stdout;
    if (rows && cols) void callKeeper(socket, 'resize', { rows, cols }).catch(() => undefined);
  };
  process.stdout.on('resize', onResize);
  return () => {
    process.stdout.off('resize', onResize);
    stdin.setRawMode(false);
  };
}

export function keeperExit(keeper: ChildProcess): Promise<number> {
  return new Promise<number>((resolve) => {
    if (keeper.exitCode !== null) resolve(keeper.exitCode);
    keeper.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + os.constants.signals[signal] : 255)));
  });
}

/**
 * The foreground half of `run` and `restore`: forward our signals to the container,
 * wait for its keeper, delete it unless `keep`, and return its exit status.
 */
export async function waitInForeground(id: string, exited: Promise<number>, keep: boolean, runtime: RuntimeOptions): Promise<number> {
  const handlers = FORWARDED.map((sig) => {
    const h = () => void killContainer(id, os.constants.signals[sig], false, runtime)
      .catch((err) => log().warn(`forwarding ${sig}: ${messageOf(err)}`));
    process.on(sig, h);
    return [sig, h] as const;
  });
  // Idle until the container ends: load now what delete needs first (~5 ms of module
  // loading that would otherwise come after the exit).
  if (!keep) StateStore.preloadLock();
  const status = await exited;
  log().debug(`keeper exited with ${status}`);
  for (const [sig, h] of handlers) process.off(sig, h);
  if (!keep) {
    await deleteContainer(id, true, runtime).catch((err: RunxError) => log().warn(`cleaning up ${id}: ${err.message}`));
  }
  return status;
}
