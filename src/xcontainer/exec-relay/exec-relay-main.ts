// Process entry of a detached exec's relay (`runx exec --detach`): spawned as
// `node exec-relay-main.js` with the exec'd process's stdio as its own and a pipe on
// fd 3, it reads the request there, answers {"ok":true,"pid":<guest pid>} (or why
// not) once the process runs, and then lives until the process ends, exiting with
// its status. Kept apart from the CLI so it loads no argument parser.
import fs from 'node:fs';
import { messageOf } from '../../errors';
import { ExecRelay, type ExecRelayRequest } from './exec-relay';

const CONTROL_FD = 3;

function readRequest(): ExecRelayRequest {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    const n = fs.readSync(CONTROL_FD, buf);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    if (buf.subarray(0, n).includes(0x0a)) break;
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExecRelayRequest;
}

function answer(reply: object): void {
  try {
    fs.writeSync(CONTROL_FD, `${JSON.stringify(reply)}\n`);
    fs.closeSync(CONTROL_FD);
  } catch { /* exec went away; nothing to tell */ }
}

async function main(): Promise<void> {
  const relay = await ExecRelay.start(readRequest());
  process.title = 'runx exec relay';
  answer({ ok: true, pid: relay.pid });
  process.exit(await relay.done);
}

main().catch((err) => {
  answer({ ok: false, error: messageOf(err) });
  process.exit(1);
});
