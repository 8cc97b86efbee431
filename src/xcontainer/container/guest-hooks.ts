// startContainer hooks, which runtime-spec runs in the container: its path resolves
// in the container and it executes in the container's namespaces. Here that is inside
// the guest, as an exec'd process (root, cwd /, the hook's env, no seccomp filter,
// like runc's init before it applies the container's), with the state JSON on its
// stdin and its timeout kept by closing the exec stream (the keeper then kills it).
// A failing hook fails `start` with its name, in the words of host hooks (hooks.ts).
import type net from 'node:net';
import { RunxError, messageOf } from '../../errors';
import { log } from '../../log';
import { guestExecFields } from '../../bundle/guest-plan';
import type { OciState, SpecConfig, SpecHook, SpecProcess } from '../../bundle/spec-types';
import { FrameReader, FrameType, encodeFrame } from '../agent/agent-frames';
import { requestExec } from '../exec-relay/exec-relay';
import { parseControl } from '../exec-relay/exec-stream';

const OUTPUT_LIMIT = 4096;

export async function runStartContainerHooks(config: SpecConfig, state: OciState, keeperSocket: string): Promise<void> {
  for (const [i, hook] of (config.hooks?.startContainer ?? []).entries()) {
    log().debug(`running startContainer hook #${i} in the guest: ${hook.path}`);
    await runInGuest(i, hook, config, state, keeperSocket);
  }
}

async function runInGuest(index: number, hook: SpecHook, config: SpecConfig, state: OciState, keeperSocket: string): Promise<void> {
  const label = `startContainer hook #${index} (${hook.path})`;
  // args[0] is the hook's argv[0]; the agent takes the program from the first argument.
  const proc: SpecProcess = {
    args: [hook.path, ...(hook.args ?? []).slice(1)],
    env: hook.env ?? [],
    cwd: '/',
    user: { uid: 0, gid: 0 },
  };
  const { linux, ...rest } = config;
  const noSeccomp: SpecConfig = { ...rest, linux: linux ? { ...linux, seccomp: undefined } : undefined };
  const fields = guestExecFields(0, proc, noSeccomp).filter(([k]) => k !== 'exec');
  let started;
  try {
    started = await requestExec(keeperSocket, fields);
  } catch (err) {
    throw new RunxError('EHOST', `${label} failed: ${messageOf(err)}`);
  }
  const { sock, rest: first } = started;
  sock.write(encodeFrame(FrameType.stdin, Buffer.from(JSON.stringify(state))));
  sock.write(encodeFrame(FrameType.stdin, Buffer.alloc(0)));
  const result = await collect(sock, first, hook.timeout);
  const said = result.output.trim().replace(/\s*\n\s*/g, ' | ');
  if (result.why) throw new RunxError('EHOST', `${label} failed: ${result.why}${said ? `: ${said}` : ''}`);
}

function collect(sock: net.Socket, first: Buffer, timeoutS: number | undefined): Promise<{ why?: string; output: string }> {
  return new Promise((resolve) => {
    const reader = new FrameReader();
    let output = '';
    let done = false;
    const finish = (why?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ why, output });
    };
    const timer = timeoutS && timeoutS > 0 ? setTimeout(() => finish(`timed out after ${timeoutS} s`), timeoutS * 1000) : undefined;
    const onData = (chunk: Buffer) => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (err) {
        finish(messageOf(err));
        return;
      }
      for (const f of frames) {
        if (f.type === FrameType.stdout || f.type === FrameType.stderr) output = (output + f.payload.toString()).slice(-OUTPUT_LIMIT);
        const msg = f.type === FrameType.control ? parseControl(f.payload) : undefined;
        if (msg && 'exit' in msg) {
          const { code, signal } = msg.exit;
          finish(signal !== undefined ? `killed by signal ${signal}` : code === 0 ? undefined : `exit status ${code}`);
        }
      }
    };
    sock.on('data', onData);
    sock.on('close', () => finish('the container\'s keeper went away'));
    sock.on('error', () => { /* close follows */ });
    onData(first);
  });
}
