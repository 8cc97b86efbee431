// The NIC's part of a VM's state: where its tap is (namespace, interface, tap) and the
// identity the guest has (MAC, address, gateway, MTU), which moves with it: a restore
// keeps the MAC, a migration the whole identity.
import { type GuestIdentity, type GuestNetwork, netArgs } from './config';
import type { DevicePart } from '../part';

export interface NetState {
  netnsPath: string;
  hostIf: string;
  tap: string;
  mac: string;
  cidr?: string;
  gateway?: string;
  mtu: number;
  cidr6?: string[];
  gateway6?: string;
  /** The namespace runx made with the keeper: nothing in it is torn down. */
  own?: boolean;
}

export function netToState(n: GuestNetwork | undefined): NetState | undefined {
  if (!n) return undefined;
  return { netnsPath: n.netnsPath, hostIf: n.hostIf, tap: n.tap, mac: n.mac, cidr: n.cidr, gateway: n.gateway, mtu: n.mtu,
    ...(n.cidr6 ? { cidr6: n.cidr6 } : {}), ...(n.gateway6 ? { gateway6: n.gateway6 } : {}), ...(n.own ? { own: true } : {}) };
}

export function netFromState(s: NetState | undefined): GuestNetwork | undefined {
  if (!s) return undefined;
  return { netnsPath: s.netnsPath, hostIf: s.hostIf, tap: s.tap, mac: s.mac, cidr: s.cidr, gateway: s.gateway, mtu: s.mtu,
    ...(s.cidr6 ? { cidr6: s.cidr6 } : {}), ...(s.gateway6 ? { gateway6: s.gateway6 } : {}), ...(s.own ? { own: true } : {}) };
}

/** What of the NIC the guest itself knows, and a move must keep. */
export function netIdentity(s: NetState): GuestIdentity {
  return { mac: s.mac, cidr: s.cidr, gateway: s.gateway, mtu: s.mtu };
}

export const netPart: DevicePart<NetState | undefined> = {
  argv: ({ network }) => (network ? netArgs(network) : []),
  save: ({ qemu }) => netToState(qemu.network),
  restore: (s) => ({ network: netFromState(s) }),
};
