// Starting a VM and bringing it to "agent ready": a cold boot (wait for the agent's
// hello), a boot from a saved state file (checkpoint or template: cont, then ping the
// agent), or a migration destination (QEMU waits paused for the incoming VM). Used by
// the keeper and by the template builder. On failure QEMU is killed and the error
// carries the console's last lines.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RunxError } from '../../errors';
import { log } from '../../log';
import { AgentConnection } from '../agent/agent-connection';
import { PROTOCOL_VERSION } from '../agent/agent-frames';
import { type ControlMessage, field } from '../agent/agent-messages';
import { checkAgentProtocol } from '../devices/agent/persist';
import { sleep } from '../host/host';
import { netnsCommand } from '../devices/net/config';
import { stageCommand } from '../devices/share/config';
import { AGENT_SOCKET, CONSOLE_LOG, QMP_SOCKET, type QemuLaunch, qemuArgv } from './qemu-argv';
import { QmpClient } from './qmp-client';
import { type QemuVersion, resizeOrder } from './qemu-version';
import { type IncomingEndpoints, prepareIncoming } from './vm-migration';
import { ramFileBeside, setIgnoreShared } from './vm-snapshot';
import { socketPath } from '../state/socket-path';

/** QEMU's fd holding the vm.state it loads (a checkpoint's or a template's; bootVm's spawn puts it there). */
const STATE_FD = 3;

export type BootMode =
  | { kind: 'cold' }
  /**
   * resizeRootTo: the root disk's real size, for a VM from a template (which booted
   * with a placeholder disk): set while the loaded VM is still stopped.
   */
  | { kind: 'from-file'; stateFile: string; resizeRootTo?: number }
  | { kind: 'incoming'; endpoints: IncomingEndpoints };

export interface BootedVm {
  child: ChildProcess;
  qmp: QmpClient;
  agent: AgentConnection;
  stderrTail(): string;
}

/** The last lines of the guest console, on one line, for boot errors. */
export function consoleTail(file: string, lines = 8): string {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '(no console output)';
  }
  const tail = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).slice(-lines);
  return tail.length ? tail.join(' | ') : '(no console output)';
}

function listenOnce(file: string): { server: net.Server; accepted: Promise<net.Socket> } {
  fs.rmSync(file, { force: true });
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  server.listen(socketPath(file));
  return { server, accepted };
}

/** Runs a VM saved stopped (checkpoint, template): `cont` once loaded, then ping the agent. */
async function resumeLoaded(qmp: QmpClient, agent: AgentConnection, resizeRootTo: number | undefined, version: QemuVersion): Promise<void> {
  // A restored guest believes its host end never went away (the port's state was
  // saved connected), so it says no hello: ping it instead.
  let status = '';
  let size = resizeRootTo;
  const order = resizeOrder(version);
  const resize = async () => {
    if (size === undefined) return;
    // QEMU 10 keeps the loaded VM's block nodes inactive until cont (qemu-version.ts).
    if (order === 'activate-first') await qmp.execute('blockdev-set-active', { active: true });
    await qmp.execute('block_resize', { device: 'root', size });
    size = undefined;
  };
  while ((status = (await qmp.execute('query-status', {})).status) !== 'running') {
    if (status === 'paused') {
      // Before cont where QEMU allows it: the guest takes the config-change interrupt
      // as soon as it runs, and has the new size by the time create asks for it
      // instead of polling for it then.
      if (order !== 'after-cont') await resize();
      await qmp.execute('cont', {});
    } else if (status !== 'inmigrate' && status !== 'prelaunch') throw new RunxError('EBOOT', `the saved VM state did not load (QEMU status "${status}")`);
    else await sleep(1);
  }
  await resize();
  // Also resumes the container's stdin credit from what the agent holds.
  await agent.ping();
}

export async function bootVm(dir: string, qemuBinary: string, qemu: QemuLaunch, mode: BootMode, timeoutMs: number): Promise<BootedVm> {
  const agentL = listenOnce(path.join(dir, AGENT_SOCKET));
  const qmpL = listenOnce(path.join(dir, QMP_SOCKET));
  const consoleLog = path.join(dir, CONSOLE_LOG);
  fs.writeFileSync(consoleLog, '');
  // A template's state comes without its RAM, which stays in a file beside it: mapped
  // copy-on-write, its pages are shared by every VM started from the template until
  // written. Loading such a state needs x-ignore-shared set first, so QEMU waits for it.
  const ramFile = mode.kind === 'from-file' ? ramFileBeside(mode.stateFile) : undefined;
  const argv = [...qemuArgv(ramFile ? { ...qemu, ramFile: { path: ramFile, share: false } } : qemu),
    ...(mode.kind === 'from-file' ? ['-incoming', ramFile ? 'defer' : `fd:${STATE_FD}`] : []),
    // A migration's destination waits paused until the source has sent everything.
    ...(mode.kind === 'incoming' ? ['-S', '-incoming', 'defer'] : [])];
  // With a NIC, QEMU runs inside the container's network namespace, where its tap is
  // (a template's: in one of its own). setpriv sets the parent-death signal before
  // exec'ing QEMU: Node cannot call prctl(PR_SET_PDEATHSIG) for a child, and QEMU must
  // not outlive its keeper.
  const netns = qemu.network ? netnsCommand(qemu.network) : [];
  // A container's bind mounts are staged by a helper that then execs QEMU (devices/share).
  const cmd = [...netns, 'setpriv', '--pdeathsig', 'SIGKILL', '--', ...stageCommand(qemu.shares), qemuBinary, ...argv];
  // Its own session: when the keeper holds a container's host terminal as its
  // controlling tty, the terminal's SIGHUP (console closed) and SIGWINCH are the
  // container's business, and QEMU would end on SIGHUP. It still dies with the keeper
  // (parent-death signal).
  // The state reaches QEMU as its fd 3 (-incoming or migrate-incoming fd:3): unlike
  // exec:cat, QEMU then forks no shell and cat to read it.
  const stateFd = mode.kind === 'from-file' ? fs.openSync(mode.stateFile, 'r') : undefined;
  let child: ChildProcess;
  try {
    const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'ignore', 'pipe', ...(stateFd === undefined ? [] : [stateFd])];
    child = spawn(cmd[0]!, cmd.slice(1), { cwd: dir, stdio, detached: true });
  } finally {
    if (stateFd !== undefined) fs.closeSync(stateFd);
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  let settled = false;
  const qemuExited = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new RunxError('EBOOT', `cannot start QEMU (${qemuBinary}): ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (settled) return;
      const why = stderr.trim().split('\n').pop() || `exit ${code ?? signal}`;
      reject(new RunxError('EBOOT', `VM exited during boot: ${why}; console: ${consoleTail(consoleLog)}`));
    });
  });
  qemuExited.catch(() => { /* observed through the race below */ });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RunxError('EBOOT',
      `guest agent did not answer within ${timeoutMs / 1000} s (accel ${qemu.accel}); console: ${consoleTail(consoleLog)}`)), timeoutMs);
  });
  let qmp: QmpClient | undefined;
  let agent: AgentConnection | undefined;
  const ready = (async () => {
    qmp = new QmpClient(await qmpL.accepted);
    // The greeting carries query-version's answer: what this QEMU needs differs by version.
    const version = (await qmp.negotiate()).QMP.version.qemu;
    // A loaded VM's agent lived on: any hello it says is a reconnect's, checked as one.
    agent = new AgentConnection(await agentL.accepted, { resumed: mode.kind !== 'cold' });
    log().debug('QMP negotiated');
    if (mode.kind === 'incoming') {
      await prepareIncoming(qmp, mode.endpoints);
      log().debug('waiting for the incoming VM');
    } else if (mode.kind === 'from-file') {
      if (ramFile) {
        // Sent together: QEMU runs them in order.
        await Promise.all([setIgnoreShared(qmp, true), qmp.execute('migrate-incoming', { uri: `fd:${STATE_FD}` })]);
      }
      await resumeLoaded(qmp, agent, mode.resizeRootTo, version);
      // Off again: this VM's RAM is its own, and its checkpoints and migrations carry it.
      if (ramFile) await setIgnoreShared(qmp, false);
      log().debug('loaded VM running, agent answered');
    } else {
      const a = agent;
      // An agent of another protocol version is dropped at its first frame (the
      // frame header carries the version): say so now, not at the boot timeout.
      const hello = await new Promise<ControlMessage>((resolve, reject) => {
        a.once('hello', resolve);
        a.once('close', () => {
          // Any other close is QEMU ending, which qemuExited reports with its reasons.
          if (a.dropReason) reject(new RunxError('EBOOT', `the guest agent does not speak this runx's agent protocol ${PROTOCOL_VERSION} (${a.dropReason}): its initramfs is of another build`));
        });
      });
      checkHello(hello);
      log().debug('agent said hello');
    }
  })();
  try {
    await Promise.race([ready, qemuExited, timeout]);
  } catch (err) {
    settled = true;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      // Gone before this returns: a caller that boots again (keeper.ts, without the
      // template) must not find the root disk still locked by this QEMU.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    throw err;
  } finally {
    clearTimeout(timer);
    agentL.server.close();
    qmpL.server.close();
  }
  settled = true;
  return { child, qmp: qmp!, agent: agent!, stderrTail: () => stderr };
}

/** The agent's `hello` must name the protocol this runx speaks (docs/protocol/agent.md). */
export function checkHello(hello: ControlMessage): void {
  const proto = field(hello, 'proto');
  checkAgentProtocol(proto === undefined ? undefined : Number(proto), 'the guest agent said hello');
}
