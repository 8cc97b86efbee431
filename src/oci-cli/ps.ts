// `runx ps [--format table|json] ID`: json is the container's host pids (keeper and
// QEMU), as containerd's shim parses it; the table is the guest's own processes.
import type { Command } from 'commander';
import { RunxError } from '../errors';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('ps')
    .description('display the processes running inside a container')
    .argument('<container-id>')
    .argument('[ps-args...]', 'accepted for runc compatibility; the table has fixed columns')
    .option('-f, --format <format>', 'table or json', 'table')
    .action(async (id: string, _psArgs: string[], o: { format: string }) => {
      const ps = await import('../xcontainer');
      if (o.format === 'json') {
        process.stdout.write(`${JSON.stringify(ps.containerHostPids(id, runtimeOptions(program)))}\n`);
      } else if (o.format === 'table') {
        const procs = await ps.containerGuestProcesses(id, runtimeOptions(program));
        const rows = [['UID', 'PID', 'PPID', 'STAT', 'CMD'], ...procs.map((p) => [String(p.uid), String(p.pid), String(p.ppid), p.state, p.cmd])];
        const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
        process.stdout.write(rows.map((r) => r.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c)).join('  ')).join('\n') + '\n');
      } else {
        throw new RunxError('EUSAGE', `invalid format option: ${o.format}`);
      }
    });
}
