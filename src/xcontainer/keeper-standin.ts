// The source keeper after a live migration: a stand-in for the container that now
// runs on another host. It keeps the pid containerd supervises, relays stdin and
// signals to the destination over the migration service's Attach stream, writes the
// output that comes back, and exits with the container's final status.
import type * as grpc from '@grpc/grpc-js';
import { RunxError } from '../errors';
import { log } from '../log';
import { type AuthOptions, clientCredentials } from '../migrate/auth';
import { type AttachIn, type AttachOut, CHANNEL_OPTIONS, migrationPackage } from '../migrate/proto';

export interface StandInSinks {
  stdout(buf: Buffer): void;
  stderr(buf: Buffer): void;
  exit(status: number): void;
}

export class StandIn {
  private readonly stream: grpc.ClientDuplexStream<AttachIn, AttachOut>;
  private ended = false;

  constructor(id: string, to: string, auth: AuthOptions, sinks: StandInSinks) {
    const { Client } = migrationPackage();
    const { creds, metadata } = clientCredentials(auth);
    const client = new Client(to, creds, CHANNEL_OPTIONS);
    this.stream = client.Attach(metadata);
    this.stream.write({ containerId: id });
    this.stream.on('data', (m: AttachOut) => {
      if (m.stdout && m.stdout.length) sinks.stdout(m.stdout);
      else if (m.stderr && m.stderr.length) sinks.stderr(m.stderr);
      else if (m.what === 'exitStatus' || m.exitStatus !== undefined) {
        this.ended = true;
        sinks.exit(m.exitStatus ?? 255);
      }
    });
    this.stream.on('error', (err) => {
      if (this.ended) return;
      // The destination host is gone or unreachable: the container may live on there;
      // this stand-in cannot know its fate.
      log().error(`stand-in for ${id}: lost the link to ${to}: ${err.message}`);
      this.ended = true;
      sinks.exit(255);
    });
    this.stream.on('end', () => {
      if (this.ended) return;
      this.ended = true;
      log().error(`stand-in for ${id}: ${to} ended the link without an exit status`);
      sinks.exit(255);
    });
  }

  stdin(data: Buffer): void {
    if (!this.ended) this.stream.write({ stdin: data });
  }

  signal(sig: number): void {
    if (this.ended) throw new RunxError('ESTATE', 'the migrated container has ended');
    this.stream.write({ signal: sig });
  }
}
