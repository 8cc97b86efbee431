// `runx list [--format table|json] [--quiet]`, in runc's columns.
import type { Command } from 'commander';
import { RunxError } from '../errors';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('list').alias('ps-all')
    .description('list containers started by runx with the given root')
    .option('-f, --format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'display only container IDs', false)
    .action(async (o: { format: string; quiet: boolean }) => {
      const { listContainers } = await import('../xcontainer');
      const states = listContainers(runtimeOptions(program));
      if (o.quiet) {
        process.stdout.write(states.map((s) => `${s.id}\n`).join(''));
      } else if (o.format === 'json') {
        process.stdout.write(`${JSON.stringify(states)}\n`);
      } else if (o.format === 'table') {
        const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
          ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])];
        const widths = rows[0]!.map((_, c) => Math.max(12, ...rows.map((r) => r[c]!.length + 1)));
        process.stdout.write(rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('').trimEnd()).join('\n') + '\n');
      } else {
        throw new RunxError('EUSAGE', `invalid format option: ${o.format}`);
      }
    });
}
