// `runx create [--bundle B] [--pid-file P] [--console-socket S] [--no-pivot] [--no-new-keyring] ID`
import type { Command } from 'commander';
import { runtimeOptions } from './globals';
import { stderrIsContainers } from '../log';

export function register(program: Command): void {
  program.command('create')
    .description('create a container')
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'path to the root of the bundle directory', '.')
    .option('--pid-file <file>', 'file to write the process id to')
    .option('--console-socket <path>', 'AF_UNIX socket that receives the console pty master')
    .option('--no-pivot', 'accepted for runc compatibility')
    .option('--no-new-keyring', 'accepted for runc compatibility')
    .option('--preserve-fds <n>', 'accepted for runc compatibility', '0')
    .action(async (id: string, o: { bundle: string; pidFile?: string; consoleSocket?: string }) => {
      if (!o.consoleSocket) stderrIsContainers();
      const { createContainer } = await import('../xcontainer');
      await createContainer({ id, bundle: o.bundle, pidFile: o.pidFile, consoleSocket: o.consoleSocket, runtime: runtimeOptions(program), detachKeeper: true });
    });
}
