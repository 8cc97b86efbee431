// The keeper: one host process per container. It owns the QEMU child, talks to the
// guest agent, relays the container's stdio through its own inherited stdin, stdout
// and stderr, serves the CLI on keeper.sock (keeper-control.ts, through the state
// machine of phases.ts and the handlers in ops/), and exits with the container's exit
// status (128+N for death by signal N). Its pid is what `create --pid-file` writes,
// so containerd's shim supervises it as it would runc's container process. This file
// holds the keeper's session (its VM, stdio, stand-in link) and its life cycle.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { RunxError, messageOf } from '../../errors';
import { log, configureLog, preloadLogger, stderrIsContainers } from '../../log';
import type { AgentConnection, AgentExit } from '../agent/agent-connection';
import type { ContainerRecord } from '../state/container-record';
import { isSameProcessAlive, processStartTime, sleep } from '../host/host';
import { joinHostCgroup } from '../cgroup/host-cgroup';
import { enterKeeperCgroupns } from './keeper-namespaces';
import { type GuestNetwork, NETDEV_ID } from '../devices/net/config';
import { KEEPER_SOCKET, LAUNCH_FILE, type KeeperLaunch } from './keeper-launch';
import { QemuChild } from './qemu-child';
import { awaitGo, reportReady } from './ready-fd';
import { anchorLaunch } from '../state/launch-trust';
import { CONSOLE_LOG, ROOT_DISK } from '../vm/qemu-argv';
import { CARRY_DISK } from '../devices/carry/config';
import { CarryRefresher, refreshedBinds } from '../devices/carry/refresh';
import { VM_STATE_FILE, copySparse } from '../vm/vm-snapshot';
import { VM_SAVE_SOCKET, saveVmStateHere } from '../vm/vm-state-save';
import { type IncomingEndpoints, type MigrationStats, type SendOptions, abandonIncoming, finishIncoming, sendVm, takeIncomingKey } from '../vm/vm-migration';
import type { PskCreds } from '../vm/tls-creds';
import { OutputLog } from './output-log';
import { LinkServer, openKeeperLink } from './keeper-link';
import { enterHostNetns, inContainerNetns } from '../devices/net/keeper-netns';
import { lateInterfaceMessage, watchLateInterfaces } from '../devices/net/late-interface';
import { relayDns } from '../devices/net/dns-relay';
import { type BootMode, type BootedVm, bootVm, consoleTail } from '../vm/vm-boot';
import { StandIn, releaseNic } from './keeper-standin';
import { writeLaunch } from './keeper-spawn';
import { ExecSessions } from './keeper-exec';
import { HostTerminal } from './keeper-terminal';
import type { QmpClient } from '../vm/qmp-client';
import { StateStore } from '../state/state-store';
import { writeAllSync } from './write-all';
import { KeeperMachine } from './phases';
import { serveControl } from './keeper-control';
import type { AgentPort, KeeperCore, QmpPort } from './ops/keeper-core';
import type { LinkAuth, LinkTarget, MigrationOwner } from './protocol';
import type { RemoteLinkFactory, RemoteLinkLoader } from './remote-link';
import { type CreditedStream, pausingWriter } from '../agent/stdin-credit';

/** A refresh copies what changed, but may have a large tree to compare under TCG. */
const CARRY_REFRESH_TIMEOUT_MS = 10 * 60_000;

/** How long a keeper whose stand-in links to it waits, after the end, for that stand-in to take the exit status. */
const LINK_LINGER_MS = Number(process.env.RUNX_LINK_LINGER_MS) || 60_000;

// Signals a supervisor may send the keeper's pid; they go to the container, as they
// would to runc's container process. SIGKILL/SIGSTOP cannot be caught: a killed keeper
// takes QEMU with it (parent-death signal).
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

export function exitStatusOf(exit: AgentExit): number {
  return exit.signal !== undefined ? 128 + exit.signal : (exit.code ?? 255) & 0xff;
}

/** What the keeper's entry gives it: the parts that live outside src/xcontainer. */
export interface KeeperDeps {
  /** The stand-in's link to another host (src/migrate), loaded when first needed. */
  loadRemoteLink: RemoteLinkLoader;
  /** Whether such a link could be opened (src/migrate), loaded when first needed. */
  checkRemoteLink: (id: string, to: string, auth: LinkAuth) => Promise<void>;
}

class Keeper implements KeeperCore {
  readonly machine = new KeeperMachine();
  private readonly store: StateStore;
  private record!: ContainerRecord;
  private qemu?: QemuChild;
  private qemuStderrTail: () => string = () => '';
  private agentConn?: AgentConnection;
  private qmpClient?: QmpClient;
  private control?: net.Server;
  private stdoutOpen = true;
  private stderrOpen = true;
  private lastOutputAt = 0;
  private link?: StandIn;
  /** Output of a VM a stand-in takes back, held until the old link has brought the rest. */
  private heldOutput?: Array<() => void>;
  private linkRetired?: Promise<void>;
  private execs?: ExecSessions;
  private terminal?: HostTerminal;
  /** Set while a migration has our main thread in the host's network namespace. */
  private hostNetns?: { back(): void };
  /** The container's durable output log (output-log.ts). */
  private outLog!: OutputLog;
  /**
   * Born for an incoming migration: our stdio is the migration service's pipes, not a
   * client's. The container's output goes to the log only, and the source's stand-in
   * takes it from there over its own link to us (keeper-link.ts).
   */
  private readonly linkServed: boolean;
  private linkServer?: LinkServer;
  private lingering = false;
  /** The key of the last migration we sent: our stand-in's link to the destination uses it. */
  private sentKey?: PskCreds;
  /** Host -> container copies of carried binds whose sources changed (devices/carry/refresh.ts). */
  private refresher?: CarryRefresher;

  constructor(private readonly dir: string, private readonly launch: KeeperLaunch, private readonly deps: KeeperDeps) {
    this.store = new StateStore(launch.root);
    this.linkServed = launch.incoming !== undefined;
  }

  async run(): Promise<void> {
    this.record = this.store.read(this.launch.id);
    const { restore, incoming } = this.launch;
    let startedAtCreate = false;
    try {
      this.outLog = new OutputLog(this.dir);
      // Before QEMU starts, so that it and every thread it makes are in the cgroup too.
      if (this.launch.cgroup) joinHostCgroup(this.launch.cgroup, process.pid);
      if (this.launch.cgroupns) enterKeeperCgroupns(this.launch.cgroupns);
      // Before the boot: a change while the VM comes up is copied in once it has started.
      this.watchCarried();
      await this.boot();
      if (incoming) await this.serveLink(incoming);
      // A checkpoint froze the container (ops/write-back.ts); restored, it runs.
      if (restore) await this.thawLoaded('restore');
      if (!restore && !incoming) startedAtCreate = await this.prepareContainer(this.launch.startAfterCreate === true);
      this.machine.apply({ kind: 'booted', incoming: incoming !== undefined, started: startedAtCreate || restore?.status === 'running' });
      // In the try: a state directory removed meanwhile (delete --force) fails the create.
      this.control = await serveControl(path.join(this.dir, KEEPER_SOCKET), this, (sock, req, rest) => void this.execs!.serve(sock, req.fields, rest));
    } catch (err) {
      reportReady({ ok: false, error: messageOf(err) });
      await this.stopQemu();
      process.exit(1);
    }
    this.relayStdin();
    this.terminal?.onResize(({ rows, cols }) => this.agentConn?.request('resize', { rows, cols }).catch((err) => log().warn(`resize: ${messageOf(err)}`)));
    for (const sig of FORWARDED_SIGNALS) process.on(sig, () => this.forwardSignal(sig));
    // A process started with create may have ended already: its exit wrote 'stopped'.
    const status = this.machine.is('exiting') ? this.record.status
      : incoming ? 'creating' : restore?.status ?? (this.machine.facts.started ? 'running' : 'created');
    this.updateRecord({ status, keeperPid: process.pid, keeperStartTime: processStartTime(process.pid) });
    reportReady({ ok: true });
    // The VM's devices are fixed from here: an interface added later is said, not taken.
    if (inContainerNetns()) watchLateInterfaces((ifname) => log().error(lateInterfaceMessage(ifname)), () => !inContainerNetns());
  }

  // ---- KeeperCore: what the op handlers use ----

  agent(): AgentPort {
    if (!this.agentConn) throw new RunxError('ESTATE', 'the container has no VM here');
    return this.agentConn;
  }

  qmp(): QmpPort {
    if (!this.qmpClient) throw new RunxError('ESTATE', 'the container has no VM here');
    return this.qmpClient;
  }

  guestFrozen = false;

  get carriesWrites(): boolean {
    return (this.launch.qemu.shares.find((s) => s.binds)?.binds ?? []).some((b) => b.carried === true && !b.readonly);
  }

  async isolateVm(): Promise<void> {
    if (this.launch.qemu.network) await this.qmpClient!.execute('set_link', { name: NETDEV_ID, up: false });
  }

  holdCarry(): Promise<() => void> {
    return this.refresher?.hold() ?? Promise.resolve(() => undefined);
  }

  /**
   * Output the guest sent before the stop is written out first; what it had not yet
   * sent stays in the saved device state and reaches the restored container's keeper.
   */
  async saveCheckpoint(dir: string): Promise<void> {
    await this.outputQuiet();
    await saveVmStateHere(this.qmpClient!, path.join(dir, VM_STATE_FILE), VM_SAVE_SOCKET);
    copySparse(path.join(this.dir, ROOT_DISK), path.join(dir, ROOT_DISK));
    if (fs.existsSync(path.join(this.dir, CARRY_DISK))) copySparse(path.join(this.dir, CARRY_DISK), path.join(dir, CARRY_DISK));
  }

  endAfterCheckpoint(): void {
    setImmediate(() => void this.stopQemu().then(() => this.finish(137)));
  }

  async sendVm(send: SendOptions, progress: (p: unknown) => void, wasRunning: boolean, cancelled: () => boolean): Promise<MigrationStats> {
    // In a namespace of the container's own, we and QEMU cannot reach the other host:
    // our sockets are made in the one we came from, and QEMU's streams already go
    // through our tunnel (stream-tunnel), over unix sockets. We stay there
    // until the migration ends (handover) or is aborted (leaveHostNetns).
    const hostNetns = enterHostNetns();
    this.hostNetns = hostNetns;
    this.sentKey = send.tls;
    try {
      return await sendVm(this.qmpClient!, send, progress, wasRunning, cancelled);
    } catch (err) {
      this.leaveHostNetns();
      throw err;
    }
  }

  leaveHostNetns(): void {
    this.hostNetns?.back();
    this.hostNetns = undefined;
  }

  async leaveVm(): Promise<void> {
    await this.outputQuiet();
    this.agentConn?.removeAllListeners('exit');
    await this.qemu?.stop();
  }

  /** After switch-over: relay to the destination. */
  async standIn(to: string, auth: LinkAuth, target?: LinkTarget): Promise<void> {
    // Straight to the destination's keeper when it said where (it then needs no
    // `runx serve` there); else through that service's Attach (an older destination).
    const key = this.sentKey;
    const openLink: RemoteLinkFactory = target && key ? (_id, _to, _auth, sinks, stdin) => openKeeperLink({ ...target, tls: key }, sinks, { stdin })
      : await this.deps.loadRemoteLink();
    // The container's stdin stream goes on over the link: from where this end had got
    // to, resending what may not have reached the guest, then what waited here since the
    // VM stopped (agent.md, "Stdin across a migration"). Nothing awaits from here until
    // this.link is set: the handoff lets our paused stdin go on, into the link.
    const handed = this.agentConn?.stdinStream().handOff();
    const resume = handed?.offset !== undefined ? { offset: handed.offset, recent: handed.recent } : undefined;
    if (handed) log().info(`stdin handed to the stand-in's link at offset ${handed.offset ?? 'unknown'}: ${handed.recent.reduce((n, r) => n + r.data.length, 0)} bytes to resend if unread there, ${handed.waiting.reduce((n, b) => n + b.length, 0)} waiting${handed.eof ? ', then EOF' : ''}`);
    this.link = new StandIn(this.launch.id, to, auth, {
      stdout: (b) => this.writeStdout(b),
      stderr: (b) => this.writeStderr(b),
      exit: (status) => {
        this.machine.apply({ kind: 'ending' });
        this.updateRecord({ status: 'stopped', exitStatus: status, finished: new Date().toISOString() });
        this.finish(status);
      },
    }, openLink, resume);
    for (const chunk of handed?.waiting ?? []) this.link.stdin(chunk);
    if (handed?.eof) this.link.stdin(Buffer.alloc(0));
    const annotations = { ...(this.record.annotations ?? {}), 'io.runx.migrated-to': to };
    this.updateRecord({ annotations, qemuPid: undefined, qemuStartTime: undefined });
  }

  /**
   * Back with the stand-in on its first host, whose link ran through us: our exit,
   * after the output already written, ends that link (once the reply is out), and
   * nothing of the container stays here.
   */
  endAsReturned(to: string): void {
    releaseNic(this.dir, this.launch);
    this.updateRecord({ status: 'stopped', annotations: { ...(this.record.annotations ?? {}), 'io.runx.migrated-to': to }, qemuPid: undefined, qemuStartTime: undefined });
    setTimeout(() => this.finish(0), 50);
  }

  signalRemote(signal: number): void {
    if (!this.link) throw new RunxError('ESTATE', 'the container is not running here (it was migrated)');
    this.link.signal(signal);
  }

  async bootIncoming(incoming: IncomingEndpoints, network: GuestNetwork | undefined): Promise<void> {
    this.launch.incoming = incoming;
    this.launch.qemu.network = network;
    // How it first started no longer matters: its state comes from the other host.
    this.launch.template = undefined;
    this.launch.restore = undefined;
    writeLaunch(this.dir, this.launch);
    await this.boot();
  }

  async runIncoming(): Promise<void> {
    await finishIncoming(this.qmpClient!);
    // The container's binds are its own here from now on: never removed as a failed migration's.
    if (this.launch.incomingMade) {
      this.launch.incomingMade = undefined;
      writeLaunch(this.dir, this.launch);
    }
    // Also resumes the container's stdin credit from what the agent holds, and learns
    // where its stream stands: the stand-in's link goes on from there.
    if (!this.agentConn) throw new RunxError('ESTATE', 'the container has no VM here');
    await this.agentConn.ping();
    const at = this.agentConn.stdinStream().offset;
    if (at !== undefined) this.linkServer?.startStdinAt(at);
    log().info(`the guest had read ${at ?? 'an unknown count'} of the container's stdin`);
    // A container paused on its source was frozen there; it runs here.
    await this.thawLoaded('incoming migration');
  }

  /** The container runs here again: the stand-in's link retires once the other host's last output is in. */
  retireLink(): void {
    const link = this.link!;
    this.link = undefined;
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

  async abortIncoming(network: GuestNetwork | undefined): Promise<void> {
    abandonIncoming();
    this.agentConn?.removeAllListeners('exit');
    await this.qemu?.stop();
    this.heldOutput = undefined;
    this.launch.incoming = undefined;
    this.launch.qemu.network = network;
    writeLaunch(this.dir, this.launch);
    this.updateRecord({ qemuPid: undefined, qemuStartTime: undefined });
  }

  async checkLink(to: string, auth: LinkAuth): Promise<void> {
    // From where the stand-in's link will be made (see sendVm), then back.
    const hostNetns = enterHostNetns();
    try {
      await this.deps.checkRemoteLink(this.launch.id, to, auth);
    } finally {
      hostNetns.back();
    }
  }

  ownerAlive(owner: MigrationOwner): boolean {
    return isSameProcessAlive(owner.pid, owner.startTime);
  }

  updateRecord(patch: Partial<ContainerRecord>): void {
    this.record = { ...this.record, ...patch };
    try {
      this.store.write(this.record);
    } catch (err) {
      // The state dir may be gone (delete --force raced us); the exit status still stands.
      log().warn(`cannot write state of ${this.launch.id}: ${messageOf(err)}`);
    }
  }

  // ---- the VM and the container's stdio ----

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
    const qemuChild = new QemuChild(vm.child, vm.qmp);
    this.qemu = qemuChild;
    this.qmpClient = vm.qmp;
    this.agentConn = vm.agent;
    this.qemuStderrTail = vm.stderrTail;
    const pid = vm.child.pid;
    this.updateRecord({ qemuPid: pid, qemuStartTime: pid ? processStartTime(pid) : undefined, accel: qemu.accel });
    vm.child.on('exit', (code, signal) => this.onQemuExit(qemuChild, code, signal));
    this.wireAgent(vm.agent);
    this.execs = new ExecSessions(vm.agent);
  }

  private wireAgent(agent: AgentConnection): void {
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
    // One line; the VM and the container are left running as they are, unmanaged.
    agent.on('refused', (why) => log().error(`container ${this.launch.id}: ${why}`));
    if (this.launch.dnsRelay) relayDns(agent, this.launch.dnsRelay);
  }

  /**
   * The container's output goes to its log, and to our own stdout/stderr (or its host
   * terminal) until a reader goes away; a keeper born for a migration has no reader of
   * its own there: its stand-in reads the log.
   */
  private writeStdout(buf: Buffer): void {
    this.logOutput('stdout', buf);
    if (this.linkServed) return;
    if (this.terminal?.consoleFd !== undefined) this.terminal.write(buf);
    else if (this.stdoutOpen) this.stdoutOpen = writeAllSync(1, buf);
  }

  private writeStderr(buf: Buffer): void {
    this.logOutput('stderr', buf);
    if (this.linkServed) return;
    if (this.stderrOpen) this.stderrOpen = writeAllSync(2, buf);
  }

  private logOutput(stream: 'stdout' | 'stderr', buf: Buffer): void {
    try {
      this.outLog.append(stream, buf);
    } catch (err) {
      // A full disk or a removed state dir must not stop the container's output.
      log().debug(`output log: ${messageOf(err)}`);
    }
  }

  /** Takes our stand-in's link, keyed by the migration's key, on the port the migration service chose. */
  private async serveLink(incoming: IncomingEndpoints): Promise<void> {
    const key = takeIncomingKey();
    if (!key || !incoming.linkPort) return;
    const writers = new WeakMap<net.Socket, (s: CreditedStream, b: Buffer) => void>();
    this.linkServer = new LinkServer(this.outLog, this.dir, key, {
      stdin: (data, sock) => {
        // Standing in ourselves (the container moved on again): pass it on.
        if (this.link) return this.link.stdin(data);
        if (!this.agentConn) return;
        let write = writers.get(sock);
        if (!write) writers.set(sock, write = pausingWriter(sock));
        write(this.agentConn.stdinStream(), data);
      },
      signal: (sig) => {
        if (this.link) this.link.signal(sig);
        else this.agentConn?.request('kill', { signal: sig, all: false }).catch((err) => log().warn(`stand-in's signal ${sig}: ${messageOf(err)}`));
      },
    });
    // Reached from the source's host: listened on in the host's namespace, as the
    // migration's streams are (a destination keeper lives in the container's).
    const hostNetns = enterHostNetns();
    try {
      await this.linkServer.listen(incoming.host, incoming.linkPort);
    } finally {
      hostNetns.back();
    }
  }

  /**
   * Watches the sources of the carried binds a refresh keeps up to date, wherever this
   * VM's binds are (create's config, a restoring bundle's, a destination's placed
   * paths: the VM's shares say), and copies a change in only while the container has
   * started and its VM runs here with nothing holding refreshes back.
   */
  private watchCarried(): void {
    const binds = refreshedBinds(this.launch.qemu.shares.find((s) => s.binds)?.binds ?? []);
    if (!binds.length) return;
    this.refresher = new CarryRefresher(binds, {
      may: () => this.machine.is('running') && this.machine.facts.started && !this.link && this.agentConn !== undefined,
      send: async (slots) => {
        const t0 = Date.now();
        const dirs = slots.flatMap((s) => (s.dirs ?? []).map((d) => `${s.slot}:${d}`));
        await this.agentConn!.request('carry', [['to', 'guest'], ['slot', slots.map((s) => s.slot)], ['dir', dirs]], CARRY_REFRESH_TIMEOUT_MS);
        log().debug({ slots, ms: Date.now() - t0 }, 'carried binds changed on the host: copied to the container');
      },
    });
    this.machine.onApply(() => this.refresher?.kick());
  }

  /**
   * Thaws the container of a VM loaded from a saved state, which may have been frozen
   * when it was saved (a checkpoint that wrote back, a pause). An agent from before
   * freezing (an older image) has never frozen it. Any other failure fails the load:
   * the container would never run.
   */
  private async thawLoaded(what: string): Promise<void> {
    try {
      await this.agentConn!.request('thaw', {});
    } catch (err) {
      if (/unknown message thaw/.test(messageOf(err))) return;
      throw new RunxError('EAGENT', `${what}: the container's processes could not be thawed: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Has the agent create the container (and, with `start`, start its process right after); true if it started it. */
  private async prepareContainer(start: boolean): Promise<boolean> {
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
    const agent = this.agentConn!;
    const created = agent.request('create', create);
    // Sent at once, not after create's reply: the agent takes requests in order, and
    // one that finds no container (create failed) is refused; create's error is the one
    // reported then.
    const started = start ? agent.request('start', {}) : undefined;
    started?.catch(() => undefined);
    await created;
    if (!started) return false;
    await started;
    return true;
  }

  private relayStdin(): void {
    const stdin = this.terminal?.input() ?? process.stdin;
    // Within the agent's credit: out of it, our source waits (stdin-credit.ts).
    const write = pausingWriter(stdin);
    const send = (chunk: Buffer) => (this.link ? this.link.stdin(chunk) : this.agentConn && write(this.agentConn.stdinStream(), chunk));
    stdin.on('data', (chunk: Buffer) => send(chunk));
    stdin.on('end', () => {
      if (this.launch.incoming && this.machine.is('booting')) void this.orphaned();
      // Our stdin is the migration service's pipe: its end is that service's, not the container's stdin's.
      else if (!this.linkServed) send(Buffer.alloc(0));
    });
    stdin.on('error', () => send(Buffer.alloc(0)));
  }

  /**
   * A migration's destination keeper has its serve's pipe for stdin: its end before
   * Finish means that serve is gone and nobody will run this VM, nor remove it.
   */
  private async orphaned(): Promise<void> {
    this.machine.apply({ kind: 'ending' });
    abandonIncoming();
    await this.stopQemu();
    // What that service set up for the VM goes too, as its rollback would have removed
    // it: the NIC's tap and redirects in the container's namespace here, the binds' paths.
    releaseNic(this.dir, this.launch);
    for (const p of this.launch.incomingMade ?? []) fs.rmSync(p, { recursive: true, force: true });
    this.store.remove(this.launch.id);
    try {
      log().warn(`incoming migration of ${this.launch.id}: the migration service went away before switch-over; removed it`);
    } catch { /* without --log, stderr was that service's pipe */ }
    this.finish(255);
  }

  /** Output of a VM taken back (it runs from the switch-over) comes after what the old link still brings. */
  private afterLink(write: () => void): void {
    if (this.link || this.heldOutput) (this.heldOutput ??= []).push(write);
    else write();
  }

  /** Waits until no output has arrived for a moment (the VM is stopped; this drains the socket). */
  private async outputQuiet(): Promise<void> {
    const deadline = Date.now() + 1000;
    while (Date.now() - this.lastOutputAt < 50 && Date.now() < deadline) await sleep(10);
  }

  private forwardSignal(sig: NodeJS.Signals): void {
    // Ended, waiting for a stand-in to take the status: `delete` (SIGTERM) need not wait.
    if (this.lingering) {
      if (sig === 'SIGTERM' || sig === 'SIGINT') this.linkServer?.cut();
      return;
    }
    // Our SIGWINCH comes from the host terminal we hold: HostTerminal turns it into a resize.
    if (sig === 'SIGWINCH' && this.terminal?.consoleFd !== undefined) return;
    const num = (require('node:os') as typeof import('node:os')).constants.signals[sig];
    if (this.link) {
      try {
        this.link.signal(num);
      } catch (err) {
        log().warn(`forwarding ${sig}: ${messageOf(err)}`);
      }
      return;
    }
    this.agentConn?.request('kill', { signal: num, all: false }).catch((err) => log().warn(`forwarding ${sig}: ${messageOf(err)}`));
  }

  private async onContainerExit(exit: AgentExit): Promise<void> {
    if (this.machine.is('exiting') || this.qemu?.ending) return;
    this.machine.apply({ kind: 'ending' });
    const status = exitStatusOf(exit);
    log().info({ exit }, `container ${this.launch.id} exited with status ${status}`);
    // All its output is in the log before its status is in the state (output-log.ts).
    this.outLog.sync();
    this.updateRecord({ status: 'stopped', exitStatus: status, finished: new Date().toISOString() });
    // Nothing in the VM is needed any more: the agent reports the exit once all output
    // is out, and nothing reads the root disk after its container (checkpoints are of
    // running ones; delete discards it). An orderly end in the agent (sync, then
    // reboot) cost ~15 ms more than this under TCG, and the protocol has none.
    await this.qemu?.kill();
    log().debug('VM ended');
    await this.linkRetired;
    this.finish(status);
  }

  private onQemuExit(qemu: QemuChild, code: number | null, signal: NodeJS.Signals | null): void {
    // Ended on purpose, sent (handed over), or not ours to watch (standing in, and a
    // take-back's VM until it runs): its end is not the container's.
    if (qemu.ending || this.machine.is('exiting', 'handed-over', 'standing-in', 'taking-back')) return;
    this.machine.apply({ kind: 'ending' });
    const why = this.qemuStderrTail().trim().split('\n').pop() || `exit ${code ?? signal}`;
    log().error(`VM of container ${this.launch.id} ended unexpectedly: ${why}; console: ${consoleTail(path.join(this.dir, CONSOLE_LOG))}`);
    this.updateRecord({ status: 'stopped', exitStatus: 255, finished: new Date().toISOString() });
    this.finish(255);
  }

  private async stopQemu(): Promise<void> {
    await this.qemu?.stop();
  }

  private finish(status: number): void {
    this.refresher?.close();
    this.terminal?.close();
    this.control?.close();
    fs.rmSync(path.join(this.dir, KEEPER_SOCKET), { force: true });
    // A stand-in linked to us gets the rest of the output and the status first.
    this.lingering = this.linkServer !== undefined;
    const linger = this.linkServer?.end(status, LINK_LINGER_MS) ?? Promise.resolve();
    void linger.then(() => {
      this.outLog?.close();
      process.exit(status);
    });
  }
}

/** Entry point of the keeper process: `runx __keeper <state dir>` (src/keeper-main.ts). */
export async function runKeeper(dir: string, deps: KeeperDeps): Promise<void> {
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
  await new Keeper(dir, launch, deps).run();
}
