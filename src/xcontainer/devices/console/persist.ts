// The serial console's part of a VM's state: the file in the state dir QEMU appends
// the guest's console to (kept across restarts of QEMU, for the console tail errors
// show). The 8250 carries no agent traffic: it is not reliable across save/restore.
import path from 'node:path';
import { CONSOLE_LOG } from '../../vm/vm-files';
import type { DevicePart } from '../part';

export interface ConsoleState {
  /** The console log, relative to the state dir. */
  log: string;
}

export function consoleToState(): ConsoleState {
  return { log: CONSOLE_LOG };
}

export function consoleFromState(dir: string, s: ConsoleState): string {
  return path.join(dir, s.log);
}

export const consolePart: DevicePart<ConsoleState> = { save: () => consoleToState() };
