// `runx state ID`: the runtime-spec state JSON, indented as runc prints it.
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('state')
    .description('output the state of a container')
    .argument('<container-id>')
    .action(async (id: string) => {
      const { containerState } = await import('../xcontainer');
      process.stdout.write(`${JSON.stringify(containerState(id, runtimeOptions(program)), null, 2)}\n`);
    });
}
