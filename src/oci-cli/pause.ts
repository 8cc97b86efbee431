// `runx pause ID` and `runx resume ID`
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('pause')
    .description('pause all processes in the container (stops its VM)')
    .argument('<container-id>')
    .action(async (id: string) => {
      const { pauseContainer } = await import('../xcontainer');
      await pauseContainer(id, runtimeOptions(program));
    });
  program.command('resume')
    .description('resume all processes in a paused container')
    .argument('<container-id>')
    .action(async (id: string) => {
      const { resumeContainer } = await import('../xcontainer');
      await resumeContainer(id, runtimeOptions(program));
    });
}
