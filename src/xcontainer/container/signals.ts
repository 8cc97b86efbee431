// Signal names and numbers as `runc kill` accepts them: "9", "KILL", "SIGKILL", "sigkill".
import os from 'node:os';
import { RunxError } from '../../errors';

export function parseSignal(input: string): number {
  if (/^\d+$/.test(input)) {
    const n = Number(input);
    if (n >= 1 && n <= 64) return n;
    throw new RunxError('EUSAGE', `unknown signal "${input}"`);
  }
  const name = `SIG${input.toUpperCase().replace(/^SIG/, '')}`;
  const n = (os.constants.signals as Record<string, number | undefined>)[name];
  if (n === undefined) throw new RunxError('EUSAGE', `unknown signal "${input}"`);
  return n;
}
