// The host edges provisioning touches (keeper process, host cgroup, NIC, root disk),
// behind one interface: provision.ts runs against the real ones, its unit tests
// against a fake whose every step can be made to fail, to check that each failure
// leaves nothing behind.
import type { ChildProcess } from 'node:child_process';
import type { SpecLinux } from '../../bundle/spec-types';
import { buildRootfsImage } from '../../bundle/rootfs-image';
import { type HostCgroup, makeHostCgroup, removeHostCgroup } from '../cgroup/host-cgroup';
import { type GuestIdentity, type GuestNetwork, setupMigratedNetwork, setupNetwork, teardownNetwork } from '../devices/net/config';
import { keeperGo, keeperReadiness, spawnKeeper } from '../keeper/keeper-spawn';
import type { KeeperReady } from '../keeper/keeper-launch';
import type { KeeperNetns } from '../devices/net/keeper-netns';
import type { KeeperNamespaces } from '../keeper/keeper-namespaces';
import { copySparse } from '../vm/vm-snapshot';
import { qemuBuild } from '../vm/qemu-build';

export type KeeperStdio = 'inherit' | 'pipe' | 'ignore';

export interface ProvisionHost {
  /** Starts a keeper for state directory `dir`, held until go(). */
  spawnKeeper(dir: string, detach: boolean, stdio: KeeperStdio, netns?: KeeperNetns, namespaces?: KeeperNamespaces): ChildProcess;
  /** Releases a keeper: launch.json is written. */
  go(keeper: ChildProcess): void;
  /** The keeper's word that the VM is up and the container prepared, or why not. */
  readiness(keeper: ChildProcess): Promise<KeeperReady>;
  /** Ends a keeper (and so its VM) and waits until it is gone. */
  endKeeper(keeper: ChildProcess): Promise<void>;
  makeCgroup(linux: SpecLinux | undefined, id: string, systemd: boolean): HostCgroup | undefined;
  removeCgroup(cg: HostCgroup, ours: number[]): Promise<void>;
  /** The NIC of the namespace's interface; undefined when it has none. */
  setupNetwork(netnsPath: string): GuestNetwork | undefined;
  /** A NIC with the identity a migrated guest keeps. */
  setupMigratedNetwork(netnsPath: string, guest: GuestIdentity): GuestNetwork;
  teardownNetwork(net: GuestNetwork): void;
  buildRootfs(rootfs: string, image: string): void;
  /** The QEMU build's identity (cached): part of the VM's spec. */
  qemuBuild(binary: string): string;
  copySparse(from: string, to: string): void;
}

export const realProvisionHost: ProvisionHost = {
  // Held: create spawns it first so that Node's start-up in the keeper (~100 ms)
  // overlaps the bundle checks and the disk build.
  spawnKeeper: (dir, detach, stdio, netns, namespaces) => spawnKeeper(dir, detach, stdio, false, netns, namespaces),
  go: keeperGo,
  readiness: keeperReadiness,
  async endKeeper(keeper) {
    if (!keeper.pid || keeper.exitCode !== null || keeper.signalCode !== null) return;
    // Our child: gone once Node has reaped it ('exit'), not merely once killed.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      keeper.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      keeper.kill('SIGKILL');
    });
  },
  makeCgroup: (linux, id, systemd) => makeHostCgroup(linux, id, systemd),
  removeCgroup: (cg, ours) => removeHostCgroup(cg, ours),
  setupNetwork,
  setupMigratedNetwork,
  teardownNetwork,
  buildRootfs: buildRootfsImage,
  qemuBuild,
  copySparse,
};
