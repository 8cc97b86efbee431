// The source keeper after a live migration: a stand-in for the container that now
// runs on another host. It keeps the pid containerd supervises, relays stdin and
// signals to the destination over a remote link (remote-link.ts; the migration
// service's Attach stream), writes the
// output that comes back, and exits with the container's final status. When the
// container comes back to this host, the stand-in runs it again (the keeper's
// take-back) and its link retires: the exit status that then ends it is not the
// container's but the other host's keeper ending, after the last of its output.
import { RunxError } from '../../errors';
import { log } from '../../log';
import { teardownNetwork } from '../devices/net/config';
import type { KeeperLaunch } from './keeper-launch';
import { writeLaunch } from './keeper-spawn';
import type { LinkAuth } from './protocol';
import type { RemoteLink, RemoteLinkFactory, StdinResume } from './remote-link';

export interface StandInSinks {
  stdout(buf: Buffer): void;
  stderr(buf: Buffer): void;
  exit(status: number): void;
}

/** How long a retiring link may take to bring the other host's last output. */
const RETIRE_TIMEOUT_MS = 30_000;

export class StandIn {
  private readonly link: RemoteLink;
  private ended = false;
  private retired?: () => void;

  constructor(id: string, to: string, auth: LinkAuth, sinks: StandInSinks, openLink: RemoteLinkFactory, stdin?: StdinResume) {
    const end = (status: number, why?: string) => {
      if (this.ended) return;
      this.ended = true;
      if (this.retired) {
        this.retired();
        return;
      }
      if (why) log().error(`stand-in for ${id}: ${why}`);
      sinks.exit(status);
    };
    // The destination host gone or unreachable (lost): the container may live on
    // there; this stand-in cannot know its fate.
    this.link = openLink(id, to, auth, {
      stdout: (b) => sinks.stdout(b),
      stderr: (b) => sinks.stderr(b),
      exitStatus: (status) => end(status),
      lost: (why) => end(255, why),
    }, stdin);
  }

  stdin(data: Buffer): void {
    if (!this.ended) this.link.stdin(data);
  }

  signal(sig: number): void {
    if (this.ended) throw new RunxError('ESTATE', 'the migrated container has ended');
    this.link.signal(sig);
  }

  /**
   * The container runs here again. Resolves when the link has brought the last
   * output of the other host's keeper (it ends after the switch-over), or after a
   * bounded wait if that host went silent; the link is closed then.
   */
  retire(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        log().warn(`the link of a container taken back did not end within ${RETIRE_TIMEOUT_MS / 1000} s; closing it`);
        this.ended = true;
        done();
      }, RETIRE_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        this.link.close();
        resolve();
      };
      this.retired = done;
      if (this.ended) done();
    });
  }
}

/**
 * The VM has left for good: its tap and redirects go from the namespace here, and
 * launch.json forgets them. (A stand-in keeps them instead: with its tap unread, the
 * namespace's interface stays deaf and mute, so the namespace's own stack, which has
 * the guest's address and, the Kata way, its very MAC, cannot answer ARP for it or
 * reset its connections from the old port; delete removes them, a return reuses them.)
 */
export function releaseNic(dir: string, launch: KeeperLaunch): void {
  const net = launch.qemu.network;
  if (!net) return;
  teardownNetwork(net);
  launch.qemu.network = undefined;
  writeLaunch(dir, launch);
}
