#!/usr/bin/env node
// A token holder's Prepare, as a hostile migration client would send it: a well-formed
// request for a small VM (this host's QEMU build, accelerator, guest kernel) with the
// given share_paths and config.json mounts (and, for carried binds, their kinds and a
// carry disk). Prints "prepared <reply JSON>" (then aborts the incoming VM, so nothing
// is left) or "refused: <message>" and exits 1.
// PROTOCOL_VERSION=N sends that version instead of this runx's own (an older peer);
// AGENT_PROTOCOL=N names that guest agent protocol (default: none, as an older source).
// Usage: hostile-prepare.mjs ADDR TOKEN_FILE ID SHARE_PATHS_JSON [MOUNTS_JSON [KINDS_JSON]]
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';

const require = createRequire(import.meta.url);
const dist = new URL('../../dist/', import.meta.url).pathname;
const { MIGRATION_PROTOCOL_VERSION, migrationPackage } = require(`${dist}migrate/proto.js`);
const { clientCredentials } = require(`${dist}migrate/auth.js`);
const { qemuBinary, qemuBuild } = require(`${dist}xcontainer/vm/qemu-build.js`);
const { chooseAccel } = require(`${dist}xcontainer/vm/accel.js`);
const { findGuestAssets } = require(`${dist}xcontainer/vm/guest-assets.js`);
const { defaultSpec } = require(`${dist}bundle/default-spec.js`);

const [addr, tokenFile, id, sharePaths, mounts, kinds] = process.argv.slice(2);
const config = defaultSpec(false);
if (mounts) config.mounts = JSON.parse(mounts);
const assets = findGuestAssets();
const { Client } = migrationPackage();
const { creds, metadata, options } = clientCredentials({ tokenFile });
const client = new Client(addr, creds, options);
const call = (f) => new Promise((resolve, reject) => f((err, res) => (err ? reject(err) : resolve(res))));
const deadline = () => ({ deadline: Date.now() + 60_000 });
try {
  const reply = await call((cb) => client.Prepare({
    protocolVersion: Number(process.env.PROTOCOL_VERSION ?? MIGRATION_PROTOCOL_VERSION), containerId: id, qemuBuild: qemuBuild(qemuBinary()),
    accel: chooseAccel('auto').accel, cpu: 'max', memoryMib: 128, vcpus: 1, diskBytes: 16 * 1024 * 1024,
    configJson: JSON.stringify(config), kernel: fs.readFileSync(assets.kernel), initramfs: fs.readFileSync(assets.initramfs),
    sharePaths: JSON.parse(sharePaths), bundle: '/nonexistent', nic: null, netnsPath: '', instance: '',
    streamNonce: randomBytes(32), carriedKinds: kinds ? JSON.parse(kinds) : [], carryBytes: kinds ? 64 * 1024 * 1024 : 0,
    ...(process.env.AGENT_PROTOCOL ? { agentProtocol: Number(process.env.AGENT_PROTOCOL) } : {}),
  }, metadata, deadline(), cb));
  console.log(`prepared ${JSON.stringify(reply)}`);
  // The test and the destination share this machine: where the destination put the binds.
  if (process.env.DEST_ROOT) {
    const placed = JSON.parse(fs.readFileSync(`${process.env.DEST_ROOT}/${id}/config.json`, 'utf8')).mounts.filter((m) => m.type === 'bind').map((m) => m.source);
    console.log(`binds at ${JSON.stringify(placed)}`);
  }
  await call((cb) => client.Abort({ containerId: id, reason: 'test' }, metadata, deadline(), cb)).catch(() => undefined);
  process.exitCode = 0;
} catch (err) {
  console.log(`refused: ${err.details ?? err.message}`);
  process.exitCode = 1;
} finally {
  client.close();
}
