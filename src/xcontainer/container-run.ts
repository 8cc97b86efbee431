// `run`: create and start; in the foreground, forward signals to the container, wait
// for it, delete it (unless --keep) and return its exit status.
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { type RunxError, messageOf } from '../errors';
import { log } from '../log';
import { createContainer } from './container-create';
import { deleteContainer } from './container-delete';
import { killContainer } from './container-kill';
import { startContainer } from './container-start';
import type { RuntimeOptions } from './runtime-options';

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
  const { keeper } = await createContainer({ ...opts, detachKeeper: opts.detach });
  const exited = keeperExit(keeper);
  try {
    await startContainer(opts.id, opts.runtime);
  } catch (err) {
    await deleteContainer(opts.id, true, opts.runtime).catch(() => undefined);
    throw err;
  }
  if (opts.detach) return 0;
  return waitInForeground(opts.id, exited, opts.keep, opts.runtime);
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
  const status = await exited;
  log().debug(`keeper exited with ${status}`);
  for (const [sig, h] of handlers) process.off(sig, h);
  if (!keep) {
    await deleteContainer(id, true, runtime).catch((err: RunxError) => log().warn(`cleaning up ${id}: ${err.message}`));
  }
  return status;
}
