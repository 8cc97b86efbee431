// `runx run [--bundle B] [--detach] [--keep] [--pid-file P] ID`: create + start (+ wait).
import type { Command } from 'commander';
import { runtimeOptions } from './globals';
import { stderrIsContainers } from '../log';

export function register(program: Command): void {
  program.command('run')
    .description('create and run a container')
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'path to the root of the bundle directory', '.')
    .option('-d, --detach', 'detach from the container\'s process', false)
    .option('--keep', 'do not delete the container after it exits', false)
    .option('--pid-file <file>', 'file to write the process id to')
    .option('--console-socket <path>', 'AF_UNIX socket that receives the console pty master')
    .option('--no-pivot', 'accepted for runc compatibility')
    .option('--no-new-keyring', 'accepted for runc compatibility')
    .option('--no-subreaper', 'accepted for runc compatibility')
    .option('--preserve-fds <n>', 'accepted for runc compatibility', '0')
    .action(async (id: string, o: { bundle: string; detach: boolean; keep: boolean; pidFile?: string; consoleSocket?: string }) => {
      if (!o.consoleSocket) stderrIsContainers();
      const { runContainer } = await import('../xcontainer');
      process.exitCode = await runContainer({ id, bundle: o.bundle, detach: o.detach, keep: o.keep, pidFile: o.pidFile, consoleSocket: o.consoleSocket, runtime: runtimeOptions(program) });
    });
}
