// `runx delete [--force] ID...`
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('delete')
    .description('delete any resources held by the container')
    .argument('<container-id...>')
    .option('-f, --force', 'forcibly delete the container if it is still running', false)
    .action(async (ids: string[], o: { force: boolean }) => {
      const { deleteContainer } = await import('../xcontainer');
      const runtime = runtimeOptions(program);
      for (const id of ids) await deleteContainer(id, o.force, runtime);
    });
}
