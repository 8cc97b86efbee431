// The logger (pino). `--log FILE --log-format json` writes lines containerd's shim
// reads: {"level":"error","msg":"...","time":"<RFC 3339>"}; the shim reports the last
// error line's msg. Text format writes "time level msg" lines. Writes are synchronous
// so a line logged just before exit is never lost.
import type { Logger } from 'pino';

export type LogFormat = 'text' | 'json';

export interface LogOptions {
  file?: string;
  format: LogFormat;
  debug: boolean;
}

let current: Logger | undefined;
let currentOptions: LogOptions = { format: 'text', debug: false };
let stderrOwnedByContainer = false;

export function configureLog(opts: LogOptions): void {
  currentOptions = opts;
  current = undefined;
}

/**
 * Said by the verbs whose stderr is the container's own output stream (create, run,
 * restore and exec without a console socket: the container's stdio is theirs, then
 * the keeper's) and by the keeper. Without --log, runx's own warnings then go to
 * stderr only when it is a terminal, a person's; a pipe there is an engine's, into
 * the container's log (Podman's conmon passes --log only to runtimes it knows), so
 * only errors reach it, and the exit handler's one line.
 */
export function stderrIsContainers(): void {
  stderrOwnedByContainer = true;
  current = undefined;
}

/** Where runx's own log lines may go when there is no --log file. */
function stderrLevel(debug: boolean): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const quiet = stderrOwnedByContainer && !(require('node:tty') as typeof import('node:tty')).isatty(2);
  return quiet ? 'error' : debug ? 'debug' : 'warn';
}

export function logOptions(): LogOptions {
  return currentOptions;
}

function textStream(fd: number) {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const fs = require('node:fs') as typeof import('node:fs');
  return {
    write(line: string): void {
      try {
        const o = JSON.parse(line) as { level: string; time: string; msg: string; [k: string]: unknown };
        const { level, time, msg, ...rest } = o;
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
        fs.writeSync(fd, `${time} ${level} ${msg}${extra}\n`);
      } catch {
        fs.writeSync(fd, line);
      }
    },
  };
}

/** Loads pino ahead of the first log(), for a caller with time to spare (~10–20 ms). */
export function preloadLogger(): void {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('pino');
}

/** The process's logger, created on first use (pino is not loaded by verbs that never log). */
export function log(): Logger {
  if (current) return current;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const pino = require('pino') as typeof import('pino');
  const opts = currentOptions;
  // Without --log, only warnings and errors reach stderr, as with runc.
  const level = opts.file ? (opts.debug ? 'debug' : 'info') : stderrLevel(opts.debug);
  const fd = opts.file ? require('node:fs').openSync(opts.file, 'a', 0o644) as number : 2;
  const dest = opts.format === 'json' ? pino.destination({ fd, sync: true }) : textStream(fd);
  current = pino.pino({
    level,
    base: null,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  }, dest);
  return current!;
}
