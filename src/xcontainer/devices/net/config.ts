// The container's network, Kata's way: the VM's NIC stands in for the interface of the
// container's network namespace. A tap device created inside that namespace is joined
// to the namespace's veth by tc mirred redirects both ways, QEMU runs inside the
// namespace with the tap, and the guest takes the veth's MAC, address, route and MTU,
// so peers see the same identity. A container whose config asks for a new namespace
// gets one runx makes (keeper-netns.ts), and a NIC when hooks put an interface there;
// without one it has only loopback, as runc's fresh network namespace has only lo.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { RunxError } from '../../../errors';

export const TAP_NAME = 'tap0_runx';
/** QEMU's id of the NIC's backend (QMP set_link names it). */
export const NETDEV_ID = 'net0';

/**
 * A VM template's NIC has no container namespace: its QEMU runs in a network namespace
 * of its own (unshare), where it makes the tap itself, and which ends with it.
 */
export const PRIVATE_NETNS = 'private';

export interface GuestNetwork {
  /** The container's network namespace (a /proc/<pid>/ns/net or /run/netns/<name> path). */
  netnsPath: string;
  /** The namespace's interface whose identity the guest takes. */
  hostIf: string;
  tap: string;
  mac: string;
  /** IPv4 address with prefix length, e.g. 10.0.0.2/24; undefined when it has none. */
  cidr?: string;
  gateway?: string;
  /** Global IPv6 addresses with prefix length, and the IPv6 default gateway. */
  cidr6?: string[];
  gateway6?: string;
  mtu: number;
  /**
   * The namespace is the one runx made for the container (keeper-netns.ts): it ends
   * with the keeper and QEMU, and everything in it with it, so nothing is torn down,
   * and QEMU, the keeper's child, is in it already.
   */
  own?: boolean;
}

interface IpAddrJson {
  ifname: string;
  address?: string;
  mtu: number;
  link_type?: string;
  operstate?: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}

function inNetns(netnsPath: string, cmd: string[], input?: string): string {
  const r = spawnSync('nsenter', [`--net=${netnsPath}`, '--', ...cmd], { encoding: 'utf8', input });
  if (r.error) throw new RunxError('EHOST', `cannot run nsenter: ${r.error.message}`);
  if (r.status !== 0) throw new RunxError('EHOST', `network namespace ${netnsPath}: ${cmd.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

/** The network namespace path the config names, if any. */
export function netnsPathOf(namespaces: ReadonlyArray<{ type: string; path?: string }> | undefined): string | undefined {
  return namespaces?.find((ns) => ns.type === 'network' && ns.path)?.path;
}

/** Reads the namespace's interface and sets up the tap and redirects. Undone by teardownNetwork. */
export function setupNetwork(netnsPath: string): GuestNetwork | undefined {
  const found = inspectNetwork(netnsPath);
  if (!found) return undefined;
  plugTap(found.net, found.held);
  return found.net;
}

/** The identity a VM's NIC carries from host to host (the guest keeps it: it is in its memory). */
export type GuestIdentity = Pick<GuestNetwork, 'mac' | 'cidr' | 'gateway' | 'mtu'>;

/**
 * A migrating VM's NIC on the destination: the tap and redirects go into this host's
 * namespace for the container, and the VM keeps the identity it had (its MAC above
 * all: the guest has it, and L2 peers learn its new port from the announcement after
 * switch-over). The namespace's interface must carry the container's address and
 * an MTU as large, or the identity would not work here; nothing is set up then.
 */
export function setupMigratedNetwork(netnsPath: string, guest: GuestIdentity): GuestNetwork {
  if (!fs.existsSync(netnsPath)) throw new RunxError('ECONFIG', `network namespace ${netnsPath} does not exist on this host (runx migrate --netns names the one to use)`);
  const found = inspectNetwork(netnsPath);
  if (!found) throw new RunxError('ECONFIG', `network namespace ${netnsPath} has no interface for the container (an Ethernet link that is up)`);
  const local = found.net;
  if (guest.cidr && local.cidr !== guest.cidr) {
    throw new RunxError('ECONFIG', `network namespace ${netnsPath}: its interface ${local.hostIf} has ${local.cidr ?? 'no IPv4 address'}, the container has ${guest.cidr}; its address cannot move there`);
  }
  if (local.mtu < guest.mtu) throw new RunxError('ECONFIG', `network namespace ${netnsPath}: its interface ${local.hostIf} has MTU ${local.mtu}, the container uses ${guest.mtu}`);
  const net: GuestNetwork = { ...local, mac: guest.mac, cidr: guest.cidr, gateway: guest.gateway, mtu: guest.mtu };
  plugTap(net, found.held);
  return net;
}

/** Checks the namespace and finds the interface the VM takes over; changes nothing. */
function inspectNetwork(netnsPath: string): { net: GuestNetwork; held: boolean } | undefined {
  if (!fs.existsSync(netnsPath)) throw new RunxError('ECONFIG', `config.json: linux.namespaces: network namespace path ${netnsPath} does not exist`);
  // The VM takes over the namespace's interface with tc redirects: never the host's own.
  const ns = fs.statSync(netnsPath);
  for (const host of ['/proc/self/ns/net', '/proc/1/ns/net']) {
    let h: fs.Stats | undefined;
    try {
      h = fs.statSync(host);
    } catch { /* not ours to look at */ }
    if (h && h.ino === ns.ino && h.dev === ns.dev) {
      throw new RunxError('ECONFIG', `config.json: linux.namespaces: ${netnsPath} is the host's own network namespace; runx gives a VM only a namespace of the container's own`);
    }
  }
  const links = JSON.parse(inNetns(netnsPath, ['ip', '-j', 'addr', 'show'])) as IpAddrJson[];
  const held = links.some((l) => l.ifname === TAP_NAME);
  if (held && tapInUse(ns)) {
    throw new RunxError('EHOST', `network namespace ${netnsPath} already holds another runx VM's NIC (${TAP_NAME}); one VM per network namespace`);
  }
  // The container's interface: an Ethernet link that is up and has an address, as a
  // CNI plugin or a test leaves a veth; never an idle one (an ifb, a down dummy).
  const candidates = links.filter((l) => l.link_type === 'ether' && l.ifname !== TAP_NAME && l.operstate !== 'DOWN');
  const nic = candidates.find((l) => l.addr_info?.some((a) => a.family === 'inet')) ?? candidates[0];
  if (!nic || !nic.address) return undefined;
  const v4 = nic.addr_info?.find((a) => a.family === 'inet');
  const routes = JSON.parse(inNetns(netnsPath, ['ip', '-j', '-4', 'route', 'show', 'default'])) as Array<{ gateway?: string; dev?: string }>;
  const gateway = routes.find((r) => r.dev === nic.ifname)?.gateway;
  // IPv6 as a hook or CNI left it (the link-local address the guest makes itself).
  const v6 = nic.addr_info?.filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`) ?? [];
  const routes6 = v6.length ? JSON.parse(inNetns(netnsPath, ['ip', '-j', '-6', 'route', 'show', 'default'])) as Array<{ gateway?: string; dev?: string }> : [];
  const gateway6 = routes6.find((r) => r.dev === nic.ifname)?.gateway;
  const net: GuestNetwork = {
    netnsPath, hostIf: nic.ifname, tap: TAP_NAME, mac: nic.address, mtu: nic.mtu,
    cidr: v4 ? `${v4.local}/${v4.prefixlen}` : undefined, gateway,
    ...(v6.length ? { cidr6: v6 } : {}), ...(gateway6 ? { gateway6 } : {}),
  };
  return { net, held };
}

function plugTap(net: GuestNetwork, held: boolean): void {
  // A tap left held by a checkpointed container (see teardownNetwork) is taken over
  // as it is, redirects and all.
  if (held) return;
  inNetns(net.netnsPath, ['ip', '-batch', '-'], [
    `tuntap add dev ${TAP_NAME} mode tap`,
    `link set dev ${TAP_NAME} mtu ${net.mtu} up`,
  ].join('\n'));
  try {
    inNetns(net.netnsPath, ['tc', '-batch', '-'], [
      `qdisc add dev ${net.hostIf} handle ffff: ingress`,
      `filter add dev ${net.hostIf} parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev ${TAP_NAME}`,
      `qdisc add dev ${TAP_NAME} handle ffff: ingress`,
      `filter add dev ${TAP_NAME} parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev ${net.hostIf}`,
    ].join('\n'));
  } catch (err) {
    teardownNetwork(net);
    throw err;
  }
}

/**
 * True when some process (a QEMU) has the namespace's tap open: tun devices show their
 * interface in the fdinfo of the descriptor ("iff:"), and the process must live in
 * that namespace.
 */
function tapInUse(ns: fs.Stats): boolean {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const pns = fs.statSync(`/proc/${pid}/ns/net`);
      if (pns.ino !== ns.ino || pns.dev !== ns.dev) continue;
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== '/dev/net/tun') continue;
        if (new RegExp(`^iff:\\s+${TAP_NAME}$`, 'm').test(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))) return true;
      }
    } catch { /* the process went away, or is not ours to look at */ }
  }
  return false;
}

/**
 * The NIC a VM template boots with: a tap like a container's, so the guest negotiates
 * the offloads (vnet_hdr) every container's NIC also offers, and a placeholder MAC,
 * which the agent replaces with the container's at create (net.mac). Nothing on the
 * host changes (PRIVATE_NETNS).
 */
export function templateNetwork(): GuestNetwork {
  return { netnsPath: PRIVATE_NETNS, hostIf: '', tap: TAP_NAME, mac: '02:72:75:6e:78:00', mtu: 1500 };
}

/** The command prefix that runs QEMU where the NIC's tap is. */
export function netnsCommand(net: GuestNetwork): string[] {
  if (net.own) return [];
  return net.netnsPath === PRIVATE_NETNS ? ['unshare', '--net', '--'] : ['nsenter', `--net=${net.netnsPath}`, '--'];
}

/** Removes the tap and the redirect; the namespace and its veth are the caller's. */
export function teardownNetwork(net: GuestNetwork): void {
  // An own namespace's /proc/<keeper>/ns/net path may name another process's by now.
  if (net.own || net.netnsPath === PRIVATE_NETNS || !fs.existsSync(net.netnsPath)) return;
  spawnSync('nsenter', [`--net=${net.netnsPath}`, '--', 'tc', 'qdisc', 'del', 'dev', net.hostIf, 'handle', 'ffff:', 'ingress'], { stdio: 'ignore' });
  spawnSync('nsenter', [`--net=${net.netnsPath}`, '--', 'ip', 'link', 'del', net.tap], { stdio: 'ignore' });
}

/** QEMU's NIC: the tap (opened by name, so QEMU must run inside the namespace). */
export function netArgs(net: GuestNetwork): string[] {
  return [
    '-netdev', `tap,id=${NETDEV_ID},ifname=${net.tap},script=no,downscript=no`,
    '-device', `virtio-net-device,netdev=${NETDEV_ID},mac=${net.mac}`,
  ];
}

/**
 * The agent's `create` fields for the guest's eth0. The MAC too, though QEMU gives the
 * NIC the same one: a VM started from a template has the template's until the agent
 * sets it (the virtio-net driver passes that on to QEMU, whose NIC then filters and
 * migrates with it).
 */
export function netFields(net: GuestNetwork): Array<[string, string | number]> {
  const f: Array<[string, string | number]> = [['net.mac', net.mac], ['net.mtu', net.mtu]];
  if (net.cidr) f.push(['net.addr', net.cidr]);
  if (net.gateway) f.push(['net.gw', net.gateway]);
  for (const a of net.cidr6 ?? []) f.push(['net.addr6', a]);
  if (net.gateway6) f.push(['net.gw6', net.gateway6]);
  return f;
}
