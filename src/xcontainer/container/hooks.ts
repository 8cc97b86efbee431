// Runs runtime-spec hooks on the host (config.md "POSIX-platform Hooks"; startContainer
// hooks run in the guest instead, guest-hooks.ts): each hook's
// path with its args (args[0] is argv[0]) and env, the container state JSON on stdin,
// killed after its timeout. A failing prestart/createRuntime hook fails `create`; a
// failing poststart/poststop hook is only logged, as the spec says.
import { spawn } from 'node:child_process';
import { RunxError } from '../../errors';
import { log } from '../../log';
import type { OciState, SpecHook, SpecHooks } from '../../bundle/spec-types';

export type HookKind = keyof SpecHooks;

const OUTPUT_LIMIT = 4096;

function runOne(kind: HookKind, index: number, hook: SpecHook, state: OciState): Promise<void> {
  return new Promise((resolve, reject) => {
    const label = `${kind} hook #${index} (${hook.path})`;
    const args = hook.args ?? [hook.path];
    const env: Record<string, string> = {};
    for (const e of hook.env ?? []) {
      const eq = e.indexOf('=');
      if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
    }
    const child = spawn(hook.path, args.slice(1), { argv0: args[0] ?? hook.path, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => { output = (output + d.toString()).slice(-OUTPUT_LIMIT); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = hook.timeout && hook.timeout > 0
      ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, hook.timeout * 1000)
      : undefined;
    child.stdin.on('error', () => { /* a hook need not read its stdin */ });
    child.stdin.end(JSON.stringify(state));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new RunxError('EHOST', `${label} failed: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const why = timedOut ? `timed out after ${hook.timeout} s` : code !== null ? `exit status ${code}` : `killed by ${signal}`;
      const said = output.trim().replace(/\s*\n\s*/g, ' | ');
      reject(new RunxError('EHOST', `${label} failed: ${why}${said ? `: ${said}` : ''}`));
    });
  });
}

/** Runs the hooks of one kind in order; the first failure rejects. */
export async function runHooks(kind: HookKind, hooks: SpecHooks | undefined, state: OciState): Promise<void> {
  const list = hooks?.[kind] ?? [];
  for (const [i, hook] of list.entries()) {
    log().debug(`running ${kind} hook #${i}: ${hook.path}`);
    await runOne(kind, i, hook, state);
  }
}

/** For poststart and poststop: a failure is a warning, and the later hooks still run. */
export async function runHooksWarnOnly(kind: HookKind, hooks: SpecHooks | undefined, state: OciState): Promise<void> {
  for (const [i, hook] of (hooks?.[kind] ?? []).entries()) {
    await runOne(kind, i, hook, state).catch((err: Error) => log().warn(err.message));
  }
}
