// `runx restore [--image-path DIR] [--bundle B] [--detach] [--pid-file P] [--no-subreaper] [--verify-key F] ID`
import type { Command } from 'commander';
import { runtimeOptions } from './globals';
import { stderrIsContainers } from '../log';

export function register(program: Command): void {
  program.command('restore')
    .description('restore a container from a checkpoint image')
    .argument('<container-id>')
    .option('--image-path <dir>', 'path of the checkpoint image', 'checkpoint')
    .option('--work-path <dir>', 'accepted for runc compatibility')
    .option('-b, --bundle <dir>', 'path to the root of the bundle directory', '.')
    .option('-d, --detach', 'detach from the container\'s process', false)
    .option('--pid-file <file>', 'file to write the process id to')
    .option('--console-socket <path>', 'AF_UNIX socket that receives the console pty master')
    .option('--no-subreaper', 'accepted for runc compatibility')
    .option('--no-pivot', 'accepted for runc compatibility')
    .option('--tcp-established', 'accepted: a whole-VM image always keeps TCP connections')
    .option('--ext-unix-sk', 'accepted for runc compatibility')
    .option('--shell-job', 'accepted for runc compatibility')
    .option('--file-locks', 'accepted for runc compatibility')
    .option('--manage-cgroups-mode <mode>', 'accepted for runc compatibility')
    .option('--lazy-pages', 'accepted for runc compatibility')
    .option('--empty-ns <ns>', 'accepted for runc compatibility')
    .option('--auto-dedup', 'accepted for runc compatibility')
    .option('--verify-key <file>', 'refuse an image whose manifest is not signed with the key in this file')
    .action(async (id: string, o: { imagePath: string; bundle: string; detach: boolean; pidFile?: string; consoleSocket?: string; verifyKey?: string }) => {
      if (!o.consoleSocket) stderrIsContainers();
      const { restoreContainer } = await import('../checkpoint/restore-container');
      process.exitCode = await restoreContainer({ id, imagePath: o.imagePath, bundle: o.bundle, detach: o.detach, pidFile: o.pidFile, consoleSocket: o.consoleSocket, verifyKey: o.verifyKey, runtime: runtimeOptions(program) });
    });
}
