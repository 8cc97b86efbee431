// The host edge that the rest of xcontainer reads through: process liveness by pid and
// start time from /proc (guarding against pid reuse, as crun's status.c does).
import fs from 'node:fs';

/** Field 22 of /proc/<pid>/stat (clock ticks since boot), or undefined if no such process. */
export function processStartTime(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  if (state === 'Z' || state === 'X') return undefined;
  const start = Number(rest[19]);
  return Number.isFinite(start) ? start : undefined;
}

/** True when `pid` runs and is the same process that started at `startTime`. */
export function isSameProcessAlive(pid: number, startTime: number | undefined): boolean {
  const now = processStartTime(pid);
  if (now === undefined) return false;
  return startTime === undefined || now === startTime;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until the process is gone or `timeoutMs` passes; returns whether it is gone. */
export async function waitForExit(pid: number, startTime: number | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isSameProcessAlive(pid, startTime)) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
