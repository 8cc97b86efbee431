// How runx starts its own helper processes (the keeper, a detached exec's relay). From
// a checkout they are Node scripts (src/keeper-main.ts, exec-relay/); the one-file binary has no
// scripts, so it runs itself with a hidden first argument that src/runx-entry.ts
// dispatches on. Neither loads the argument parser.
import path from 'node:path';
import { isSea } from '../../sea';

export type InternalRole = 'keeper' | 'exec-relay';

/** The first argument that makes the one-file binary act as `role`. */
export function internalArgument(role: InternalRole): string {
  return `__runx-${role}`;
}

const SCRIPT_OF: Record<InternalRole, string> = {
  keeper: path.join('..', '..', 'keeper-main.js'),
  'exec-relay': path.join('..', 'exec-relay', 'exec-relay-main.js'),
};

/** The program and arguments that run `role` with `args`. */
export function internalCommand(role: InternalRole, args: string[] = []): { file: string; args: string[] } {
  const first = isSea() ? internalArgument(role) : path.join(__dirname, SCRIPT_OF[role]);
  return { file: process.execPath, args: [first, ...args] };
}
