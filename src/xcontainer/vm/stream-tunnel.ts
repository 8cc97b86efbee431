// The TLS tunnel that carries a migration's two QEMU streams (memory, and the disk
// mirror's NBD) between the source and destination keepers: TLS 1.2 with the
// migration's pre-shared key (ECDHE-PSK-CHACHA20-POLY1305: an ephemeral ECDH
// exchange authenticated by the key, so forward secret, and an AEAD cipher). The
// destination's server knows one identity and its key and nothing else, so a peer
// without them fails the handshake before any byte reaches QEMU. QEMU itself speaks
// plain over unix sockets in its state directory to its own keeper.
//
// Why not QEMU's own TLS (tls-creds-psk on migrate and nbd-server-start): QEMU 7.2
// sends each RAM page as its own iovec and its TLS channel makes one TLS record and
// one sendmsg of each. bench/lib/tls-cost.mjs (256 MiB of random RAM on loopback,
// medians of 5, alternated): plain 151 MiB/s, QEMU's TLS 24 MiB/s (0.16x), this
// tunnel 204 MiB/s (1.35x: its relays buffer between the two QEMUs; on a loaded host).
import type net from 'node:net';
import tls from 'node:tls';
import { log } from '../../log';
import type { PskCreds } from './tls-creds';

/** How long a peer may take to complete the handshake. */
const HANDSHAKE_TIMEOUT_MS = 5_000;
const OPTIONS = { ciphers: 'ECDHE-PSK-CHACHA20-POLY1305', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;

/** Destination: a TLS server taking only this key's identity; `onSecure` gets each authenticated connection. */
export function tunnelServer(psk: PskCreds, onSecure: (s: net.Socket) => void): tls.Server {
  const key = Buffer.from(psk.keyHex, 'hex');
  // A client that waits for the server to speak first (an NBD client does) would
  // otherwise hold its connection for Node's default 120 s.
  const server = tls.createServer({ ...OPTIONS, allowHalfOpen: true, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, pskCallback: (_s, identity) => (identity === psk.identity ? key : null) }, onSecure);
  // With a listener here, Node leaves the socket open: end it.
  server.on('tlsClientError', (err, s) => {
    // debug: without --log, a keeper logs to the container's stderr, which is not the place
    log().debug(`migration tunnel: refused ${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}: ${err.message}`);
    s.destroy();
  });
  return server;
}

/** Source: a TLS connection to the destination's tunnel with this key. */
export function tunnelConnect(target: { host: string; port: number }, psk: PskCreds): net.Socket {
  const key = Buffer.from(psk.keyHex, 'hex');
  // allowHalfOpen reaches the TLSSocket (QEMU half-closes), though ConnectionOptions does not list it.
  const options: tls.ConnectionOptions & { allowHalfOpen: boolean } = { ...OPTIONS, ...target, allowHalfOpen: true, pskCallback: () => ({ psk: key, identity: psk.identity }), checkServerIdentity: () => undefined };
  return tls.connect(options);
}
