#!/usr/bin/env node
// Talks to a real guest agent with no keeper in between, for what the CLI cannot show:
// what a request the agent refuses leaves behind in the VM, where the keeper would end
// the VM at once. Boots a VM (cold, real QEMU, runx's kernel and initramfs) with the
// bundle's root disk, in WORKDIR, through runx's own dist/ modules; then sends the
// steps read as JSON from stdin, one line of JSON out per step, and ends the VM.
// A step: {"request": NAME, "fields": [[k, v]...], "base": true} (base: the bundle's
// `create` fields first), or {"output": true}: the container's stdout until its exit.
// Usage: agent-session.mjs BUNDLE WORKDIR < steps.json
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dist = (m) => require(`../../dist/${m}.js`);
const { loadBundle } = dist('bundle/load-bundle');
const { planMounts } = dist('bundle/mount-plan');
const { guestCreateFields } = dist('bundle/guest-plan');
const { buildRootfsImage } = dist('bundle/rootfs-image');
const { findGuestAssets } = dist('xcontainer/vm/guest-assets');
const { qemuBinary, qemuBuild } = dist('xcontainer/vm/qemu-build');
const { chooseAccel } = dist('xcontainer/vm/accel');
const { ROOT_DISK, shapeFromResources } = dist('xcontainer/vm/qemu-argv');
const { bootVm } = dist('xcontainer/vm/vm-boot');

const [bundleDir, work] = process.argv.slice(2);
if (!bundleDir || !work) {
  console.error('usage: agent-session.mjs BUNDLE WORKDIR < steps.json');
  process.exit(2);
}
const steps = JSON.parse(fs.readFileSync(0, 'utf8'));
const bundle = loadBundle(bundleDir);
const plan = planMounts(bundle.config.mounts ?? [], bundle.dir);
fs.mkdirSync(work, { recursive: true });
buildRootfsImage(bundle.rootfs, path.join(work, ROOT_DISK));
const assets = findGuestAssets();
const qemu = {
  accel: chooseAccel('auto').accel, qemuBuild: qemuBuild(qemuBinary()), kernel: assets.kernel, initramfs: assets.initramfs,
  shape: shapeFromResources(bundle.config.linux?.resources, os.cpus().length), shares: plan.shares,
};
const vm = await bootVm(work, qemuBinary(), qemu, { kind: 'cold' }, Number(process.env.RUNX_BOOT_TIMEOUT_MS) || 60_000);
const out = [];
let exited;
vm.agent.on('stdout', (b) => out.push(b));
const exit = new Promise((resolve) => vm.agent.on('exit', (e) => { exited = e; resolve(e); }));
try {
  for (const step of steps) {
    if (step.output) {
      // Bounded: a container that never exits fails the step, not the test run.
      const e = await Promise.race([exit, new Promise((r) => setTimeout(() => r(undefined), 30_000))]);
      console.log(JSON.stringify({ output: Buffer.concat(out).toString(), exit: e ?? exited ?? null }));
      continue;
    }
    const fields = [...(step.base ? guestCreateFields(bundle.config, plan) : []), ...(step.fields ?? [])];
    try {
      const reply = await vm.agent.request(step.request, fields);
      console.log(JSON.stringify({ request: step.request, reply: reply.name, fields: Object.fromEntries(reply.fields) }));
    } catch (err) {
      console.log(JSON.stringify({ request: step.request, error: err.message }));
    }
  }
} finally {
  vm.child.kill('SIGKILL');
  await new Promise((r) => (vm.child.exitCode !== null || vm.child.signalCode !== null ? r() : vm.child.once('exit', r)));
  vm.agent.close();
  vm.qmp.close();
}
process.exit(0);
