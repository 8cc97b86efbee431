#!/usr/bin/env node
// Makes an OCI bundle for tests and demos: a busybox rootfs (Debian's busybox-static)
// and runc's default config.json with the given process args, terminal off and a
// writable root. `--set a.b.c=JSON` edits any config field (JSON, or a plain string).
// Usage: make-bundle.mjs DIR [--set path=value]... [-- ARG...]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { defaultSpec } = require('../../dist/bundle/default-spec.js');

const argv = process.argv.slice(2);
const dir = argv.shift();
if (!dir) { console.error('usage: make-bundle.mjs DIR [--set path=value]... [-- ARG...]'); process.exit(2); }
const sets = [];
let args = ['sh'];
while (argv.length) {
  const a = argv.shift();
  if (a === '--set') sets.push(argv.shift());
  else if (a === '--') { args = argv.splice(0); }
  else { console.error(`make-bundle: unknown argument ${a}`); process.exit(2); }
}

const rootfs = path.join(dir, 'rootfs');
fs.rmSync(rootfs, { recursive: true, force: true });
for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'home']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
  if (applet !== 'busybox') fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
}
fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');

const config = defaultSpec(false);
config.process.terminal = false;
config.process.args = args;
config.root.readonly = false;
for (const s of sets) {
  const eq = s.indexOf('=');
  const keys = s.slice(0, eq).split('.');
  let value = s.slice(eq + 1);
  try { value = JSON.parse(value); } catch { /* a plain string */ }
  let o = config;
  for (const k of keys.slice(0, -1)) o = (o[k] ??= {});
  if (value === null) delete o[keys.at(-1)]; else o[keys.at(-1)] = value;
}
fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
