// `runx exec [options] ID [COMMAND [ARG...]]`, with runc's flags; exits with the
// exec'd process's status (0 with --detach).
import type { Command } from 'commander';
import { runtimeOptions } from './globals';
import { stderrIsContainers } from '../log';

const collect = (v: string, all: string[]): string[] => [...all, v];

export function register(program: Command): void {
  program.command('exec')
    .description('execute a new process inside the container')
    .argument('<container-id>')
    .argument('[command...]', 'the command and its arguments (unless --process is given)')
    .option('--console-socket <path>', 'AF_UNIX socket that receives the pty master')
    .option('--cwd <dir>', 'current working directory in the container')
    .option('-e, --env <VAR=value>', 'set an environment variable (repeatable)', collect, [])
    .option('-t, --tty', 'allocate a pseudo-TTY', false)
    .option('-u, --user <uid[:gid]>', 'user id and optional group id')
    .option('-g, --additional-gids <gid>', 'an additional group id (repeatable)', collect, [])
    .option('-p, --process <file>', 'path to a process.json; the command is taken from it')
    .option('-d, --detach', 'detach from the process', false)
    .option('--pid-file <path>', 'file to write the process id to')
    .option('--process-label <label>', 'SELinux label (accepted, not applied: the VM is the boundary)')
    .option('--apparmor <profile>', 'AppArmor profile (accepted, not applied: the VM is the boundary)')
    .option('--no-new-privs', 'set no_new_privs for the process')
    .option('-c, --cap <cap>', 'add a capability (repeatable)', collect, [])
    .option('--preserve-fds <n>', 'extra fds to pass (only 0 is supported)', '0')
    .option('--cgroup <path>', 'sub-cgroup (accepted; the process runs in the container\'s)')
    .option('--ignore-paused', 'allow exec in a paused container', false)
    .passThroughOptions()
    .action(async (id: string, command: string[], o: {
      consoleSocket?: string; cwd?: string; env: string[]; tty: boolean; user?: string; additionalGids: string[];
      process?: string; detach: boolean; pidFile?: string; newPrivs: boolean; cap: string[];
      preserveFds: string; ignorePaused: boolean;
    }) => {
      if (!o.consoleSocket) stderrIsContainers();
      const { RunxError } = await import('../errors');
      if (o.preserveFds !== '0') throw new RunxError('EUSAGE', '--preserve-fds is not supported by runx: the process runs in another kernel');
      const gids = o.additionalGids.map((g) => {
        if (!/^\d+$/.test(g)) throw new RunxError('EUSAGE', `invalid --additional-gids "${g}": want a number`);
        return Number(g);
      });
      const { execInContainer } = await import('../xcontainer');
      process.exitCode = await execInContainer({
        id,
        args: command,
        processFile: o.process,
        tty: o.tty,
        cwd: o.cwd,
        env: o.env,
        user: o.user,
        additionalGids: gids,
        caps: o.cap,
        noNewPrivs: !o.newPrivs,
        detach: o.detach,
        pidFile: o.pidFile,
        consoleSocket: o.consoleSocket,
        ignorePaused: o.ignorePaused,
        runtime: runtimeOptions(program),
      });
    });
}
