// The receiving side of a migration: Prepare checks that this host can take the VM
// (same QEMU build, CPU model, free memory and disk, bind-mount paths) and starts a
// keeper whose QEMU waits for it; Finish runs it; Abort undoes Prepare; Attach links
// the source keeper (the container's stand-in there) to the container's stdio here.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RunxError } from '../errors';
import { log } from '../log';
import type { SpecConfig } from '../bundle/spec-types';
import { chooseAccel } from '../xcontainer/accel';
import { OCI_VERSION, type ContainerRecord } from '../xcontainer/container-record';
import { askKeeper } from '../xcontainer/keeper-client';
import { KEEPER_SOCKET, type KeeperLaunch } from '../xcontainer/keeper-launch';
import { abandon, keeperReadiness, spawnKeeper, writeLaunch } from '../xcontainer/keeper-spawn';
import { qemuBuild } from '../xcontainer/qemu-build';
import { ROOT_DISK } from '../xcontainer/qemu-argv';
import type { RuntimeOptions } from '../xcontainer/runtime-options';
import { StateStore } from '../xcontainer/state-store';
import { MIGRATION_PROTOCOL_VERSION, type PrepareReply, type PrepareRequest } from './proto';

const MiB = 1024 * 1024;

interface Incoming {
  keeper: ChildProcess;
  /** Output the container wrote before the source attached. */
  pending: Array<{ stdout?: Buffer; stderr?: Buffer }>;
  onOutput?: (m: { stdout?: Buffer; stderr?: Buffer }) => void;
  exitStatus?: number;
  onExit?: (status: number) => void;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export class Destination {
  private readonly store: StateStore;
  private readonly incoming = new Map<string, Incoming>();

  constructor(private readonly runtime: RuntimeOptions, private readonly host: string) {
    this.store = new StateStore(runtime.root);
  }

  async prepare(req: PrepareRequest): Promise<PrepareReply> {
    if (req.protocolVersion !== MIGRATION_PROTOCOL_VERSION) {
      throw new RunxError('EUSAGE', `migration protocol ${req.protocolVersion} is not spoken here (this runx speaks ${MIGRATION_PROTOCOL_VERSION})`);
    }
    const qemuBinary = process.env.RUNX_QEMU ?? 'qemu-system-x86_64';
    const build = qemuBuild(qemuBinary);
    if (build !== req.qemuBuild) throw new RunxError('ECONFIG', `incompatible host: the source runs "${req.qemuBuild}", this host "${build}" (the same QEMU build is required)`);
    const accel = chooseAccel(this.runtime.accel).accel;
    if (accel !== req.accel) throw new RunxError('ECONFIG', `incompatible host: the VM runs CPU model "${req.cpu}" under ${req.accel}; this host would use ${accel}`);
    const needMem = req.memoryMib * MiB + 64 * MiB;
    if (os.freemem() < needMem) throw new RunxError('EHOST', `not enough free memory here: ${Math.round(os.freemem() / MiB)} MiB free, the VM needs ${req.memoryMib} MiB`);
    fs.mkdirSync(this.runtime.root, { recursive: true, mode: 0o711 });
    const st = fs.statfsSync(this.runtime.root);
    const diskBytes = Number(req.diskBytes);
    if (st.bavail * st.bsize < diskBytes) throw new RunxError('EHOST', `not enough free disk under ${this.runtime.root} for a ${Math.round(diskBytes / MiB)} MiB disk`);
    for (const p of req.sharePaths) if (!fs.existsSync(p)) throw new RunxError('ECONFIG', `bind-mounted host path ${p} does not exist on this host`);
    const config = JSON.parse(req.configJson) as SpecConfig;

    const id = req.containerId;
    const dir = this.store.claim(id);
    let keeper: ChildProcess | undefined;
    try {
      fs.writeFileSync(path.join(dir, 'config.json'), req.configJson);
      fs.writeFileSync(path.join(dir, 'bzImage'), req.kernel);
      fs.writeFileSync(path.join(dir, 'initramfs.cpio'), req.initramfs);
      fs.closeSync(fs.openSync(path.join(dir, ROOT_DISK), 'w'));
      fs.truncateSync(path.join(dir, ROOT_DISK), diskBytes);
      const record: ContainerRecord = {
        ociVersion: OCI_VERSION, id, status: 'creating', bundle: req.bundle,
        rootfs: path.resolve(req.bundle, config.root?.path ?? 'rootfs'), created: new Date().toISOString(),
        owner: '', annotations: config.annotations, keeperPid: 0,
      };
      this.store.write(record);
      const endpoints = { host: this.host, nbdPort: await freePort(this.host), migratePort: await freePort(this.host) };
      const launch: KeeperLaunch = {
        id, root: path.resolve(this.runtime.root), qemuBinary,
        qemu: {
          accel, kernel: path.join(dir, 'bzImage'), initramfs: path.join(dir, 'initramfs.cpio'),
          shape: { memoryMiB: req.memoryMib, vcpus: req.vcpus },
          shares: req.sharePaths.map((hostPath, i) => ({ tag: `runx${i}`, hostPath, readonly: false })),
        },
        agentCreate: [],
        bootTimeoutMs: 30_000,
        log: this.runtime.log,
        incoming: endpoints,
      };
      writeLaunch(dir, launch);
      keeper = spawnKeeper(dir, false, 'pipe');
      const entry: Incoming = { keeper, pending: [] };
      this.incoming.set(id, entry);
      this.wireOutput(entry);
      const reply = await keeperReadiness(keeper);
      if (!reply.ok) throw new RunxError('EBOOT', `destination VM: ${reply.error}`);
      log().info(`prepared incoming ${id}: nbd ${endpoints.nbdPort}, migration ${endpoints.migratePort}`);
      return endpoints;
    } catch (err) {
      this.incoming.delete(id);
      await abandon(this.store, id, keeper);
      throw err;
    }
  }

  async finish(id: string): Promise<number> {
    const entry = this.incoming.get(id);
    if (!entry) throw new RunxError('ENOTFOUND', `no incoming migration of "${id}" here`);
    const reply = await askKeeper(this.store.file(id, KEEPER_SOCKET), { op: 'finish-incoming' }, 60_000);
    if (!reply.ok) throw new RunxError('ESTATE', `destination could not run ${id}: ${reply.error}`);
    return entry.keeper.pid!;
  }

  async abort(id: string, reason: string): Promise<void> {
    const entry = this.incoming.get(id);
    if (!entry) return;
    log().warn(`aborting incoming migration of ${id}: ${reason}`);
    this.incoming.delete(id);
    await abandon(this.store, id, entry.keeper);
  }

  /** Links the source's stand-in to the container's stdio here. */
  attach(id: string, sinks: { output(m: { stdout?: Buffer; stderr?: Buffer }): void; exit(status: number): void }): { stdin(b: Buffer): void; signal(n: number): Promise<void> } {
    const entry = this.incoming.get(id);
    if (!entry) throw new RunxError('ENOTFOUND', `no migrated container "${id}" here`);
    for (const m of entry.pending.splice(0)) sinks.output(m);
    entry.onOutput = sinks.output;
    if (entry.exitStatus !== undefined) sinks.exit(entry.exitStatus);
    else entry.onExit = sinks.exit;
    return {
      stdin: (b) => (b.length ? entry.keeper.stdin?.write(b) : entry.keeper.stdin?.end()),
      signal: async (n) => {
        const reply = await askKeeper(this.store.file(id, KEEPER_SOCKET), { op: 'kill', signal: n, all: false });
        if (!reply.ok) throw new RunxError('ESTATE', reply.error);
      },
    };
  }

  private wireOutput(entry: Incoming): void {
    const emit = (m: { stdout?: Buffer; stderr?: Buffer }) => (entry.onOutput ? entry.onOutput(m) : entry.pending.push(m));
    entry.keeper.stdout?.on('data', (b: Buffer) => emit({ stdout: b }));
    entry.keeper.stderr?.on('data', (b: Buffer) => emit({ stderr: b }));
    entry.keeper.stdin?.on('error', () => undefined);
    // The exit status goes out only after both output pipes have ended, so no output
    // can follow it. (ChildProcess 'close' would also wait for our end of stdin.)
    let open = 2;
    let code: number | undefined;
    const done = () => {
      if (open > 0 || code === undefined) return;
      entry.exitStatus = code;
      entry.onExit?.(code);
    };
    for (const s of [entry.keeper.stdout, entry.keeper.stderr]) s?.once('close', () => { open--; done(); });
    entry.keeper.once('exit', (c) => { code = c ?? 255; done(); });
  }
}
