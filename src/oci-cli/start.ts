// `runx start ID`
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('start')
    .description('execute the user-defined process in a created container')
    .argument('<container-id>')
    .action(async (id: string) => {
      const { startContainer } = await import('../xcontainer');
      await startContainer(id, runtimeOptions(program));
    });
}
