// The VM state model: the immutable spec, the mutable state the keeper writes (each
// device's toState/fromState), their round trip through JSON, and what is derived from
// them: the checkpoint manifest's VM part, the migration Prepare request's, the
// template key. Also the agent protocol check, for a saved state and for `hello`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { manifestVmOf } from '../../../../src/checkpoint/manifest';
import { prepareVmOf } from '../../../../src/migrate/prepare-request';
import { PROTOCOL_VERSION } from '../../../../src/xcontainer/agent/agent-frames';
import { controlMessage } from '../../../../src/xcontainer/agent/agent-messages';
import type { GuestNetwork } from '../../../../src/xcontainer/devices/net/config';
import { netFromState, netIdentity, netToState } from '../../../../src/xcontainer/devices/net/persist';
import { sharesFromState, sharesToState } from '../../../../src/xcontainer/devices/share/persist';
import { LAUNCH_FILE, type KeeperLaunch } from '../../../../src/xcontainer/keeper/keeper-launch';
import { writeLaunch, writeLaunchFile } from '../../../../src/xcontainer/keeper/keeper-spawn';
import { templateInputsOf, templateKey } from '../../../../src/xcontainer/template/template';
import { checkHello } from '../../../../src/xcontainer/vm/vm-boot';
import { type VmSpec, VM_SPEC_FILE, cpuModelOf, deriveVmSpec, readVmSpec, writeVmSpec } from '../../../../src/xcontainer/vm/vm-spec';
import { DEVICE_PARTS } from '../../../../src/xcontainer/devices';
import { VM_STATE_RECORD, type VmState, devicesOf, readVm, saveVmState, vmFromState, vmStateOf } from '../../../../src/xcontainer/vm/vm-state';

const temps: string[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true });
});
const tmp = () => {
  const t = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-vm-state-test-'));
  temps.push(t);
  return t;
};

const NET: GuestNetwork = { netnsPath: '/run/netns/a', hostIf: 'eth0', tap: 'tap0_runx', mac: '02:00:00:00:00:07', cidr: '10.0.0.2/24', gateway: '10.0.0.1', mtu: 1400 };
const SHARES = [{ tag: 'runx0', hostPath: '/srv/data', readonly: true }];

function launchIn(dir: string, over: Partial<KeeperLaunch> = {}): KeeperLaunch {
  return {
    id: 'c1', root: path.dirname(dir), qemuBinary: '/usr/bin/qemu-system-x86_64',
    qemu: { accel: 'tcg', qemuBuild: 'QEMU emulator version 7.2.22', kernel: path.join(dir, 'bzImage'), initramfs: path.join(dir, 'initramfs.cpio'), shape: { memoryMiB: 256, vcpus: 2 }, shares: SHARES, network: NET },
    agentCreate: [], bootTimeoutMs: 30_000, log: { format: 'text', debug: false },
    ...over,
  };
}

const BUILD = 'QEMU emulator version 7.2.0 (test)';
const specOf = (l: KeeperLaunch): VmSpec => deriveVmSpec({ qemuBinary: l.qemuBinary, ...l.qemu }, BUILD);

describe('VM spec', () => {
  it('is derived once, with the CPU model of its accelerator, and written only once', () => {
    const dir = tmp();
    const spec = specOf(launchIn(dir));
    expect(spec).toMatchObject({ qemuBuild: BUILD, accel: 'tcg', cpu: 'max', machine: 'microvm,acpi=off,rtc=on', shape: { memoryMiB: 256, vcpus: 2 } });
    expect(cpuModelOf('kvm')).toBe('host');
    writeVmSpec(dir, spec);
    expect(readVmSpec(dir)).toEqual(spec);
    expect(() => writeVmSpec(dir, { ...spec, accel: 'kvm' })).toThrow(/EEXIST/);
    expect(readVmSpec(dir)?.accel).toBe('tcg');
  });
});

describe('VM state', () => {
  it('each device round-trips through plain JSON', () => {
    const net = netToState(NET)!;
    expect(netFromState(JSON.parse(JSON.stringify(net)))).toEqual(NET);
    expect(netIdentity(net)).toEqual({ mac: NET.mac, cidr: NET.cidr, gateway: NET.gateway, mtu: NET.mtu });
    expect(netToState(undefined)).toBeUndefined();
    expect(sharesFromState(JSON.parse(JSON.stringify(sharesToState(SHARES))))).toEqual(SHARES);
  });

  for (const [name, over] of [
    ['a boot', {}],
    ['a template start', { template: { stateFile: '/cache/t/vm.state', diskBytes: 1 << 20 } }],
    ['a restore', { restore: { stateFile: '/img/vm.state', status: 'running' as const } }],
    ['an incoming migration', { incoming: { host: '127.0.0.1', nbdPort: 1, migratePort: 2, relay: true } }],
  ] as Array<[string, Partial<KeeperLaunch>]>) {
    it(`of ${name} round-trips: state → JSON → what the launch had`, () => {
      const dir = tmp();
      fs.writeFileSync(path.join(dir, 'rootfs.ext4'), Buffer.alloc(4096));
      const launch = launchIn(dir, over);
      const state = JSON.parse(JSON.stringify(vmStateOf(dir, launch))) as VmState;
      expect(state.devices.block).toEqual({ file: 'rootfs.ext4', bytes: 4096 });
      expect(state.agent.protocol).toBe(PROTOCOL_VERSION);
      const back = vmFromState(state, 'test');
      expect(back).toEqual({ network: launch.qemu.network, shares: launch.qemu.shares,
        ...(over.restore ? { restore: over.restore } : {}), ...(over.template ? { template: over.template } : {}), ...(over.incoming ? { incoming: over.incoming } : {}) });
      expect(vmStateOf(dir, { ...launch, ...back, qemu: { ...launch.qemu, network: back.network, shares: back.shares } })).toEqual(state);
    });
  }

  it('holds exactly the registered devices (devices/index.ts), each saved by its own part', () => {
    const dir = tmp();
    const launch = launchIn(dir);
    const state = vmStateOf(dir, launch);
    expect(Object.keys(state.devices).sort()).toEqual(Object.keys(DEVICE_PARTS).sort());
    for (const [k, part] of Object.entries(DEVICE_PARTS)) {
      expect(state.devices[k as keyof typeof DEVICE_PARTS]).toEqual(part.save({ dir, qemu: launch.qemu }));
    }
  });

  it('refuses a saved state of another agent protocol, in one line', () => {
    const dir = tmp();
    const state = vmStateOf(dir, launchIn(dir));
    expect(() => vmFromState({ ...state, agent: { ...state.agent, protocol: PROTOCOL_VERSION + 1 } }, 'checkpoint image /img'))
      .toThrow(`checkpoint image /img: guest agent protocol ${PROTOCOL_VERSION + 1}, but this runx speaks protocol ${PROTOCOL_VERSION}`);
  });

  it('is the keeper\'s to write (vm-state.json, atomically); launch.json stays its starter\'s', () => {
    const dir = tmp();
    const launch = launchIn(dir);
    writeLaunchFile(dir, launch);
    const before = fs.readFileSync(path.join(dir, LAUNCH_FILE), 'utf8');
    // Before the keeper has written it, readers get the state the launch describes.
    expect(readVm(dir).state.devices.net).toEqual(netToState(NET));
    expect(readVm(dir).spec.qemuBinary).toBe(launch.qemuBinary);
    // The keeper releases the NIC (a VM that left for good) and saves.
    writeLaunch(dir, { ...launch, qemu: { ...launch.qemu, network: undefined } });
    expect(fs.readFileSync(path.join(dir, LAUNCH_FILE), 'utf8')).toBe(before);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readVm(dir).state.devices.net).toBeUndefined();
    // The disk file is the truth of its size.
    fs.writeFileSync(path.join(dir, 'rootfs.ext4'), Buffer.alloc(8192));
    expect(readVm(dir).state.devices.block.bytes).toBe(8192);
    saveVmState(dir, { ...readVm(dir).state, devices: { ...readVm(dir).state.devices, shares: [] } });
    expect(JSON.parse(fs.readFileSync(path.join(dir, VM_STATE_RECORD), 'utf8')).devices.shares).toEqual([]);
    expect(fs.existsSync(path.join(dir, VM_SPEC_FILE))).toBe(false);
  });
});

describe('derived from the VM model', () => {
  let cache: string;
  const savedCache = process.env.RUNX_CACHE_DIR;
  beforeAll(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-vm-state-cache-'));
    process.env.RUNX_CACHE_DIR = cache;
  });
  afterAll(() => {
    if (savedCache === undefined) delete process.env.RUNX_CACHE_DIR;
    else process.env.RUNX_CACHE_DIR = savedCache;
    fs.rmSync(cache, { recursive: true, force: true });
  });

  it('the checkpoint manifest\'s VM part', () => {
    const dir = tmp();
    const launch = launchIn(dir);
    expect(manifestVmOf(specOf(launch), vmStateOf(dir, launch))).toEqual({
      qemu: { build: BUILD, machine: 'microvm,acpi=off,rtc=on', cpu: 'max', accel: 'tcg' },
      shape: { memoryMiB: 256, vcpus: 2 }, agentProtocol: PROTOCOL_VERSION, shares: SHARES, network: { mac: NET.mac },
    });
  });

  it('the migration Prepare request\'s VM part', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'rootfs.ext4'), Buffer.alloc(12288));
    const launch = launchIn(dir, { qemu: { ...launchIn(dir).qemu, shares: [] } });
    expect(prepareVmOf(specOf(launch), vmStateOf(dir, launch))).toEqual({
      qemuBuild: BUILD, accel: 'tcg', cpu: 'max', memoryMib: 256, vcpus: 2, diskBytes: 12288, sharePaths: [], carryBytes: 0, carriedKinds: [], agentProtocol: PROTOCOL_VERSION,
      nic: { mac: NET.mac, cidr: NET.cidr, gateway: NET.gateway, mtu: NET.mtu, netnsPath: NET.netnsPath },
    });
  });

  it('the template key: the same model, the same key; another shape, accelerator or device set, another', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'bzImage'), 'kernel');
    fs.writeFileSync(path.join(dir, 'initramfs.cpio'), 'initramfs');
    const launch = launchIn(dir);
    const spec = specOf(launch);
    const state = vmStateOf(dir, launch);
    const key = (s: VmSpec, st: VmState) => templateKey(templateInputsOf(s, devicesOf(st)), s.qemuBuild);
    expect(devicesOf(state)).toEqual({ nic: true, shares: 1 });
    expect(key(spec, state)).toBe(key(specOf(launch), vmStateOf(dir, launch)));
    expect(key({ ...spec, shape: { memoryMiB: 512, vcpus: 2 } }, state)).not.toBe(key(spec, state));
    expect(key({ ...spec, accel: 'kvm' }, state)).not.toBe(key(spec, state));
    expect(key(spec, { ...state, devices: { ...state.devices, net: undefined } })).not.toBe(key(spec, state));
    expect(key({ ...spec, qemuBuild: 'QEMU 8' }, state)).not.toBe(key(spec, state));
    // a carry disk is a device of its own (a virtio-mmio slot after the shares)
    const carried = { ...state, devices: { ...state.devices, carry: { bytes: 1 << 20 } } };
    expect(devicesOf(carried)).toEqual({ nic: true, shares: 1, carry: true });
    expect(key(spec, carried)).not.toBe(key(spec, state));
  });
});

describe('agent hello', () => {
  it('must name this runx\'s agent protocol', () => {
    expect(() => checkHello(controlMessage('hello', { proto: PROTOCOL_VERSION, agent: '1' }))).not.toThrow();
    expect(() => checkHello(controlMessage('hello', { proto: PROTOCOL_VERSION + 1, agent: '9' })))
      .toThrow(`the guest agent said hello: guest agent protocol ${PROTOCOL_VERSION + 1}, but this runx speaks protocol ${PROTOCOL_VERSION}`);
    expect(() => checkHello(controlMessage('hello', { agent: '1' }))).toThrow(/protocol undefined/);
  });
});
