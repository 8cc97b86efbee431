// `runx checkpoint [--image-path DIR] [--work-path DIR] [--leave-running] [--sign-key F] ID` and the
// rest of runc's flags (README: which ones mean nothing for a whole-VM image).
import type { Command } from 'commander';
import { runtimeOptions } from './globals';

export function register(program: Command): void {
  program.command('checkpoint')
    .description('checkpoint a running container (its whole VM)')
    .argument('<container-id>')
    .option('--image-path <dir>', 'path for saving the checkpoint image', 'checkpoint')
    .option('--work-path <dir>', 'accepted for runc compatibility (runx writes no CRIU logs)')
    .option('--parent-path <dir>', 'path of a previous checkpoint (incremental dumps: refused, not supported yet)')
    .option('--leave-running', 'leave the container running after the checkpoint', false)
    .option('--pre-dump', 'dump memory only, for an incremental checkpoint (refused, not supported yet)', false)
    .option('--tcp-established', 'accepted: a whole-VM image always keeps TCP connections')
    .option('--ext-unix-sk', 'accepted: external unix sockets are inside the VM image')
    .option('--shell-job', 'accepted: the VM image holds the whole session')
    .option('--file-locks', 'accepted: file locks are inside the VM image')
    .option('--lazy-pages', 'accepted; pages are not served lazily')
    .option('--status-fd <fd>', 'accepted for runc compatibility')
    .option('--page-server <addr>', 'accepted for runc compatibility')
    .option('--manage-cgroups-mode <mode>', 'accepted: the VM keeps its own cgroups')
    .option('--empty-ns <ns>', 'accepted for runc compatibility')
    .option('--auto-dedup', 'accepted for runc compatibility')
    .option('--sign-key <file>', 'sign the image\'s manifest (HMAC-SHA256) with the key in this file (at least 32 bytes)')
    .action(async (id: string, o: { imagePath: string; leaveRunning: boolean; preDump: boolean; parentPath?: string; signKey?: string }) => {
      const { checkpointContainer } = await import('../checkpoint/checkpoint-container');
      await checkpointContainer(id, { imagePath: o.imagePath, leaveRunning: o.leaveRunning, preDump: o.preDump, parentPath: o.parentPath, signKey: o.signKey }, runtimeOptions(program));
    });
}
