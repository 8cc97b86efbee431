// The keeper: one host process per container. It owns the QEMU child, talks to the
// guest agent, relays the container's stdio through its own inherited stdin, stdout
// and stderr, serves the CLI on keeper.sock, and exits with the container's exit
// status (128+N for death by signal N). Its pid is what `create --pid-file` writes,
// so containerd's shim supervises it as it would runc's container process.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RunxError, messageOf } from '../../errors';
import { log, configureLog, preloadLogger, stderrIsContainers } from '../../log';
import type { AgentConnection, AgentExit } from '../agent/agent-connection';
import type { FieldValue } from '../agent/agent-messages';
import type { ContainerRecord } from '../state/container-record';
import { processStartTime, sleep } from '../host/host';
import { joinHostCgroup } from '../cgroup/host-cgroup';
import { KEEPER_GO, KEEPER_SOCKET, LAUNCH_FILE, type KeeperLaunch, type KeeperReply, type KeeperRequest } from './keeper-launch';
import { anchorLaunch } from '../state/launch-trust';
import { CONSOLE_LOG, ROOT_DISK } from '../vm/qemu-argv';
import { VM_STATE_FILE, copySparse, saveVmState } from '../vm/vm-snapshot';
import { abandonIncoming, finishIncoming, sendVm } from '../vm/vm-migration';
import { type BootMode, type BootedVm, bootVm, consoleTail } from '../vm/vm-boot';
import { StandIn, checkLink, releaseNic } from './keeper-standin';
import { writeLaunch } from './keeper-spawn';
import { ExecSessions } from './keeper-exec';
import { HostTerminal } from './keeper-terminal';
import type { AuthOptions } from '../../migrate/auth';
import type { QmpClient } from '../vm/qmp-client';
import { StateStore } from '../state/state-store';
import { writeAllSync } from './write-all';
import { pausingWriter } from '../agent/stdin-credit';
import { socketPath } from '../state/socket-path';

const READY_FD = 3;
// Signals a supervisor may send the keeper's pid; they go to the container, as they
// would to runc's container process. SIGKILL/SIGSTOP cannot be caught: a killed keeper
// takes QEMU with it (parent-death signal).
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

export function exitStatusOf(exit: AgentExit): number {
  return exit.signal !== undefined ? 128 + exit.signal : (exit.code ?? 255) & 0xff;
}

class Keeper {
  private readonly store: StateStore;
  private record!: ContainerRecord;
  private qemu?: ChildProcess;
  private qemuStderrTail: () => string = () => '';
  private agent?: AgentConnection;
  private qmp?: QmpClient;
  private control?: net.Server;
  private started = false;
  private paused = false;
  private exiting = false;
  private stdoutOpen = true;
  private lastOutputAt = 0;
  /** Set once the VM has been sent away and Finish may have run it elsewhere. */
  private handingOver = false;
  private migrationCancelled = false;
  private standIn?: StandIn;
  /** Output of a VM a stand-in takes back, held until the old link has brought the rest. */
  private heldOutput?: Array<() => void>;
  private linkRetired?: Promise<void>;
  private stderrOpen = true;
  private execs?: ExecSessions;
  private terminal?: HostTerminal;

  constructor(private readonly dir: string, private readonly launch: KeeperLaunch) {
    this.store = new StateStore(launch.root);
  }

  async run(): Promise<void> {
    this.record = this.store.read(this.launch.id);
    const restore = this.launch.restore;
    try {
      // Before QEMU starts, so that it and every thread it makes are in the cgroup too.
      if (this.launch.cgroup) joinHostCgroup(this.launch.cgroup, process.pid);
      await this.boot();
      if (!restore && !this.launch.incoming) await this.prepareContainer(this.launch.startAfterCreate === true);
      // In the try: a state directory removed meanwhile (delete --force) fails the create.
      await this.serveControl();
    } catch (err) {
      this.reportReady({ ok: false, error: messageOf(err) });
      await this.stopQemu();
      process.exit(1);
    }
    this.relayStdin();
    this.terminal?.onResize(({ rows, cols }) => this.agent?.request('resize', { rows, cols }).catch((err) => log().warn(`resize: ${messageOf(err)}`)));
    for (const sig of FORWARDED_SIGNALS) process.on(sig, () => this.forwardSignal(sig));
    this.started ||= restore?.status === 'running';
    // A process started with create may have ended already: its exit wrote 'stopped'.
    const status = this.exiting ? this.record.status
      : this.launch.incoming ? 'creating' : restore?.status ?? (this.started ? 'running' : 'created');
    this.updateRecord({ status, keeperPid: process.pid, keeperStartTime: processStartTime(process.pid) });
    this.reportReady({ ok: true });
  }

  private async boot(): Promise<void> {
    const { qemu, restore, incoming, template } = this.launch;
    log().info({ accel: qemu.accel, shape: qemu.shape }, `${template ? 'starting VM from its template' : 'booting VM'} for ${this.launch.id}`);
    const stateFile = restore?.stateFile ?? template?.stateFile;
    const mode: BootMode = incoming ? { kind: 'incoming', endpoints: incoming }
      // The template booted with a placeholder disk; the guest learns this disk's size
      // from the config-change interrupt block_resize raises.
      : stateFile ? { kind: 'from-file', stateFile, resizeRootTo: restore ? undefined : template?.diskBytes } : { kind: 'cold' };
    let vm: BootedVm;
    try {
      vm = await bootVm(this.dir, this.launch.qemuBinary, qemu, mode, this.launch.bootTimeoutMs);
    } catch (err) {
      // The template was pruned (or rebuilt with `runx template build --force`) after
      // create checked it and before QEMU had its files open: as with no template at
      // all, boot cold.
      if (!template || fs.existsSync(template.stateFile)) throw err;
      log().warn(`VM template removed while this VM started from it (${messageOf(err)}); booting cold`);
      this.launch.template = undefined;
      writeLaunch(this.dir, this.launch);
      return this.boot();
    }
    this.qemu = vm.child;
    this.qmp = vm.qmp;
    this.agent = vm.agent;
    this.qemuStderrTail = vm.stderrTail;
    const pid = vm.child.pid;
    this.updateRecord({ qemuPid: pid, qemuStartTime: pid ? processStartTime(pid) : undefined, accel: qemu.accel });
    vm.child.on('exit', (code, signal) => this.onQemuExit(code, signal));
    this.wireAgent();
    this.execs = new ExecSessions(vm.agent);
  }

  private wireAgent(): void {
    const agent = this.agent!;
    agent.on('stdout', (buf) => {
      this.lastOutputAt = Date.now();
      this.afterLink(() => this.writeStdout(buf));
    });
    agent.on('stderr', (buf) => {
      this.lastOutputAt = Date.now();
      this.afterLink(() => this.writeStderr(buf));
    });
    agent.on('exit', (exit) => void this.onContainerExit(exit));
    agent.on('protocolError', (why) => log().warn(`agent protocol: ${why}`));
    agent.on('hello', () => log().info('agent reconnected'));
  }

  /** The container's output goes to our own stdout/stderr (or its host terminal) until a reader goes away. */
  private writeStdout(buf: Buffer): void {
    if (this.terminal?.consoleFd !== undefined) this.terminal.write(buf);
    else if (this.stdoutOpen) this.stdoutOpen = writeAllSync(1, buf);
  }

  private writeStderr(buf: Buffer): void {
    if (this.stderrOpen) this.stderrOpen = writeAllSync(2, buf);
  }

  /** Has the agent create the container (and, with `start`, start its process right after). */
  private async prepareContainer(start: boolean): Promise<void> {
    // Fresh at the moment of create, and never written to disk: the clock, and seed
    // material for the guest's CRNG (a VM from a template must not share its random
    // state with the template's other children).
    const vmFields: Array<[string, string | number]> = [['time', Date.now()], ['seed', randomBytes(32).toString('hex')]];
    if (this.launch.template) vmFields.push(['disk.bytes', this.launch.template.diskBytes]);
    const create = [...vmFields, ...this.launch.agentCreate];
    if (this.launch.terminal) {
      // Before create: a console socket nobody listens on fails create, losing nothing.
      this.terminal = HostTerminal.open(this.launch.terminal.consoleSocket);
      const size = this.terminal.size();
      if (size && !create.some(([k]) => k === 'rows')) create.push(['rows', size.rows], ['cols', size.cols]);
    }
    const created = this.agent!.request('create', create);
    // Sent at once, not after create's reply: the agent takes requests in order, and
    // one that finds no container (create failed) is refused; create's error is the one
    // reported then.
    const started = start ? this.agent!.request('start', {}) : undefined;
    started?.catch(() => undefined);
    await created;
    if (started) {
      await started;
      this.started = true;
    }
  }

  private relayStdin(): void {
    const stdin = this.terminal?.input() ?? process.stdin;
    // Within the agent's credit: out of it, our source waits (stdin-credit.ts).
    const write = pausingWriter(stdin);
    const send = (chunk: Buffer) => (this.standIn ? this.standIn.stdin(chunk) : this.agent && write(this.agent.stdinStream(), chunk));
    stdin.on('data', (chunk: Buffer) => send(chunk));
    stdin.on('end', () => (this.launch.incoming && !this.started ? void this.orphaned() : send(Buffer.alloc(0))));
    stdin.on('error', () => send(Buffer.alloc(0)));
  }

  private serveControl(): Promise<void> {
    const file = path.join(this.dir, KEEPER_SOCKET);
    fs.rmSync(file, { force: true });
    this.control = net.createServer((sock) => {
      const progress = (p: unknown) => { if (!sock.destroyed) sock.write(`${JSON.stringify({ progress: p })}\n`); };
      sock.on('error', () => { /* the client went away */ });
      // One request line; for exec, what follows it is the process's stdio stream.
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const nl = head.indexOf(0x0a);
        if (nl < 0) return;
        sock.off('data', onData);
        const rest = head.subarray(nl + 1);
        let req: KeeperRequest;
        try {
          req = JSON.parse(head.subarray(0, nl).toString('utf8')) as KeeperRequest;
        } catch {
          sock.end(`${JSON.stringify({ ok: false, error: 'malformed request' })}\n`);
          return;
        }
        if (req.op === 'exec') void this.serveExec(sock, req.fields, rest);
        else void this.handle(req, progress).then((reply) => sock.end(`${JSON.stringify(reply)}\n`));
      };
      sock.on('data', onData);
    });
    const control = this.control;
    return new Promise((resolve, reject) => {
      control.once('error', (err) => reject(new RunxError('ESTATE', `cannot serve ${KEEPER_SOCKET}: ${messageOf(err)}${fs.existsSync(this.dir) ? '' : ' (the state directory was removed)'}`)));
      control.listen(socketPath(file), () => {
        control.on('error', (err) => log().warn(`${KEEPER_SOCKET}: ${messageOf(err)}`));
        resolve();
      });
    });
  }

  private async serveExec(sock: net.Socket, fields: Array<[string, FieldValue]>, rest: Buffer): Promise<void> {
    const refuse = (error: string): void => void sock.end(`${JSON.stringify({ ok: false, error } satisfies KeeperReply)}\n`);
    if (this.standIn || this.handingOver) return refuse('the container is not running here (it was migrated)');
    if (this.exiting || !this.execs) return refuse('cannot exec in a stopped container');
    if (this.paused) return refuse('cannot exec in a paused container');
    await this.execs.serve(sock, fields, rest);
  }

  private async handle(req: KeeperRequest, progress: (p: unknown) => void): Promise<KeeperReply> {
    try {
      switch (req.op) {
        case 'ping':
          return { ok: true };
        case 'start':
          if (this.started) return { ok: false, error: 'cannot start an already running container' };
          this.started = true;
          await this.agent!.request('start', {});
          this.updateRecord({ status: 'running' });
          return { ok: true };
        case 'kill':
          if (this.standIn) this.standIn.signal(req.signal);
          else await this.agent!.request('kill', { signal: req.signal, all: req.all });
          return { ok: true };
        case 'migrate': {
          if (this.exiting || this.standIn) return { ok: false, error: 'the container is not running here' };
          this.migrationCancelled = false;
          const stats = await sendVm(this.qmp!, req.send, progress, !this.paused, () => this.migrationCancelled);
          this.handingOver = true;
          return { ok: true, result: stats };
        }
        case 'cancel-migration':
          // Seen by the running 'migrate' at its next poll: it cleans up and fails.
          this.migrationCancelled = true;
          return { ok: true };
        case 'abort-migration':
          // Finish never ran: the destination never ran the VM, so ours is still the one.
          this.handingOver = false;
          if (!this.paused) await this.qmp!.execute('cont', {});
          return { ok: true };
        case 'handover':
          await this.becomeStandIn(req.to, req.auth, req.standIn !== false);
          return { ok: true };
        case 'check-link':
          await checkLink(this.launch.id, req.to, req.auth);
          return { ok: true };
        case 'finish-incoming':
          await finishIncoming(this.qmp!);
          await this.agent!.request('ping', {});
          this.started = true;
          if (this.standIn) this.takeBack();
          this.updateRecord({ status: 'running' });
          return { ok: true };
        case 'take-back':
          // The container comes back to the host this keeper stands in on: the pid its
          // supervisor knows runs it again, from a VM waiting for the incoming state.
          if (!this.standIn) return { ok: false, error: 'this keeper is not a stand-in' };
          this.launch.incoming = req.incoming;
          this.launch.qemu.network = req.network;
          // How it first started no longer matters: its state comes from the other host.
          this.launch.template = undefined;
          this.launch.restore = undefined;
          writeLaunch(this.dir, this.launch);
          await this.boot();
          return { ok: true };
        case 'abort-incoming':
          // The return will not happen: end that VM and go on standing in.
          if (!this.standIn) return { ok: false, error: 'this keeper is not a stand-in' };
          abandonIncoming();
          this.agent?.removeAllListeners('exit');
          await this.stopQemu();
          this.exiting = false;
          this.heldOutput = undefined;
          this.launch.incoming = undefined;
          this.launch.qemu.network = req.network;
          writeLaunch(this.dir, this.launch);
          this.updateRecord({ qemuPid: undefined, qemuStartTime: undefined });
          return { ok: true };
        case 'pause':
          if (this.paused) return { ok: true };
          await this.qmp!.execute('stop', {});
          this.paused = true;
          this.updateRecord({ status: 'paused' });
          return { ok: true };
        case 'resume':
          if (!this.paused) return { ok: true };
          await this.qmp!.execute('cont', {});
          this.paused = false;
          this.updateRecord({ status: 'running' });
          return { ok: true };
        case 'checkpoint':
          await this.checkpoint(req.dir, req.leaveRunning);
          return { ok: true };
        case 'resize':
          await this.agent!.request('resize', { rows: req.rows, cols: req.cols });
          return { ok: true };
        case 'stats':
        case 'update': {
          // A stopped VM would not answer; a migrated one is not ours to ask.
          if (this.standIn || this.handingOver) return { ok: false, error: 'the container is not running here (it was migrated)' };
          if (this.exiting) return { ok: false, error: 'the container is not running' };
          if (this.paused) return { ok: false, error: `cannot ${req.op === 'stats' ? 'read the stats of' : 'update'} a paused container: its VM is stopped` };
          if (req.op === 'update') {
            await this.agent!.request('update', req.fields);
            return { ok: true };
          }
          const usage = await this.agent!.request('stats', {});
          return { ok: true, result: Object.fromEntries(usage.fields) };
        }
        case 'exec':
          return { ok: false, error: 'exec is served on its own connection' };
        case 'ps': {
          if (this.standIn) return { ok: false, error: 'the container is not running here (it was migrated)' };
          const reply = await this.agent!.request('ps', {});
          return { ok: true, result: reply.fields.filter(([k]) => k === 'proc').map(([, v]) => v) };
        }
        default:
          return { ok: false, error: `unknown keeper request ${(req as { op: string }).op}` };
      }
    } catch (err) {
      return { ok: false, error: messageOf(err) };
    }
  }

  /**
   * Writes the VM's state and a copy of its root disk into `dir`, taken at one instant
   * while the VM is stopped. Output the guest sent before the stop is written out
   * first; what it had not yet sent stays in the saved device state and reaches the
   * restored container's keeper. On failure the VM resumes untouched.
   */
  private async checkpoint(dir: string, leaveRunning: boolean): Promise<void> {
    if (this.exiting) throw new RunxError('ESTATE', 'the container is exiting');
    const qmp = this.qmp!;
    await qmp.execute('stop', {});
    try {
      await this.outputQuiet();
      await saveVmState(qmp, path.join(dir, VM_STATE_FILE));
      copySparse(path.join(this.dir, ROOT_DISK), path.join(dir, ROOT_DISK));
    } catch (err) {
      if (!this.paused) await qmp.execute('cont', {}).catch(() => undefined);
      throw err;
    }
    if (leaveRunning) {
      // A paused container (containerd pauses before it checkpoints) stays paused.
      if (!this.paused) await qmp.execute('cont', {});
      return;
    }
    // As with runc, a checkpoint without --leave-running ends the container: its
    // process is gone from this host as if killed (137).
    this.exiting = true;
    this.updateRecord({ status: 'stopped', exitStatus: 137, finished: new Date().toISOString(), checkpointed: true });
    setImmediate(() => void this.stopQemu().then(() => this.finish(137)));
  }

  /** After switch-over: end the (stopped) local VM and relay to the destination. */
  private async becomeStandIn(to: string, auth: AuthOptions, standIn: boolean): Promise<void> {
    if (!this.handingOver) throw new RunxError('ESTATE', 'no completed migration to hand over');
    await this.outputQuiet();
    this.agent?.removeAllListeners('exit');
    await this.stopQemu();
    this.exiting = false;
    if (!standIn) {
      // Back with the stand-in on its first host, whose link ran through us: our exit,
      // after the output above, ends that link (once the reply is out), and nothing of
      // the container stays here.
      releaseNic(this.dir, this.launch);
      this.updateRecord({ status: 'stopped', annotations: { ...(this.record.annotations ?? {}), 'io.runx.migrated-to': to }, qemuPid: undefined, qemuStartTime: undefined });
      setTimeout(() => this.finish(0), 50);
      return;
    }
    this.standIn = new StandIn(this.launch.id, to, auth, {
      stdout: (b) => this.writeStdout(b),
      stderr: (b) => this.writeStderr(b),
      exit: (status) => {
        this.exiting = true;
        this.updateRecord({ status: 'stopped', exitStatus: status, finished: new Date().toISOString() });
        this.finish(status);
      },
    });
    const annotations = { ...(this.record.annotations ?? {}), 'io.runx.migrated-to': to };
    this.updateRecord({ annotations, qemuPid: undefined, qemuStartTime: undefined });
  }

  /**
   * A migration's destination keeper has its serve's pipe for stdin: its end before
   * Finish means that serve is gone and nobody will run this VM, nor remove it.
   */
  private async orphaned(): Promise<void> {
    abandonIncoming();
    await this.stopQemu();
    this.store.remove(this.launch.id);
    try {
      log().warn(`incoming migration of ${this.launch.id}: the migration service went away before switch-over; removed it`);
    } catch { /* without --log, stderr was that service's pipe */ }
    this.finish(255);
  }

  /** The container runs here again: the stand-in's link retires once the other host's last output is in. */
  private takeBack(): void {
    const link = this.standIn!;
    this.standIn = undefined;
    this.handingOver = false;
    this.launch.incoming = undefined;
    writeLaunch(this.dir, this.launch);
    this.heldOutput ??= [];
    this.linkRetired = link.retire().then(() => {
      const held = this.heldOutput ?? [];
      this.heldOutput = undefined;
      for (const write of held) write();
    });
    const annotations = { ...(this.record.annotations ?? {}) };
    delete annotations['io.runx.migrated-to'];
    this.updateRecord({ annotations });
  }

  /** Output of a VM taken back (it runs from the switch-over) comes after what the old link still brings. */
  private afterLink(write: () => void): void {
    if (this.standIn || this.heldOutput) (this.heldOutput ??= []).push(write);
    else write();
  }

  /** Waits until no output has arrived for a moment (the VM is stopped; this drains the socket). */
  private async outputQuiet(): Promise<void> {
    const deadline = Date.now() + 1000;
    while (Date.now() - this.lastOutputAt < 50 && Date.now() < deadline) await sleep(10);
  }

  private forwardSignal(sig: NodeJS.Signals): void {
    // Our SIGWINCH comes from the host terminal we hold: HostTerminal turns it into a resize.
    if (sig === 'SIGWINCH' && this.terminal?.consoleFd !== undefined) return;
    const num = (require('node:os') as typeof import('node:os')).constants.signals[sig];
    if (this.standIn) {
      try {
        this.standIn.signal(num);
      } catch (err) {
        log().warn(`forwarding ${sig}: ${messageOf(err)}`);
      }
      return;
    }
    this.agent?.request('kill', { signal: num, all: false }).catch((err) => log().warn(`forwarding ${sig}: ${messageOf(err)}`));
  }

  private async onContainerExit(exit: AgentExit): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    const status = exitStatusOf(exit);
    log().info({ exit }, `container ${this.launch.id} exited with status ${status}`);
    this.updateRecord({ status: 'stopped', exitStatus: status, finished: new Date().toISOString() });
    // Nothing in the VM is needed any more: the agent reports the exit once all output
    // is out, and nothing reads the root disk after its container (checkpoints are of
    // running ones; delete discards it). The agent's orderly shutdown (sync, then
    // reboot) cost ~15 ms more than this under TCG.
    await this.killQemu();
    log().debug('VM ended');
    await this.linkRetired;
    this.finish(status);
  }

  private onQemuExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exiting || this.handingOver) return;
    this.exiting = true;
    const why = this.qemuStderrTail().trim().split('\n').pop() || `exit ${code ?? signal}`;
    log().error(`VM of container ${this.launch.id} ended unexpectedly: ${why}; console: ${consoleTail(path.join(this.dir, CONSOLE_LOG))}`);
    this.updateRecord({ status: 'stopped', exitStatus: 255, finished: new Date().toISOString() });
    this.finish(255);
  }

  /** Ends QEMU: QMP quit; SIGKILL if it has not gone within a second. */
  private stopQemu(): Promise<void> {
    return this.endQemu(true);
  }

  /** Ends QEMU at once (SIGKILL), for a VM whose state nobody needs. */
  private killQemu(): Promise<void> {
    return this.endQemu(false);
  }

  private async endQemu(quitFirst: boolean): Promise<void> {
    this.exiting = true;
    const child = this.qemu;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (quitFirst) {
      await this.qmp?.execute('quit', {}).catch(() => undefined);
      const quit = await Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]);
      if (quit) return;
    }
    child.kill('SIGKILL');
    await gone;
  }

  private finish(status: number): void {
    this.terminal?.close();
    this.control?.close();
    fs.rmSync(path.join(this.dir, KEEPER_SOCKET), { force: true });
    process.exit(status);
  }

  private updateRecord(patch: Partial<ContainerRecord>): void {
    this.record = { ...this.record, ...patch };
    try {
      this.store.write(this.record);
    } catch (err) {
      // The state dir may be gone (delete --force raced us); the exit status still stands.
      log().warn(`cannot write state of ${this.launch.id}: ${messageOf(err)}`);
    }
  }

  private reportReady(reply: KeeperReply): void {
    try {
      fs.writeSync(READY_FD, `${JSON.stringify(reply)}\n`);
      fs.closeSync(READY_FD);
    } catch { /* create went away; nothing to tell */ }
  }
}

/**
 * Blocks until the starter's go line on fd 3 (keeperGo): launch.json is written then.
 * False on EOF: the starter went away (or failed) before that, and there is nothing
 * to keep.
 */
function awaitGo(): boolean {
  const buf = Buffer.alloc(16);
  let text = '';
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(READY_FD, buf, 0, buf.length, null);
    } catch (err) {
      // Our end of the socket pair is blocking; this only guards a starter that made it not.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      return false;
    }
    if (n === 0) return false;
    text += buf.toString('utf8', 0, n);
    if (text.includes('\n')) return text.startsWith(`${KEEPER_GO}\n`);
  }
}

/** Entry point of the keeper process: `runx __keeper <state dir>`. */
export async function runKeeper(dir: string): Promise<void> {
  // While create is still building what launch.json names: what comes after go is
  // the container's start-up time.
  preloadLogger();
  if (!awaitGo()) process.exit(1);
  const launch = anchorLaunch(dir, JSON.parse(fs.readFileSync(path.join(dir, LAUNCH_FILE), 'utf8')) as KeeperLaunch);
  // From now on the VM's state is this keeper's to write (vm-state.json).
  writeLaunch(dir, launch);
  configureLog(launch.log);
  // Its stderr is the container's (or nothing, with a console socket).
  stderrIsContainers();
  process.chdir(dir);
  process.title = `runx keeper ${launch.id}`;
  await new Keeper(dir, launch).run();
}

