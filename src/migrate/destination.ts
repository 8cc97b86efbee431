// The receiving side of a migration: Prepare checks that this host can take the VM
// (same QEMU build, CPU model, free memory and disk, bind-mount paths) and starts a
// keeper whose QEMU waits for it (by provision(), as create and restore do, with
// the container's host cgroup); Finish runs it; Abort undoes Prepare; Attach links
// the source keeper (the container's stand-in there) to the container's stdio here.
// A VM with a NIC gets it in this host's namespace for the container, with the MAC
// and address it had. A container coming back to a host where its stand-in still
// runs is taken back by that stand-in.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RunxError, codeOf, messageOf } from '../errors';
import { log } from '../log';
import type { SpecConfig } from '../bundle/spec-types';
import {
  CARRY_DISK, type GuestIdentity, type GuestNetwork, type IncomingEndpoints, KEEPER_SOCKET, ROOT_DISK, type RuntimeOptions,
  StateStore, callKeeper, checkAgentProtocol, containerShares, chooseAccel, keeperNamespacesFor, keeperNetnsFor, netFromState, netnsPathOf, provision, readVm, qemuBinary, qemuBuild, setupMigratedNetwork, teardownNetwork, validateId, withNetns,
} from '../xcontainer';
import { MIGRATED_TO, readInstance, writeInstance } from './instance';
import { checkNetnsName, checkPrepareNames } from './prepare-trust';
import { DEFAULT_SOURCE_TIMEOUT_MS, SourceWatch } from './source-watch';
import { type PlacedBinds, placeBinds, refuseWireShares, removeMade } from './wire-shares';

/** Under --root: the binds of containers that came here and are outside every --volume-root. */
export const VOLUMES_DIR = '@volumes';
import { newStreamSecret, streamKey } from './stream-tls';
import { type PskCreds, removePskDir, writePskDir } from '../xcontainer/vm/tls-creds';
import { type GuestNic, MIGRATION_PROTOCOL_VERSION, type PrepareReply, type PrepareRequest } from './proto';

const MiB = 1024 * 1024;
/** The incoming streams' key directory, in the container's state directory. */
const TLS_DIR = 'migrate-tls';

/** A VM arriving for a keeper started here, whose stdio the source's stand-in attaches to. */
interface Incoming {
  keeper: ChildProcess;
  /** The source's name for this attempt (PrepareRequest.attempt); empty from an older source. */
  attempt: string;
  /** The NIC set up here for the VM. */
  network?: GuestNetwork;
  /** Undoes Prepare (keeper and VM, NIC, host cgroup, state dir) if the migration does not happen. */
  rollback(): Promise<void>;
  /** Set at Finish: from then on only Attach concerns it. */
  finished?: boolean;
  exitStatus?: number;
  onExit?: (status: number) => void;
}

/** A VM coming back to the stand-in that holds its id here. */
interface Return {
  keeperPid: number;
  attempt: string;
  /** The NIC set up here for it, undone if the return does not happen. */
  network?: GuestNetwork;
  /** The NIC its stand-in kept here, and the namespace it comes back to. */
  previous?: GuestNetwork;
  netnsPath?: string;
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

/** The identity the guest's NIC keeps, from the wire's (where "" means none). */
function nicIdentity(nic: GuestNic): GuestIdentity {
  return { mac: nic.mac, cidr: nic.cidr || undefined, gateway: nic.gateway || undefined, mtu: nic.mtu };
}

export class Destination {
  private readonly store: StateStore;
  private readonly incoming = new Map<string, Incoming>();
  private readonly returns = new Map<string, Return>();
  private readonly sources: SourceWatch;

  /** `host`: where the streams listen, unless a call says where it was reached (a wildcard listen). */
  constructor(private readonly runtime: RuntimeOptions, private readonly host: string, sourceTimeoutMs = DEFAULT_SOURCE_TIMEOUT_MS, private readonly token?: string, private readonly volumeRoots: readonly string[] = []) {
    this.store = new StateStore(runtime.root);
    this.sources = new SourceWatch(sourceTimeoutMs, (id, why) => void this.abort(id, why));
  }

  /** A ping from the source of `id`: true (and its silence timeout restarts) if its migration here is under way. */
  heard(id: string): boolean {
    if (!this.sources.watching(id)) return false;
    this.sources.heard(id);
    return true;
  }

  async prepare(req: PrepareRequest, host = this.host): Promise<PrepareReply> {
    const reply = await this.prepareVm(req, host);
    this.sources.heard(req.containerId);
    return reply;
  }

  private async prepareVm(req: PrepareRequest, host: string): Promise<PrepareReply> {
    if (req.protocolVersion !== MIGRATION_PROTOCOL_VERSION) {
      throw new RunxError('EUSAGE', `migration protocol ${req.protocolVersion} is not spoken here (this runx speaks ${MIGRATION_PROTOCOL_VERSION})`);
    }
    checkPrepareNames(req);
    const binary = qemuBinary();
    const build = qemuBuild(binary);
    if (build !== req.qemuBuild) throw new RunxError('ECONFIG', `incompatible host: the source runs "${req.qemuBuild}", this host "${build}" (the same QEMU build is required)`);
    // The VM keeps its agent across the move: this keeper must speak its protocol.
    // 0 is a source from before the field, whose migration protocol 2 only ever ran with agent protocol 2.
    checkAgentProtocol(req.agentProtocol || 2, `Prepare of ${req.containerId}`);
    const accel = chooseAccel(this.runtime.accel).accel;
    if (accel !== req.accel) throw new RunxError('ECONFIG', `incompatible host: the VM runs CPU model "${req.cpu}" under ${req.accel}; this host would use ${accel}`);
    const needMem = req.memoryMib * MiB + 64 * MiB;
    if (os.freemem() < needMem) throw new RunxError('EHOST', `not enough free memory here: ${Math.round(os.freemem() / MiB)} MiB free, the VM needs ${req.memoryMib} MiB`);
    this.store.makeRoot();
    const st = fs.statfsSync(this.runtime.root);
    const diskBytes = Number(req.diskBytes);
    const carryBytes = Number(req.carryBytes ?? 0);
    // The mirrors write every allocated block of both disks here: refused now, not midway.
    if (st.bavail * st.bsize < diskBytes + carryBytes) {
      throw new RunxError('EHOST', `not enough free disk under ${this.runtime.root}: ${Math.round(st.bavail * st.bsize / MiB)} MiB free, the container's disks need ${Math.round((diskBytes + carryBytes) / MiB)} MiB${carryBytes ? ` (${Math.round(carryBytes / MiB)} MiB of it its carried mounts)` : ''}`);
    }
    refuseWireShares(req);
    if (this.returns.has(req.containerId)) throw new RunxError('EEXIST', `a migration of ${req.containerId} to this host is already under way`);
    const secret = newStreamSecret();
    const psk = streamKey(this.token, secret, Buffer.from(req.streamNonce ?? []), req.containerId);
    const streams = { streamIdentity: secret.identity, streamSecret: secret.secret };
    if (this.standInFor(req)) return { ...await this.prepareReturn(req, host, psk), ...streams };

    const id = req.containerId;
    if (req.nic) checkNetnsName(req.netnsPath || req.nic.netnsPath, 'network namespace');
    // The keeper goes where create would have put it here: the NIC's namespace (so the
    // pid the destination reports and the tap are there), else as the config asks, a
    // path the source named but this host lacks getting a new namespace of its own.
    // A NIC's namespace that does not exist is refused by the NIC's setup, in one line.
    const keeperNetns = req.nic
      ? keeperNetnsFor([{ type: 'network', path: req.netnsPath || req.nic.netnsPath }])
      : keeperNetnsFor((JSON.parse(req.configJson) as SpecConfig).linux?.namespaces, 'new');
    let entry: Incoming | undefined;
    let placed: PlacedBinds | undefined;
    try {
      const done = await provision({
        keeperNetns,
        // ipc and uts as the config asks, a path this host lacks getting a new one.
        keeperNamespaces: keeperNamespacesFor((JSON.parse(req.configJson) as SpecConfig).linux?.namespaces, 'new'),
        id,
        runtime: this.runtime,
        keeper: { detach: false, stdio: 'pipe' },
        bootErrorPrefix: 'destination VM: ',
        onKeeper: (keeper) => {
          entry = { keeper, attempt: req.attempt ?? '', rollback: async () => undefined };
          this.incoming.set(id, entry);
          this.wireOutput(entry);
        },
        plan: () => {
          placed = placeBinds(req, this.volumeRoots, path.join(this.runtime.root, VOLUMES_DIR, id));
          const config = JSON.parse(placed.configText) as SpecConfig;
          if (req.instance) writeInstance(this.store, id, req.instance);
          return {
            origin: { kind: 'incoming', diskBytes, carryBytes: placed.carryBytes, endpoints: () => this.endpoints(id, host, psk), made: placed.made },
            configText: placed.configText,
            config,
            bundle: req.bundle,
            rootfs: path.resolve(req.bundle, config.root?.path ?? 'rootfs'),
            annotations: config.annotations,
            nic: req.nic ? { kind: 'migrated', netnsPath: req.netnsPath || req.nic.netnsPath, guest: nicIdentity(req.nic) } : { kind: 'none' },
            qemuBinary: binary,
            accel,
            kernel: { data: req.kernel },
            initramfs: { data: req.initramfs },
            shape: { memoryMiB: req.memoryMib, vcpus: req.vcpus },
            // Carried binds only, placed by this host's rules (wire-shares.ts).
            shares: containerShares(placed.binds),
            agentCreate: [],
          };
        },
      });
      entry!.network = done.network;
      const made = placed?.made ?? [];
      entry!.rollback = async () => {
        await done.rollback();
        removeMade(made);
      };
      const endpoints = done.launch.incoming!;
      log().info(`prepared incoming ${id}: nbd ${endpoints.nbdPort}, migration ${endpoints.migratePort}${done.network ? `, NIC in ${done.network.netnsPath}` : ''}`);
      return { host: endpoints.host, nbdPort: endpoints.nbdPort, migratePort: endpoints.migratePort, linkPort: endpoints.linkPort ?? 0, returning: false, netnsPath: done.network?.netnsPath ?? '', ...streams };
    } catch (err) {
      if (entry && this.incoming.get(id) === entry) this.incoming.delete(id);
      removeMade(placed?.made ?? []);
      throw err;
    }
  }

  /**
   * True when the id is held here by the stand-in this host's keeper became when the
   * same container left: the container is coming back. Another holder of the id is
   * refused, as create would.
   */
  private standInFor(req: PrepareRequest): boolean {
    validateId(req.containerId);
    if (!fs.existsSync(this.store.dir(req.containerId))) return false;
    let live: ReturnType<StateStore['readLive']> | undefined;
    try {
      live = this.store.readLive(req.containerId);
    } catch { /* a half-made directory: taken all the same */ }
    const ours = live?.keeperAlive === true && live.rec.annotations?.[MIGRATED_TO] !== undefined
      && req.instance !== '' && readInstance(this.store, req.containerId) === req.instance;
    if (!ours) throw new RunxError('EEXIST', `container with id exists: ${req.containerId}`);
    return true;
  }

  /**
   * The container comes back: its stand-in here (the pid its supervisor knows, with
   * its stdio) boots the incoming VM itself and, at Finish, runs it again. Its NIC
   * goes back into the namespace it had here unless --netns names another; the tap
   * the stand-in kept there is taken over as it is.
   */
  private async prepareReturn(req: PrepareRequest, host: string, psk: PskCreds): Promise<Omit<PrepareReply, 'streamIdentity' | 'streamSecret'>> {
    const id = req.containerId;
    const keeperSock = this.store.file(id, KEEPER_SOCKET);
    const previous = netFromState(readVm(this.store.dir(id)).state.devices.net);
    const config = this.store.config(id);
    const entry: Return = { keeperPid: this.store.read(id).keeperPid, attempt: req.attempt ?? '', previous };
    this.returns.set(id, entry);
    let network: GuestNetwork | undefined;
    try {
      if (req.nic) {
        network = this.setupNic(req.nic, req.netnsPath || netnsPathOf(config.linux?.namespaces) || req.nic.netnsPath);
        if (network.netnsPath !== previous?.netnsPath) entry.network = network;
      }
      entry.netnsPath = network?.netnsPath;
      // The disk it left here is stale: the mirror rewrites all of it, from empty.
      const disk = this.store.file(id, ROOT_DISK);
      fs.truncateSync(disk, 0);
      fs.truncateSync(disk, Number(req.diskBytes));
      // Its carry disk too (the binds it writes back to are those it had here).
      const carry = this.store.file(id, CARRY_DISK);
      if (fs.existsSync(carry)) {
        fs.truncateSync(carry, 0);
        fs.truncateSync(carry, Number(req.carryBytes ?? 0));
      }
      // Its stand-in keeps the stdio it has: no link to take there.
      const endpoints = { ...await this.endpoints(id, host, psk), linkPort: undefined };
      await callKeeper(keeperSock, 'take-back', { incoming: endpoints, network }, { timeoutMs: 60_000 }).catch((err: unknown) => {
        throw new RunxError(codeOf(err), `destination VM: ${messageOf(err)}`);
      });
      log().info(`prepared the return of ${id} to its stand-in: nbd ${endpoints.nbdPort}, migration ${endpoints.migratePort}`);
      return { host: endpoints.host, nbdPort: endpoints.nbdPort, migratePort: endpoints.migratePort, linkPort: 0, returning: true, netnsPath: network?.netnsPath ?? '' };
    } catch (err) {
      await this.abort(id, messageOf(err));
      throw err;
    }
  }

  private setupNic(nic: GuestNic, netnsPath: string): GuestNetwork {
    checkNetnsName(netnsPath, 'network namespace');
    return setupMigratedNetwork(netnsPath, nicIdentity(nic));
  }

  private async endpoints(id: string, host: string, psk: PskCreds): Promise<IncomingEndpoints> {
    // Only this migration's key opens the streams: its keeper reads it and removes it.
    const tlsDir = this.store.file(id, TLS_DIR);
    writePskDir(tlsDir, psk);
    // QEMU listens on unix sockets; its keeper tunnels the ports to them.
    return { host, nbdPort: await freePort(host), migratePort: await freePort(host), linkPort: await freePort(host), tlsDir };
  }

  async finish(id: string): Promise<number> {
    const back = this.returns.get(id);
    const entry = this.incoming.get(id);
    if (!back && (!entry || entry.finished)) throw new RunxError('ENOTFOUND', `no incoming migration of "${id}" here`);
    // The source is done sending: silence from here on is not its going away.
    this.sources.stop(id);
    await callKeeper(this.store.file(id, KEEPER_SOCKET), 'finish-incoming', {}, { timeoutMs: 60_000 }).catch((err: unknown) => {
      throw new RunxError(codeOf(err), `destination could not run ${id}: ${messageOf(err)}`);
    });
    removePskDir(this.store.file(id, TLS_DIR));
    if (entry && !back) {
      entry.finished = true;
      return entry.keeper.pid ?? 0;
    }
    // Back with its stand-in, it is that keeper's again; a namespace it had here
    // before and did not come back to is let go.
    this.returns.delete(id);
    if (back!.previous && back!.previous.netnsPath !== back!.netnsPath) teardownNetwork(back!.previous);
    if (back!.netnsPath) {
      const configPath = this.store.file(id, 'config.json');
      fs.writeFileSync(configPath, withNetns(fs.readFileSync(configPath, 'utf8'), back!.netnsPath));
    }
    return back!.keeperPid;
  }

  /**
   * Before switch-over only: a VM already running here is never aborted. With
   * `attempt`, only that attempt: a late Abort of an earlier one leaves a retry be.
   */
  async abort(id: string, reason: string, attempt?: string): Promise<void> {
    const current = this.returns.get(id) ?? this.incoming.get(id);
    if (attempt && current && current.attempt && current.attempt !== attempt) {
      log().warn(`ignoring an abort of an earlier migration attempt of ${id}: ${reason}`);
      return;
    }
    this.sources.stop(id);
    const back = this.returns.get(id);
    if (back) {
      log().warn(`aborting the return of ${id}: ${reason}`);
      this.returns.delete(id);
      await callKeeper(this.store.file(id, KEEPER_SOCKET), 'abort-incoming', { network: back.previous })
        .catch((err: Error) => log().warn(`abort of ${id}'s return: ${err.message}`));
      removePskDir(this.store.file(id, TLS_DIR));
      if (back.network) teardownNetwork(back.network);
      return;
    }
    const entry = this.incoming.get(id);
    if (!entry || entry.finished) return;
    log().warn(`aborting incoming migration of ${id}: ${reason}`);
    this.incoming.delete(id);
    await entry.rollback();
  }

  /** Links the source's stand-in to the container's stdio here. */
  attach(id: string, sinks: { output(m: { stdout?: Buffer; stderr?: Buffer }): void; exit(status: number): void }): { stdin(b: Buffer): void; signal(n: number): Promise<void> } {
    const entry = this.incoming.get(id);
    if (!entry) throw new RunxError('ENOTFOUND', `no migrated container "${id}" here`);
    const keeper = entry.keeper;
    if (entry.exitStatus !== undefined) {
      sinks.exit(entry.exitStatus);
      this.forget(id, entry);
    } else {
      entry.onExit = (status) => {
        sinks.exit(status);
        this.forget(id, entry);
      };
    }
    return {
      stdin: (b) => (b.length ? keeper.stdin?.write(b) : keeper.stdin?.end()),
      signal: async (n) => {
        await callKeeper(this.store.file(id, KEEPER_SOCKET), 'kill', { signal: n, all: false });
      },
    };
  }

  /** Its keeper has ended and the stand-in has its exit status: nothing more to relay. */
  private forget(id: string, entry: Incoming): void {
    if (this.incoming.get(id) === entry) this.incoming.delete(id);
  }

  private wireOutput(entry: Incoming): void {
    const keeper = entry.keeper;
    // The container's output is not here: its keeper keeps it in its durable log and
    // serves the stand-in from there over its own link (keeper-link.ts), so nothing
    // piles up in this process (issue #21.12). Its pipes carry only what the keeper
    // itself may write (log lines without --log), read and dropped so it never blocks.
    keeper.stdout?.resume();
    keeper.stderr?.resume();
    keeper.stdin?.on('error', () => undefined);
    // The exit status goes out only after both output pipes have ended, so no output
    // can follow it. (ChildProcess 'close' would also wait for our end of stdin.)
    let open = 2;
    let code: number | undefined;
    const done = () => {
      if (open > 0 || code === undefined) return;
      entry.exitStatus = code;
      entry.onExit?.(code);
    };
    for (const s of [keeper.stdout, keeper.stderr]) s?.once('close', () => { open--; done(); });
    keeper.once('exit', (c) => { code = c ?? 255; done(); });
  }
}
