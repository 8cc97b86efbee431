// The container's network counters for `events --stats`, in runc's shape
// (types.NetworkInterface): those of the namespace's interface whose identity the VM's
// NIC took over. Every packet of the VM crosses it (the tc redirects), so its counters
// are the VM's traffic, as Docker also reads them for `docker stats`.
import { spawnSync } from 'node:child_process';
import type { GuestNetwork } from './config';

export interface RuncNetworkInterface {
  name: string;
  rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
  tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
}

interface Counters { bytes: number; packets: number; errors: number; dropped: number }

/** The interface's counters, or undefined when the namespace or interface is gone. */
export function networkInterfaceStats(net: GuestNetwork): RuncNetworkInterface | undefined {
  const r = spawnSync('nsenter', [`--net=${net.netnsPath}`, '--', 'ip', '-s', '-j', 'link', 'show', 'dev', net.hostIf], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  try {
    const [link] = JSON.parse(r.stdout) as Array<{ stats64?: { rx: Counters; tx: Counters } }>;
    const s = link?.stats64;
    if (!s) return undefined;
    return {
      // The guest's name for it: the interface inside the container is eth0.
      name: 'eth0',
      rx_bytes: s.rx.bytes, rx_packets: s.rx.packets, rx_errors: s.rx.errors, rx_dropped: s.rx.dropped,
      tx_bytes: s.tx.bytes, tx_packets: s.tx.packets, tx_errors: s.tx.errors, tx_dropped: s.tx.dropped,
    };
  } catch {
    return undefined;
  }
}
