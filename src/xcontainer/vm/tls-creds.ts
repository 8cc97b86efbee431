// QEMU's TLS credentials for the migration streams (tls-creds-psk): the key directory
// (keys.psk, 0600, in a 0700 directory of the keeper's state directory) and the QMP
// object that loads it. A client QEMU reads its key when the object is made, so the
// source's directory goes at once; a server reads keys.psk at each handshake, so the
// destination's stays until the VM runs or is abandoned. The server directory also
// holds RFC 7919's ffdhe2048 group as dh-params.pem: without it QEMU generates DH
// parameters, which took 600 ms here.
import fs from 'node:fs';
import path from 'node:path';
import type { QmpClient } from './qmp-client';

/** The pre-shared key of one migration: identity (no ':') and 32 bytes in hex. */
export interface PskCreds {
  identity: string;
  keyHex: string;
}

/** The QOM id of the streams' credentials, in either QEMU. */
export const TLS_CREDS_ID = 'runx-migration-tls';

const FFDHE2048 = `-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
`;

/** Makes `dir` afresh (0700) with keys.psk (0600) holding only this identity and key. */
export function writePskDir(dir: string, psk: PskCreds, server: boolean): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'keys.psk'), `${psk.identity}:${psk.keyHex}\n`, { mode: 0o600, flag: 'wx' });
  if (server) fs.writeFileSync(path.join(dir, 'dh-params.pem'), FFDHE2048, { mode: 0o600, flag: 'wx' });
}

export function removePskDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Loads the credentials into QEMU (as TLS_CREDS_ID); the client side needs its identity. */
export async function addPskCreds(qmp: QmpClient, dir: string, endpoint: 'server' | 'client', identity?: string): Promise<void> {
  await qmp.execute('object-del', { id: TLS_CREDS_ID }).catch(() => undefined);
  await qmp.execute('object-add', { 'qom-type': 'tls-creds-psk', id: TLS_CREDS_ID, endpoint, dir: path.resolve(dir), ...(identity ? { username: identity } : {}) });
}

/**
 * Takes TLS off QEMU's migration again (a later checkpoint migrates to a file, which
 * must not be TLS) and drops the credentials. Best effort: used on every way out.
 */
export async function dropTlsCreds(qmp: QmpClient): Promise<void> {
  await qmp.execute('migrate-set-parameters', { 'tls-creds': '', 'tls-hostname': '' }).catch(() => undefined);
  await qmp.execute('object-del', { id: TLS_CREDS_ID }).catch(() => undefined);
}
