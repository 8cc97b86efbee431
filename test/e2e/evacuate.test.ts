// End to end: a spot daemon on host A sees an AWS spot interruption notice from a fake
// IMDSv2 (the documented format, on loopback) and live-migrates every container it
// manages to peer B (`runx serve`), where they keep running; A's keepers stand in.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAws } from '../unit/spot/fake-metadata';
import { freePort } from '../helpers/free-port';
import { runxBin } from '../helpers/runx-bin';

const repo = path.resolve(__dirname, '../..');
const runx = runxBin(repo);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-evac-'));
const rootA = path.join(tmp, 'A');
const rootB = path.join(tmp, 'B');
const token = path.join(tmp, 'token');
const children: ChildProcess[] = [];
let aws: FakeAws;

function state(root: string, id: string): { status: string; annotations?: Record<string, string> } | undefined {
  try {
    return JSON.parse(execFileSync(runx, ['--root', root, 'state', id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return undefined;
  }
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('spot evacuation', () => {
  const ids = ['e1', 'e2'];

  beforeAll(async () => {
    fs.writeFileSync(token, `tok-${process.pid}\n`);
    aws = await new FakeAws().listen();
    const portA = await freePort();
    const portB = await freePort();
    const serve = spawn(runx, ['--root', rootB, 'serve', '--listen', `127.0.0.1:${portB}`, '--token-file', token], { stdio: 'ignore' });
    children.push(serve);
    const bundle = path.join(tmp, 'bundle');
    execFileSync('node', [path.join(repo, 'test/helpers/make-bundle.mjs'), bundle, '--', 'sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done']);
    for (const id of ids) {
      const out = fs.openSync(path.join(tmp, `${id}.out`), 'w');
      execFileSync(runx, ['--root', rootA, 'create', '--bundle', bundle, id], { stdio: ['ignore', out, out] });
      execFileSync(runx, ['--root', rootA, 'start', id]);
    }
    const config = {
      listen: `127.0.0.1:${portA}`, tokenFile: token, root: rootA,
      provider: { kind: 'aws', endpoint: aws.url, pollSeconds: 1, requestTimeoutSeconds: 2 },
      market: 'spot', price: 0.03,
      peers: [{ name: 'B', address: `127.0.0.1:${portB}`, market: 'on-demand', price: 0.096, tokenFile: token }],
    };
    fs.writeFileSync(path.join(tmp, 'daemon.json'), JSON.stringify(config));
    const daemon = spawn(runx, ['--log', path.join(tmp, 'daemon.log'), 'daemon', '--config', path.join(tmp, 'daemon.json')], { stdio: 'ignore' });
    children.push(daemon);
    await until('the daemon polling the metadata server', () => aws.requests.some((r) => r.url.includes('instance-action')), 20_000);
  }, 60_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const root of [rootA, rootB]) {
      for (const id of ids) {
        try {
          execFileSync(runx, ['--root', root, 'delete', '--force', id], { stdio: 'ignore' });
        } catch { /* not there */ }
      }
    }
    await new Promise<void>((r) => aws.server.close(() => r()));
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('moves every container to the peer before the deadline, and they keep running', async () => {
    const noticeAt = Date.now();
    aws.instanceAction = { action: 'terminate', time: new Date(noticeAt + 120_000).toISOString().replace(/\.\d+Z$/, 'Z') };
    await until('both containers running on B', () => ids.every((id) => state(rootB, id)?.status === 'running'), 100_000);
    expect(Date.now() - noticeAt).toBeLessThan(120_000);
    for (const id of ids) {
      const a = state(rootA, id);
      expect(a?.status).toBe('running');
      expect(a?.annotations?.['io.runx.migrated-to']).toMatch(/^127\.0\.0\.1:\d+$/);
      // the counter goes on, with no gap, through A's stand-in
      const lines = () => fs.readFileSync(path.join(tmp, `${id}.out`), 'utf8').trim().split('\n');
      const before = lines().length;
      await until(`${id} output continuing`, () => lines().length > before + 3, 20_000);
      lines().forEach((l, i) => expect(l).toBe(String(i + 1)));
    }
  }, 120_000);
});
