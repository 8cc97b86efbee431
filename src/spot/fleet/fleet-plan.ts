// Planning an evacuation when peers' room is shared with other hosts (etcd): plan on
// a snapshot of the fleet, reserve what the plan puts on each peer (one transaction
// per peer, reservations.ts), and plan again, on a fresh snapshot, for whatever lost
// a race, until every container has room somewhere, none is left anywhere, or the
// round or time budget is spent. The final plan puts each reserved container on its
// peer and leaves the rest `unplaced` (never on a peer without reserved room); the
// executor then tries to reserve for those once more, as room may have been freed.
// The daemon and the fleet simulator both run this.
import { planEvacuation, type ContainerLoad, type EvacuationInput, type EvacuationPlan } from '../policy/evacuation';
import type { PeerView } from '../policy/peers';
import { readFleet, type FleetPeer } from './fleet-view';
import type { Reservations } from './reservations';

export interface FleetPlanOptions {
  containers: readonly ContainerLoad[];
  reservations: Reservations;
  /** Everything the planner takes but the containers and the peers. */
  input: Omit<EvacuationInput, 'containers' | 'peers' | 'assign' | 'noRoom'>;
  /** Only peers passing this (e.g. on-demand ones when leaving spot). */
  filter?: (p: PeerView) => boolean;
  maxRounds?: number;
  /** Stop reserving after this much wall time (the notice is short). */
  budgetMs?: number;
  now?: () => number;
}

export interface FleetPlan {
  plan: EvacuationPlan;
  /** The peers as last read, with the room this host holds on them. */
  peers: FleetPeer[];
  rounds: number;
  conflicts: number;
}

export async function planWithReservations(o: FleetPlanOptions): Promise<FleetPlan> {
  const r = o.reservations;
  const now = o.now ?? Date.now;
  const t0 = now();
  const maxRounds = o.maxRounds ?? 32;
  const conflicts0 = r.conflicts;
  const eligible = (p: FleetPeer) => p.name !== r.from && (o.filter?.(p) ?? true);
  let peers: FleetPeer[] = [];
  let rounds = 0;
  while (rounds < maxRounds && now() - t0 <= (o.budgetMs ?? Infinity)) {
    rounds++;
    const snap = await readFleet(r.kvStore, r.keys);
    peers = snap.peers.filter(eligible);
    const pending = o.containers.filter((c) => !r.get(c.id));
    if (!pending.length) break;
    const plan = planEvacuation({ ...o.input, containers: pending, peers, noRoom: 'unplaced' });
    const groups = new Map<string, ContainerLoad[]>();
    const byId = new Map(pending.map((c) => [c.id, c]));
    for (const s of plan.steps) groups.set(s.peer, [...(groups.get(s.peer) ?? []), byId.get(s.containerId)!]);
    if (!groups.size) break; // no room anywhere in this snapshot
    let lost = false;
    await Promise.all([...groups].map(async ([name, items]) => {
      const peer = peers.find((p) => p.name === name)!;
      if (!(await r.reserve(peer, snap.revision, items))) lost = true;
    }));
    // Every group won: what is still pending had no room in this snapshot.
    if (!lost) break;
  }
  const assign = new Map(o.containers.flatMap((c) => { const h = r.get(c.id); return h ? [[c.id, h.peer] as const] : []; }));
  // Peers holding this host's reservations stay in the plan even if they vanished
  // from the last read; the executor then finds them dead and falls back.
  const final = await readFleet(r.kvStore, r.keys).then((s) => s.peers).catch(() => peers);
  const known = new Map([...peers, ...final.filter(eligible)].map((p) => [p.name, p]));
  const finalPeers = [...known.values()];
  const plan = planEvacuation({ ...o.input, containers: o.containers, peers: finalPeers.map((p) => ({ ...p, freeMemoryMiB: 0 })), assign, noRoom: 'unplaced' });
  return { plan, peers: finalPeers, rounds, conflicts: r.conflicts - conflicts0 };
}
