// The source keeper after a live migration: a stand-in for the container that now
// runs on another host. It keeps the pid containerd supervises, relays stdin and
// signals to the destination over the migration service's Attach stream, writes the
// output that comes back, and exits with the container's final status. When the
// container comes back to this host, the stand-in runs it again (the keeper's
// take-back) and its link retires: the exit status that then ends it is not the
// container's but the other host's keeper ending, after the last of its output.
import type * as grpc from '@grpc/grpc-js';
import { RunxError } from '../../errors';
import { log } from '../../log';
import { type AuthOptions, callErrorMessage, clientCredentials } from '../../migrate/auth';
import { type AttachIn, type AttachOut, type MigrationClient, migrationPackage } from '../../migrate/proto';
import { teardownNetwork } from '../devices/net/config';
import type { KeeperLaunch } from './keeper-launch';
import { writeLaunch } from './keeper-spawn';

export interface StandInSinks {
  stdout(buf: Buffer): void;
  stderr(buf: Buffer): void;
  exit(status: number): void;
}

/** How long a retiring link may take to bring the other host's last output. */
const RETIRE_TIMEOUT_MS = 30_000;

export class StandIn {
  private readonly client: MigrationClient;
  private readonly stream: grpc.ClientDuplexStream<AttachIn, AttachOut>;
  private ended = false;
  private retired?: () => void;

  constructor(id: string, to: string, auth: AuthOptions, sinks: StandInSinks) {
    const { Client } = migrationPackage();
    const { creds, metadata, options } = clientCredentials(auth);
    this.client = new Client(to, creds, options);
    this.stream = this.client.Attach(metadata);
    this.stream.write({ containerId: id });
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
    this.stream.on('data', (m: AttachOut) => {
      if (m.stdout && m.stdout.length) sinks.stdout(m.stdout);
      else if (m.stderr && m.stderr.length) sinks.stderr(m.stderr);
      else if (m.what === 'exitStatus' || m.exitStatus !== undefined) end(m.exitStatus ?? 255);
    });
    // The destination host is gone or unreachable: the container may live on there;
    // this stand-in cannot know its fate.
    this.stream.on('error', (err) => end(255, `lost the link to ${to}: ${err.message}`));
    this.stream.on('end', () => end(255, `${to} ended the link without an exit status`));
  }

  stdin(data: Buffer): void {
    if (!this.ended) this.stream.write({ stdin: data });
  }

  signal(sig: number): void {
    if (this.ended) throw new RunxError('ESTATE', 'the migrated container has ended');
    this.stream.write({ signal: sig });
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
        this.stream.cancel();
        this.client.close();
        resolve();
      };
      this.retired = done;
      if (this.ended) done();
    });
  }
}

/** How long a stand-in-to-be may take to reach the destination before a migration. */
const CHECK_LINK_TIMEOUT_MS = 10_000;

/**
 * Before a migration moves anything: can this keeper, as the stand-in it will be, read
 * its credentials and reach the destination's service with them? (It runs elsewhere
 * than `runx migrate`: another working directory, perhaps another network namespace.)
 */
export function checkLink(id: string, to: string, auth: AuthOptions): Promise<void> {
  const { Client } = migrationPackage();
  const { creds, metadata, options } = clientCredentials(auth);
  const client: MigrationClient = new Client(to, creds, options);
  return new Promise<void>((resolve, reject) => {
    client.Ping({ containerId: id }, metadata, { deadline: Date.now() + CHECK_LINK_TIMEOUT_MS }, (err) => {
      client.close();
      if (err) reject(new RunxError('EHOST', `this host's keeper, the container's stand-in after the switch-over, cannot reach ${to}: ${callErrorMessage(err)}`));
      else resolve();
    });
  });
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
