// Size limits of the process's arguments and environment, checked with the config so
// that an oversized one is refused naming its field, not deep in the agent protocol
// as a frame that is too large. Each string is held to Linux's own execve limit
// (MAX_ARG_STRLEN: 32 pages, NUL included); all of them together to a share of the
// agent's 1 MiB create message (docs/protocol/agent.md) that leaves room for the
// mounts, seccomp filter and the rest.
import { ConfigError } from '../errors';
import type { SpecProcess } from './spec-types';

export const MAX_ARG_STRLEN = 32 * 4096;
export const MAX_ARGS_AND_ENV_BYTES = 512 * 1024;

export function validateProcessSize(proc: Pick<SpecProcess, 'args' | 'env'>, source = 'config.json'): void {
  let total = 0;
  for (const [key, list] of [['args', proc.args ?? []], ['env', proc.env ?? []]] as const) {
    for (const [i, s] of list.entries()) {
      const bytes = Buffer.byteLength(s) + 1;
      if (bytes > MAX_ARG_STRLEN) {
        throw new ConfigError(`process.${key}[${i}]`, `${source}: process.${key}[${i}] is ${bytes - 1} bytes; at most ${MAX_ARG_STRLEN - 1} (Linux's MAX_ARG_STRLEN per argument or variable)`);
      }
      // As sent to the agent: JSON-escaped.
      total += Buffer.byteLength(JSON.stringify(s));
    }
  }
  if (total > MAX_ARGS_AND_ENV_BYTES) {
    throw new ConfigError('process.args', `${source}: process.args and process.env are ${total} bytes together; at most ${MAX_ARGS_AND_ENV_BYTES}`);
  }
}
