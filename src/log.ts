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

export function configureLog(opts: LogOptions): void {
  currentOptions = opts;
  current = undefined;
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
  const level = opts.debug ? 'debug' : opts.file ? 'info' : 'warn';
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
