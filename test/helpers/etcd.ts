// A real etcd for tests: Debian's etcd-server on loopback only, its own data dir
// under a fresh temp dir, stopped by its pid and the dir removed. Start waits at most
// 30 s for /health; stop waits at most 5 s before SIGKILL.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port';

export function etcdBinary(): string | undefined {
  try { return execFileSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).trim() || undefined; } catch { return undefined; }
}

export interface TestEtcd { url: string; dir: string; proc: ChildProcess; stop(): Promise<void> }

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

export async function startEtcd(bin: string): Promise<TestEtcd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const log = path.join(dir, 'etcd.log');
  const out = fs.openSync(log, 'w');
  const proc = spawn(bin, [
    '--name', 'default', '--data-dir', path.join(dir, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `default=${peerUrl}`, '--initial-cluster-state', 'new',
  ], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const stop = async () => {
    if (alive(proc)) {
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      process.kill(proc.pid!, 'SIGTERM');
      const t = setTimeout(() => { if (alive(proc)) process.kill(proc.pid!, 'SIGKILL'); }, 5000);
      await gone;
      clearTimeout(t);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const end = Date.now() + 30_000;
  for (;;) {
    if (!alive(proc)) { const tail = fs.readFileSync(log, 'utf8').slice(-2000); await stop(); throw new Error(`etcd exited: ${tail}`); }
    const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) }).then(async (r) => r.status === 200 && /"health":\s*"true"/.test(await r.text())).catch(() => false);
    if (ok) break;
    if (Date.now() > end) { const tail = fs.readFileSync(log, 'utf8').slice(-2000); await stop(); throw new Error(`etcd not healthy in 30 s: ${tail}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, dir, proc, stop };
}
