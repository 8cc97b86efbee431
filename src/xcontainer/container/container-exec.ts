// `exec`: start another process in a running container. In the foreground this
// process relays the exec'd one's stdio and exits with its status; with --detach a
// relay process does (exec-relay-main.ts), and its pid is what --pid-file names.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { RunxError, messageOf } from '../../errors';
import { guestExecFields } from '../../bundle/guest-plan';
import { ExecRelay, type ExecRelayRequest } from '../exec-relay/exec-relay';
import { internalCommand } from '../host/internal-command';
import { type ExecProcessOptions, execProcess } from './exec-process';
import { KEEPER_SOCKET } from '../keeper/keeper-launch';
import { writePidFile } from './provision';
import type { RuntimeOptions } from './runtime-options';
import { StateStore } from '../state/state-store';

export interface ExecOptions extends ExecProcessOptions {
  id: string;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  ignorePaused: boolean;
  runtime: RuntimeOptions;
}

/** Returns the status `runx exec` exits with: the process's own, or 0 when detached. */
export async function execInContainer(opts: ExecOptions): Promise<number> {
  const store = new StateStore(opts.runtime.root);
  const { status } = store.readLive(opts.id);
  if (status === 'stopped') throw new RunxError('ESTATE', 'cannot exec in a stopped container');
  if (status === 'paused' && !opts.ignorePaused) throw new RunxError('ESTATE', 'cannot exec in a paused container');
  const config = store.config(opts.id);
  const proc = execProcess(opts, config);
  const tty = proc.terminal === true;
  // runc's rules for a terminal, in runc's words.
  if (opts.consoleSocket && !opts.detach) throw new RunxError('EUSAGE', 'cannot use console socket if runx will not detach');
  if (opts.consoleSocket && !tty) throw new RunxError('EUSAGE', 'cannot use console socket if runx will not detach or allocate tty');
  if (tty && opts.detach && !opts.consoleSocket) throw new RunxError('EUSAGE', 'cannot allocate tty if runx will detach without setting console socket');

  const req: ExecRelayRequest = {
    socket: store.file(opts.id, KEEPER_SOCKET),
    // The number is the keeper's to give; guestExecFields' placeholder is dropped.
    fields: guestExecFields(0, proc, config).filter(([k]) => k !== 'exec'),
    tty,
    consoleSocket: opts.consoleSocket ? path.resolve(opts.consoleSocket) : undefined,
  };
  if (opts.detach) {
    const pid = await startDetachedRelay(req);
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
    return 0;
  }
  const relay = await ExecRelay.start(req);
  if (opts.pidFile) writePidFile(opts.pidFile, process.pid);
  return relay.done;
}

function startDetachedRelay(req: ExecRelayRequest): Promise<number> {
  // Its own session: the console's pty becomes its controlling terminal, and it
  // outlives us, reparented to the nearest subreaper (containerd's shim) as runc's
  // exec'd process would be.
  // With a console the process's stdio is the pty: the relay must not hold ours,
  // which the caller (go-runc) reads to EOF before exec counts as done.
  const stdio = req.consoleSocket ? 'ignore' : 'inherit';
  const relay = internalCommand('exec-relay');
  const child = spawn(relay.file, relay.args, {
    detached: true,
    stdio: [stdio, stdio, stdio, 'pipe'],
  });
  // Node makes a 'pipe' beyond stdio a duplex socket.
  const pipe = child.stdio[3] as unknown as import('node:net').Socket;
  pipe.write(`${JSON.stringify(req)}\n`);
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (fn: () => void) => {
      pipe.removeAllListeners();
      pipe.destroy();
      child.removeAllListeners();
      fn();
    };
    pipe.on('data', (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      let reply: { ok: boolean; error?: string };
      try {
        reply = JSON.parse(text.slice(0, nl)) as { ok: boolean; error?: string };
      } catch (err) {
        done(() => reject(new RunxError('EINTERNAL', `exec relay sent garbage: ${messageOf(err)}`)));
        return;
      }
      if (!reply.ok) done(() => reject(new RunxError('ESTATE', reply.error ?? 'exec failed')));
      else done(() => { child.unref(); resolve(child.pid!); });
    });
    child.once('exit', (code, signal) => done(() => reject(new RunxError('EINTERNAL', `exec relay exited before the process started (${code ?? signal})`))));
    child.once('error', (err) => done(() => reject(new RunxError('EINTERNAL', `cannot start the exec relay: ${err.message}`))));
  });
}
