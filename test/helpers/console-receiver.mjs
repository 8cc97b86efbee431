#!/usr/bin/env node
// Stands in for containerd's shim on the other end of --console-socket: listens at
// SOCKET, receives the pty master runx sends (SCM_RIGHTS), optionally sets its window
// size and types INPUT into it, then copies everything the terminal prints to stdout
// until the terminal closes (EIO) or --timeout seconds pass.
// Usage: console-receiver.mjs SOCKET [--rows N --cols N] [--input TEXT] [--resize-after S:RxC] [--timeout S]
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const native = require('../../native/build/runx_native.node');

const argv = process.argv.slice(2);
const socket = argv.shift();
const opt = (name) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined; };
if (!socket) { console.error('usage: console-receiver.mjs SOCKET [options]'); process.exit(2); }
const timeout = Number(opt('timeout') ?? 60);
const killer = setTimeout(() => { console.error('console-receiver: timed out'); process.exit(3); }, timeout * 1000);

const master = native.receiveFd(socket);
fs.rmSync(socket, { force: true });
if (opt('rows')) native.setWinsize(master, Number(opt('rows')), Number(opt('cols')));
const input = opt('input');
if (input !== undefined) setTimeout(() => fs.writeSync(master, input.replace(/\\n/g, '\n').replace(/\\x03/g, '\x03')), Number(opt('input-delay') ?? 0) * 1000);
const resize = opt('resize-after');
if (resize) {
  const [secs, size] = resize.split(':');
  const [rows, cols] = size.split('x').map(Number);
  setTimeout(() => native.setWinsize(master, rows, cols), Number(secs) * 1000);
}

const buf = Buffer.alloc(65536);
const pump = () => {
  fs.read(master, buf, 0, buf.length, null, (err, n) => {
    if (err || n === 0) {
      clearTimeout(killer);
      fs.closeSync(master);
      return; // EIO: every slave is closed
    }
    process.stdout.write(buf.subarray(0, n));
    pump();
  });
};
pump();
