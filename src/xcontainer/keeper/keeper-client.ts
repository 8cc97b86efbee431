// The CLI's side of keeper.sock: one JSON request, one JSON reply.
import net from 'node:net';
import { RunxError } from '../../errors';
import { JsonLineReader } from '../wire/json-lines';
import { socketPath as shortPath } from '../state/socket-path';
import type { KeeperReply, KeeperRequest } from './keeper-launch';

export function askKeeper(socketPath: string, req: KeeperRequest, timeoutMs = 30_000, onProgress?: (p: unknown) => void): Promise<KeeperReply> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(shortPath(socketPath));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new RunxError('ESTATE', `the container's keeper did not answer "${req.op}" within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const reader = new JsonLineReader((v) => {
      if (v && typeof v === 'object' && 'progress' in v) onProgress?.((v as { progress: unknown }).progress);
      else finish(() => resolve(v as KeeperReply));
    }, () => undefined);
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d) => reader.push(d));
    sock.on('error', (err) => finish(() => reject(new RunxError('ESTATE', `cannot reach the container's keeper: ${err.message}`, { cause: err }))));
    sock.on('close', () => finish(() => reject(new RunxError('ESTATE', 'the container\'s keeper closed the connection without answering'))));
  });
}
