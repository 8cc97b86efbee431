// keeper.sock end to end on a real unix socket: the CLI's typed client against the
// keeper's control server (over a fake VM session), and against fake keepers that
// speak another protocol, refuse with a code, or send progress lines.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunxError } from '../../../../src/errors';
import { askKeeper, callKeeper } from '../../../../src/xcontainer/keeper/keeper-client';
import { serveControl } from '../../../../src/xcontainer/keeper/keeper-control';
import { KEEPER_PROTOCOL } from '../../../../src/xcontainer/keeper/protocol';
import { FakeCore } from './fake-core';

let dir: string;
let sock: string;
const servers: net.Server[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-keeper-client-'));
  sock = path.join(dir, 'keeper.sock');
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fake keeper that answers every request line with `lines` (each written separately, split mid-way). */
async function fakeKeeper(lines: unknown[], seen: unknown[] = []): Promise<void> {
  const server = net.createServer((s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('\n')) return;
      seen.push(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
      const wire = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
      const half = Math.floor(wire.length / 2);
      s.write(wire.slice(0, half));
      setTimeout(() => s.end(wire.slice(half)), 5);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(sock, r));
}

async function rejection(p: Promise<unknown>): Promise<RunxError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RunxError);
    return err as RunxError;
  }
  throw new Error('did not reject');
}

describe('keeper client and control server', () => {
  it('ping through the real control server returns the protocol and runx version', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    const server = await serveControl(sock, core, (s) => s.destroy());
    servers.push(server);
    expect(await callKeeper(sock, 'ping', {})).toEqual({ protocol: KEEPER_PROTOCOL, runx: expect.any(String) });
    expect(await callKeeper(sock, 'ps', {})).toEqual(['1:0:0:S:sh', '7:1:0:R:ps']);
  });

  it('a refusal keeps its code: the table\'s ESTATE, not a relabelled one', async () => {
    const core = new FakeCore({ phase: 'paused', started: true });
    const server = await serveControl(sock, core, (s) => s.destroy());
    servers.push(server);
    const err = await rejection(callKeeper(sock, 'exec', { fields: [['arg', 'true']] }));
    expect([err.code, err.message]).toEqual(['ESTATE', 'cannot exec in a paused container']);
    const bad = await rejection(callKeeper(sock, 'cancel-migration', {}));
    expect(bad.message).toBe('no migration of the container is in progress');
  });

  it('an agent error comes back as EAGENT', async () => {
    await fakeKeeper([{ ok: false, protocol: KEEPER_PROTOCOL, code: 'EAGENT', error: 'kill: no such process' }]);
    const err = await rejection(callKeeper(sock, 'kill', { signal: 9, all: false }));
    expect([err.code, err.message]).toEqual(['EAGENT', 'kill: no such process']);
  });

  it('a keeper of another protocol is a one-line EPROTO error', async () => {
    await fakeKeeper([{ ok: true, protocol: KEEPER_PROTOCOL + 1 }]);
    const err = await rejection(callKeeper(sock, 'start', {}));
    expect(err.code).toBe('EPROTO');
    expect(err.message).toMatch(new RegExp(`^keeper speaks protocol ${KEEPER_PROTOCOL + 1}, this runx speaks ${KEEPER_PROTOCOL}: [^\\n]+$`));
  });

  it('a keeper from before versioning (no protocol in its reply) speaks protocol 0', async () => {
    await fakeKeeper([{ ok: true }]);
    const err = await rejection(callKeeper(sock, 'ping', {}));
    expect(err.message).toMatch(/^keeper speaks protocol 0, this runx speaks 1:/);
  });

  it('the keeper refuses a request of another protocol, or a malformed one, doing nothing', async () => {
    const core = new FakeCore({ phase: 'running', started: true });
    const server = await serveControl(sock, core, (s) => s.destroy());
    servers.push(server);
    const raw = (line: string) => new Promise<unknown>((resolve) => {
      const c = net.connect(sock, () => c.write(`${line}\n`));
      let text = '';
      c.on('data', (d) => { text += d.toString(); });
      c.on('close', () => resolve(JSON.parse(text)));
    });
    expect(await raw(JSON.stringify({ op: 'pause', protocol: 7 }))).toEqual({ ok: false, protocol: KEEPER_PROTOCOL, code: 'EPROTO', error: expect.stringMatching(/^keeper speaks protocol 1, this runx speaks 7: /) });
    expect(await raw(JSON.stringify({ op: 'pause' }))).toMatchObject({ code: 'EPROTO', error: expect.stringMatching(/this runx speaks 0/) });
    expect(await raw(JSON.stringify({ op: 'kill', protocol: KEEPER_PROTOCOL, signal: 'TERM' }))).toEqual({
      ok: false, protocol: KEEPER_PROTOCOL, code: 'EUSAGE', error: 'malformed keeper request: kill.signal is not a uint; kill.all is required',
    });
    expect(await raw('{nope')).toMatchObject({ code: 'EUSAGE', error: 'malformed keeper request (not JSON)' });
    expect(core.calls).toEqual([]);
    expect(core.machine.phase).toBe('running');
  });

  it('progress lines reach the caller before the reply', async () => {
    const seen: unknown[] = [];
    await fakeKeeper([{ progress: { phase: 'disk', transferred: 1, remaining: 2 } }, { progress: { phase: 'memory', transferred: 3, remaining: 0 } },
      { ok: true, protocol: KEEPER_PROTOCOL, result: { totalTimeMs: 1, downtimeMs: 0, ramBytes: 0, diskBytes: 0, cpuThrottlePercent: 0, dirtySyncCount: 1 } }], seen);
    const progress: unknown[] = [];
    const result = await callKeeper(sock, 'migrate', { send: { nbdUri: 'nbd://h:1/root', migrateUri: 'tcp:h:2' } }, { onProgress: (p) => progress.push(p) });
    expect(result.dirtySyncCount).toBe(1);
    expect(progress).toEqual([{ phase: 'disk', transferred: 1, remaining: 2 }, { phase: 'memory', transferred: 3, remaining: 0 }]);
    expect(seen).toEqual([{ op: 'migrate', protocol: KEEPER_PROTOCOL, send: { nbdUri: 'nbd://h:1/root', migrateUri: 'tcp:h:2' } }]);
  });

  it('a reply that breaks keeper.json is an internal error, not a result', async () => {
    await fakeKeeper([{ ok: true, protocol: KEEPER_PROTOCOL, result: 'not a list' }]);
    const err = await rejection(callKeeper(sock, 'ps', {}));
    expect(err.code).toBe('EINTERNAL');
    expect(err.message).toContain('violates docs/protocol/keeper.json');
  });

  it('no keeper, or one that closes without a word, is ESTATE; a request the schema refuses is never sent', async () => {
    expect((await rejection(askKeeper(sock, { op: 'ping' }))).message).toMatch(/^cannot reach the container's keeper/);
    await fakeKeeper([]);
    expect((await rejection(askKeeper(sock, { op: 'ping' }))).message).toBe('the container\'s keeper closed the connection without answering');
    const seen: unknown[] = [];
    const err = await rejection(callKeeper(sock, 'resize', { rows: -1, cols: 80 }));
    expect(err.code).toBe('EINTERNAL');
    expect(seen).toEqual([]);
  });
});
