// The stand-in's remote link over the migration service's Attach stream (gRPC): the
// implementation of xcontainer's RemoteLink that src/keeper-main.ts injects into a
// keeper when it first stands in, and the check before a migration that such a link
// can be opened.
import type * as grpc from '@grpc/grpc-js';
import { RunxError } from '../errors';
import type { LinkAuth, RemoteLinkFactory } from '../xcontainer';
import { callErrorMessage, clientCredentials } from './auth';
import { type AttachIn, type AttachOut, type MigrationClient, migrationPackage } from './proto';

export const attachLink: RemoteLinkFactory = (id, to, auth, sinks) => {
  const { Client } = migrationPackage();
  const { creds, metadata, options } = clientCredentials(auth);
  const client: MigrationClient = new Client(to, creds, options);
  const stream: grpc.ClientDuplexStream<AttachIn, AttachOut> = client.Attach(metadata);
  stream.write({ containerId: id });
  let closed = false;
  stream.on('data', (m: AttachOut) => {
    if (closed) return;
    if (m.stdout && m.stdout.length) sinks.stdout(m.stdout);
    else if (m.stderr && m.stderr.length) sinks.stderr(m.stderr);
    else if (m.what === 'exitStatus' || m.exitStatus !== undefined) sinks.exitStatus(m.exitStatus ?? 255);
  });
  stream.on('error', (err) => { if (!closed) sinks.lost(`lost the link to ${to}: ${err.message}`); });
  stream.on('end', () => { if (!closed) sinks.lost(`${to} ended the link without an exit status`); });
  return {
    stdin: (data) => void stream.write({ stdin: data }),
    signal: (sig) => void stream.write({ signal: sig }),
    close: () => {
      closed = true;
      stream.cancel();
      client.close();
    },
  };
};

/** How long a stand-in-to-be may take to reach the destination before a migration. */
const CHECK_LINK_TIMEOUT_MS = 10_000;

/**
 * Before a migration moves anything: can this keeper, as the stand-in it will be, read
 * its credentials and reach the destination's service with them? (It runs elsewhere
 * than `runx migrate`: another working directory, perhaps another network namespace.)
 */
export function checkLink(id: string, to: string, auth: LinkAuth): Promise<void> {
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

