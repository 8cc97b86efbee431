// The migration channel's keys: the certificate a token stands for (token-tls.ts), the
// streams' pre-shared key (stream-tls.ts), the constant-time token check (auth.ts), and
// the key directory the destination keeper reads (tls-creds.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { sameSecret } from '../../../src/migrate/auth';
import { newNonce, newStreamSecret, streamKey } from '../../../src/migrate/stream-tls';
import { tokenIdentity } from '../../../src/migrate/token-tls';
import { readPskDir, writePskDir } from '../../../src/xcontainer/vm/tls-creds';

describe('the certificate a token stands for', () => {
  it('is the same from the same token, self-signed, and another for another token', () => {
    const a = tokenIdentity('t0ken-1');
    const x = new crypto.X509Certificate(a.cert);
    expect(x.subject).toBe('CN=runx-migration');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(crypto.createPrivateKey(a.key))).toBe(true);
    expect(tokenIdentity('t0ken-1').cert.equals(a.cert)).toBe(true);
    expect(tokenIdentity('t0ken-2').cert.equals(a.cert)).toBe(false);
  });

  it('lets a TLS peer with the same token in, and not one with another token', async () => {
    const a = tokenIdentity('t0ken-1');
    const server = tls.createServer({ key: a.key, cert: a.cert, ca: a.cert, requestCert: true, rejectUnauthorized: true }, (s) => s.end('in'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const talk = (token: string) => new Promise<string>((resolve) => {
      const id = tokenIdentity(token);
      const s = tls.connect({ port, host: '127.0.0.1', key: id.key, cert: id.cert, ca: a.cert, checkServerIdentity: () => undefined });
      let got = '';
      s.on('data', (b: Buffer) => { got += b.toString(); });
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
    });
    try {
      expect(await talk('t0ken-1')).toBe('in');
      expect(await talk('t0ken-2')).toBe('');
    } finally {
      server.close();
    }
  });
});

describe('the streams key', () => {
  it('is the same at both ends and differs with token, nonce, secret or container', () => {
    const s = newStreamSecret();
    const nonce = newNonce();
    const k = streamKey('tok', s, nonce, 'c1');
    expect(k.identity).toBe(s.identity);
    expect(k.keyHex).toMatch(/^[0-9a-f]{64}$/);
    expect(streamKey('tok', s, nonce, 'c1')).toEqual(k);
    expect(streamKey('tok2', s, nonce, 'c1').keyHex).not.toBe(k.keyHex);
    expect(streamKey('tok', s, newNonce(), 'c1').keyHex).not.toBe(k.keyHex);
    expect(streamKey('tok', newStreamSecret(), nonce, 'c1').keyHex).not.toBe(k.keyHex);
    expect(streamKey('tok', s, nonce, 'c2').keyHex).not.toBe(k.keyHex);
    expect(streamKey(undefined, s, nonce, 'c1').keyHex).not.toBe(k.keyHex);
  });

  it('is refused to a peer that sends no nonce, or offers no key', () => {
    expect(() => streamKey('tok', newStreamSecret(), Buffer.alloc(0), 'c1')).toThrow(/sent no stream nonce/);
    expect(() => streamKey('tok', { identity: '', secret: Buffer.alloc(0) }, newNonce(), 'c1')).toThrow(/offered no stream key/);
  });

  it('goes into a 0700 directory as a 0600 keys.psk holding only its identity', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'runx-psk-')), 'tls');
    try {
      const k = streamKey('tok', newStreamSecret(), newNonce(), 'c1');
      writePskDir(dir, k);
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      expect(fs.statSync(path.join(dir, 'keys.psk')).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(path.join(dir, 'keys.psk'), 'utf8')).toBe(`${k.identity}:${k.keyHex}\n`);
      expect(readPskDir(dir)).toEqual(k);
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});

describe('the token check', () => {
  it('accepts only the same string, whatever the lengths', () => {
    expect(sameSecret('Bearer abc', 'Bearer abc')).toBe(true);
    expect(sameSecret('Bearer abd', 'Bearer abc')).toBe(false);
    expect(sameSecret('Bearer ab', 'Bearer abc')).toBe(false);
    expect(sameSecret('', 'Bearer abc')).toBe(false);
  });
});

describe('the streams tunnel', () => {
  it('relays for the key it was made with, and for no other key or identity', async () => {
    const { tunnelConnect, tunnelServer } = await import('../../../src/xcontainer/vm/stream-tunnel');
    const psk = streamKey('tok', newStreamSecret(), newNonce(), 'c1');
    const server = tunnelServer(psk, (s) => s.end('in'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const talk = (k: typeof psk) => new Promise<string>((resolve) => {
      const s = tunnelConnect({ host: '127.0.0.1', port }, k);
      let got = '';
      s.on('data', (b: Buffer) => { got += b.toString(); });
      s.on('end', () => s.end()); // half-open: our side ends when we choose
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
    });
    try {
      expect(await talk(psk)).toBe('in');
      expect(await talk({ ...psk, keyHex: 'ab'.repeat(32) })).toBe('');
      expect(await talk({ ...psk, identity: 'runx-000000000000000000000000' })).toBe('');
    } finally {
      server.close();
    }
  });
});
