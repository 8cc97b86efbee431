// `runx ps [--format table|json] ID`: json is the container's host pids (keeper and
// QEMU), as containerd's shim parses it. The guest's own process table comes with exec.
import type { Command } from 'commander';
import { RunxError } from '../errors';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('ps')
    .description('display the processes running inside a container')
    .argument('<container-id>')
    .argument('[ps-args...]')
    .option('-f, --format <format>', 'table or json', 'table')
    .action(async (id: string, _psArgs: string[], o: { format: string }) => {
      const { containerHostPids } = await import('../xcontainer/container-ps');
      const pids = containerHostPids(id, runtimeOptions(program));
      if (o.format === 'json') process.stdout.write(`${JSON.stringify(pids)}\n`);
      else if (o.format === 'table') process.stdout.write(['PID', ...pids.map(String)].join('\n') + '\n');
      else throw new RunxError('EUSAGE', `invalid format option: ${o.format}`);
    });
}
