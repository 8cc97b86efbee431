// An interface that reaches a runx-made network namespace after `create` (CNI or `ip
// link set ... netns <pid>` between create and start, not a prestart/createRuntime
// hook) cannot become the VM's NIC: the VM booted without one and microvm has no NIC
// hotplug. `start` refuses then, in one line, rather than start a container that
// silently lacks the network it was given.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { RunxError } from '../../../errors';
import type { KeeperLaunch } from '../../keeper/keeper-launch';
import { TAP_NAME } from './config';
import { keeperNetnsPath } from './keeper-netns';

interface LinkJson { ifname: string; link_type?: string; operstate?: string }

/**
 * For `start`: throws when the container's VM has no NIC but the network namespace
 * its keeper made has gained an interface the VM would have taken over at create.
 */
export function refuseLateInterface(keeperPid: number, namespaces: ReadonlyArray<{ type: string; path?: string }> | undefined, launchFile: string): void {
  if (!namespaces?.some((ns) => ns.type === 'network' && !ns.path)) return;
  try {
    if ((JSON.parse(fs.readFileSync(launchFile, 'utf8')) as KeeperLaunch).qemu.network) return;
    // A keeper in our own namespace (a config without a network entry) made none.
    const own = fs.statSync(keeperNetnsPath(keeperPid));
    const ours = fs.statSync('/proc/self/ns/net');
    if (own.ino === ours.ino && own.dev === ours.dev) return;
  } catch {
    return;
  }
  const r = spawnSync('nsenter', [`--net=${keeperNetnsPath(keeperPid)}`, '--', 'ip', '-j', 'link', 'show'], { encoding: 'utf8' });
  if (r.status !== 0) return;
  let links: LinkJson[];
  try {
    links = JSON.parse(r.stdout) as LinkJson[];
  } catch {
    return;
  }
  // The same choice as the NIC's at create (config.ts): an Ethernet link that is up.
  const late = links.find((l) => l.link_type === 'ether' && l.ifname !== TAP_NAME && l.operstate !== 'DOWN');
  if (late) {
    throw new RunxError('ECONFIG', `interface ${late.ifname} was added to the container's network namespace after create; the VM cannot take it over (only what prestart or createRuntime hooks put there becomes its NIC)`);
  }
}
