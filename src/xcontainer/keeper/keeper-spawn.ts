// Starting a keeper process (for provision: create, run, restore, a migration's destination) and waiting for its word
// that the VM is up and the container is prepared, or why not.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { messageOf } from '../../errors';
import { internalCommand } from '../host/internal-command';
import { type KeeperNetns, keeperNetnsSpawn } from '../devices/net/keeper-netns';
import { type KeeperNamespaces, keeperNamespacesPrefix } from './keeper-namespaces';
import { KEEPER_GO, LAUNCH_FILE, type KeeperLaunch, type KeeperReady } from './keeper-launch';
import { writeFileAtomic } from '../state/state-store';
import { saveVmState, vmStateOf } from '../vm/vm-state';

/** Its starter's instructions to a keeper (launch.json), written once, before go. */
export function writeLaunchFile(dir: string, launch: KeeperLaunch): void {
  writeFileAtomic(path.join(dir, LAUNCH_FILE), JSON.stringify(launch));
}

/**
 * The keeper's own write, whenever its VM changes: the VM's mutable state
 * (vm-state.json, vm/vm-state.ts) as its launch now stands. launch.json is not
 * rewritten. (Named as before, for the keeper's many callers.)
 */
export function writeLaunch(dir: string, launch: KeeperLaunch): void {
  saveVmState(dir, vmStateOf(dir, launch));
}

/**
 * Starts a keeper for the state directory `dir`. It reads launch.json only once told
 * to (`launched`, or keeperGo later): create starts it before the root disk and the
 * rest of launch.json are ready, so that its own start-up (~100 ms of Node's) runs
 * meanwhile.
 */
export function spawnKeeper(dir: string, detach: boolean, stdio: 'inherit' | 'pipe' | 'ignore' = 'inherit', launched = true, netnsPlan?: KeeperNetns, nsPlan: KeeperNamespaces = {}): ChildProcess {
  // The keeper inherits our stdin/stdout/stderr: they are the container's stdio, as
  // runc's container process inherits runc's. fd 3 (a socket pair) carries our go and
  // its word that it is ready. With netnsPlan it starts in the container's network
  // namespace (devices/net/keeper-netns.ts), with ours at fd 4; with nsPlan in the
  // container's ipc and uts ones (keeper-namespaces.ts).
  const keeper = internalCommand('keeper', [dir]);
  const netns = netnsPlan ? keeperNetnsSpawn(netnsPlan) : undefined;
  const argv = [...(netns?.prefix ?? []), ...keeperNamespacesPrefix(nsPlan), keeper.file, ...keeper.args];
  let child: ChildProcess;
  try {
    child = spawn(argv[0], argv.slice(1), {
      detached: true,
      stdio: netns ? [stdio, stdio, stdio, 'pipe', netns.hostFd] : [stdio, stdio, stdio, 'pipe'],
    });
  } finally {
    if (netns) fs.closeSync(netns.hostFd);
  }
  if (detach) child.unref();
  if (launched) keeperGo(child);
  return child;
}

/** Tells a keeper that its launch.json is written: it boots the VM now. */
export function keeperGo(child: ChildProcess): void {
  const pipe = child.stdio[3] as NodeJS.WritableStream & NodeJS.EventEmitter;
  // A keeper that is gone already is reported by keeperReadiness (its exit).
  pipe.once('error', () => undefined);
  pipe.write(`${KEEPER_GO}\n`);
}

export function keeperReadiness(child: ChildProcess): Promise<KeeperReady> {
  return new Promise((resolve) => {
    const pipe = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    let text = '';
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => done({ ok: false, error: `keeper exited during create (${code ?? signal})` });
    const onError = (err: Error) => done({ ok: false, error: `cannot start keeper: ${err.message}` });
    const done = (reply: KeeperReady) => {
      pipe.removeAllListeners();
      pipe.destroy();
      // Only our own listeners: callers may watch the keeper's exit too.
      child.off('exit', onExit);
      child.off('error', onError);
      resolve(reply);
    };
    pipe.on('data', (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        try {
          done(JSON.parse(text.slice(0, nl)) as KeeperReady);
        } catch (err) {
          done({ ok: false, error: `keeper sent garbage: ${messageOf(err)}` });
        }
      }
    });
    child.once('exit', onExit);
    child.once('error', onError);
  });
}
