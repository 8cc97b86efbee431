// The process `runx exec` starts, as runc builds it: the whole process from
// --process F.json, or else the container's own process (env, user, capabilities,
// rlimits ...) with the given args and the flags' changes on top.
import fs from 'node:fs';
import { ConfigError, RunxError, messageOf } from '../../errors';
import { validateConfig } from '../../bundle/validate-config';
import type { SpecConfig, SpecProcess } from '../../bundle/spec-types';

export interface ExecProcessOptions {
  /** --process: a file with one runtime-spec process object. */
  processFile?: string;
  args: string[];
  tty: boolean;
  cwd?: string;
  env: string[];
  /** --user uid[:gid] */
  user?: string;
  additionalGids: number[];
  caps: string[];
  noNewPrivs: boolean;
}

export function execProcess(opts: ExecProcessOptions, config: SpecConfig): SpecProcess {
  const proc = opts.processFile ? readProcessFile(opts.processFile) : fromFlags(opts, config);
  // Checked as the container's config would be, with this process in it: the same
  // schema and the same rules (absolute cwd, known rlimits, capability names).
  try {
    validateConfig({ ...config, process: proc });
  } catch (err) {
    const what = opts.processFile ? opts.processFile : 'exec process';
    if (err instanceof ConfigError) throw new RunxError('EUSAGE', `${what}: ${err.message.replace(/^config\.json: /, '')}`);
    throw err;
  }
  return proc;
}

function readProcessFile(file: string): SpecProcess {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new RunxError('EUSAGE', `cannot read process file ${file}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RunxError('EUSAGE', `process file ${file} is not valid JSON: ${messageOf(err)}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new RunxError('EUSAGE', `process file ${file} must hold a JSON object`);
  return value as SpecProcess;
}

function fromFlags(opts: ExecProcessOptions, config: SpecConfig): SpecProcess {
  if (opts.args.length === 0) throw new RunxError('EUSAGE', 'exec args cannot be empty');
  const base = config.process!;
  const proc: SpecProcess = {
    ...structuredClone(base),
    args: opts.args,
    terminal: opts.tty,
    env: [...(base.env ?? []), ...opts.env],
  };
  delete proc.consoleSize;
  if (opts.cwd) proc.cwd = opts.cwd;
  if (opts.user) proc.user = { ...parseUser(opts.user), additionalGids: proc.user.additionalGids };
  if (opts.additionalGids.length) proc.user.additionalGids = [...(proc.user.additionalGids ?? []), ...opts.additionalGids];
  if (opts.noNewPrivs) proc.noNewPrivileges = true;
  if (opts.caps.length) {
    const caps = proc.capabilities ?? {};
    for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...new Set([...(caps[set] ?? []), ...opts.caps])];
    proc.capabilities = caps;
  }
  return proc;
}

/** "uid[:gid]", numbers only, as runc takes it. */
function parseUser(spec: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new RunxError('EUSAGE', `invalid --user "${spec}": want uid[:gid] (numbers)`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}
