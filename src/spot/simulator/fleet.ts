// The fleet case of the simulator: a zone of N spot hosts and M on-demand hosts of a
// given capacity. At every reclaim of the preemption trace the whole zone's spot
// capacity goes at once (a zone-wide event), each spot host gets the notice at the
// same moment, and all N evacuate together through the same code the daemon runs:
// the planner, the spread key, and room reserved by transaction on the peers
// (fleet/fleet-plan.ts, fleet/reservations.ts), against the in-memory store with
// etcd's semantics, the on-demand hosts registered through fleet/registrar.ts. When
// capacity is back, containers return to spot by planned live moves.
// Counted: cost against running the same containers on on-demand hosts, containers
// lost (no reserved room, or their move would not end before the reclaim; they
// restart once spot is back), downtime per container-day, and whether any peer was
// ever over capacity (must never be). Not modelled: the risk-driven proactive moves
// (the single-host simulator covers those), and failures of peers during the move.
// Reservation round trips cost `etcdRttMs` each and delay the host's moves.
import { performance } from 'node:perf_hooks';
import type { ContainerLoad, EvacuationInput } from '../policy/evacuation';
import { priceAt, type PricePoint } from '../policy/price-history';
import { planWithReservations } from '../fleet/fleet-plan';
import { readFleet } from '../fleet/fleet-view';
import { MemoryKv } from '../fleet/memory-kv';
import { Registrar, type Usage } from '../fleet/registrar';
import { Reservations } from '../fleet/reservations';
import type { PreemptionTrace } from './traces';

export interface FleetSimInput {
  prices: PricePoint[];
  onDemandPrice: number;
  preemption: PreemptionTrace;
  start: number;
  durationMs: number;
  spotHosts: number;
  onDemandHosts: number;
  /** Memory each on-demand host offers to evacuees, MiB. */
  onDemandCapacityMiB: number;
  containersPerHost: number;
  container: Omit<ContainerLoad, 'id'>;
  noticeMs: number;
  /** Each host's own link, MiB/s. */
  linkMiBps: number;
  planner?: Pick<EvacuationInput, 'concurrency' | 'safetyMarginMs' | 'setupMs' | 'downtimeMs' | 'convergeFraction'>;
  restartMs?: number;
  restoreMs?: number;
  etcdRttMs?: number;
}

export interface FleetSimResult {
  spotHosts: number;
  onDemandHosts: number;
  containers: number;
  reclaims: number;
  cost: number;
  /** The same containers on on-demand hosts the whole time. */
  onDemandCost: number;
  /** 1 − cost / onDemandCost. */
  saved: number;
  containersLost: number;
  downtimeSecPerContainerDay: number;
  liveMoves: number;
  checkpointMoves: number;
  /** Peers found over capacity after an evacuation (goal and invariant: 0). */
  overcommittedPeers: number;
  reservation: { maxRounds: number; conflicts: number; reads: number; txns: number; maxMs: number };
  wallMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Leases outlive the simulated gaps between events; expiry is not what this measures. */
const SIM_TTL_SECONDS = 30 * 86_400;

/** [reclaim, back) spans of the zone's spot capacity, from the trace. */
function outages(p: PreemptionTrace, start: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 1; i < p.available.length; i++) {
    if (p.available[i - 1] && !p.available[i]) {
      let j = i;
      while (j < p.available.length && !p.available[j]) j++;
      out.push([start + i * p.gapMs, start + j * p.gapMs]);
      i = j;
    }
  }
  return out;
}

export async function simulateFleet(inp: FleetSimInput): Promise<FleetSimResult> {
  const t0 = performance.now();
  let clock = inp.start;
  const kv = new MemoryKv(() => clock);
  const quiet = { warn: () => undefined, info: () => undefined };
  const restartMs = inp.restartMs ?? 60_000;
  const restoreMs = inp.restoreMs ?? 2_000;
  const rtt = inp.etcdRttMs ?? 2;
  const live = inp.planner?.downtimeMs ?? 300;
  const end = inp.start + inp.durationMs;

  const usage = new Map<string, { usedMiB: number; ids: Set<string> }>();
  const peers = Array.from({ length: inp.onDemandHosts }, (_, i) => {
    const name = `od${i}`;
    usage.set(name, { usedMiB: 0, ids: new Set() });
    const u = async (): Promise<Usage> => { const x = usage.get(name)!; return { usedMiB: x.usedMiB, containerIds: [...x.ids] }; };
    return new Registrar(kv, { name, address: `10.0.1.${i}:7070`, market: 'on-demand', price: inp.onDemandPrice, capacityMiB: inp.onDemandCapacityMiB }, u, quiet, SIM_TTL_SECONDS);
  });
  const heartbeat = () => Promise.all(peers.map((p) => p.heartbeat()));
  await heartbeat();
  const hosts = Array.from({ length: inp.spotHosts }, (_, h) => ({
    name: `spot${h}`,
    containers: Array.from({ length: inp.containersPerHost }, (_, k): ContainerLoad => ({ ...inp.container, id: `spot${h}-c${k}` })),
    res: new Reservations(kv, `spot${h}`, quiet, SIM_TTL_SECONDS, undefined, () => clock, false),
  }));
  const n = inp.spotHosts * inp.containersPerHost;
  const r = { lost: 0, downtimeMs: 0, live: 0, checkpoint: 0, over: 0, maxRounds: 0, conflicts: 0, maxResMs: 0 };

  const spans = outages(inp.preemption, inp.start).filter(([a]) => a < end);
  for (const [reclaimAt, backAt] of spans) {
    const noticeAt = Math.max(inp.start, reclaimAt - inp.noticeMs);
    clock = noticeAt;
    const budget = reclaimAt - noticeAt;
    const plans = await Promise.all(hosts.map((h) => planWithReservations({
      containers: h.containers, reservations: h.res, now: () => clock,
      input: { ...inp.planner, now: noticeAt, deadline: reclaimAt, linkMiBps: inp.linkMiBps, spreadKey: h.name },
    })));
    const landed: Array<{ host: (typeof hosts)[number]; id: string; peer: string }> = [];
    plans.forEach((fp, i) => {
      const h = hosts[i]!;
      // A read and a transaction a round, and the final read.
      const resMs = (fp.rounds * 2 + 1) * rtt;
      r.maxRounds = Math.max(r.maxRounds, fp.rounds);
      r.conflicts += fp.conflicts;
      r.maxResMs = Math.max(r.maxResMs, resMs);
      for (const s of fp.plan.steps) {
        if (resMs + s.endMs > budget) {
          r.lost++;
          r.downtimeMs += backAt - reclaimAt + restartMs;
        } else {
          if (s.mode === 'live') { r.live++; r.downtimeMs += live; } else { r.checkpoint++; r.downtimeMs += s.endMs - s.startMs + restoreMs; }
          landed.push({ host: h, id: s.containerId, peer: s.peer });
        }
      }
      for (let k = 0; k < fp.plan.unplaced.length; k++) { r.lost++; r.downtimeMs += backAt - reclaimAt + restartMs; }
    });
    // What the executor does as each move ends: keep the landed ones' room, free the rest.
    const landedIds = new Set(landed.map((x) => x.id));
    await Promise.all(hosts.map(async (h) => {
      for (const held of h.res.list()) {
        if (landedIds.has(held.containerId)) await h.res.settle(held.containerId, held.peer);
        else await h.res.release(held.containerId);
      }
    }));
    for (const x of landed) { const u = usage.get(x.peer)!; u.usedMiB += inp.container.memoryMiB; u.ids.add(x.id); }
    clock = reclaimAt;
    await heartbeat();
    for (const p of (await readFleet(kv)).peers) {
      if ((p.usedMiB ?? 0) + p.reservedMiB > (p.capacityMiB ?? Infinity)) r.over++;
    }
    // Spot is back: every container returns by a planned live move (or restarts, if lost).
    clock = backAt;
    r.live += landed.length;
    r.downtimeMs += landed.length * live;
    for (const u of usage.values()) { u.usedMiB = 0; u.ids.clear(); }
    await heartbeat();
  }

  // Billing: the spot hosts while the zone has capacity, the on-demand ones always.
  const gap = inp.preemption.gapMs;
  let spotCost = 0;
  const first = inp.prices[0]?.price ?? inp.onDemandPrice;
  for (let t = inp.start, k = 0; t < end; t += gap, k++) {
    const avail = inp.preemption.available[Math.min(k, inp.preemption.available.length - 1)] ?? true;
    if (avail) spotCost += ((priceAt(inp.prices, t) ?? first) * Math.min(gap, end - t)) / HOUR;
  }
  const cost = inp.spotHosts * spotCost + (inp.onDemandHosts * inp.onDemandPrice * inp.durationMs) / HOUR;
  const onDemandCost = (inp.spotHosts * inp.onDemandPrice * inp.durationMs) / HOUR;
  const containerDays = (n * inp.durationMs) / DAY;
  await Promise.all([...hosts.map((h) => h.res.stop()), ...peers.map((p) => p.stop())]);
  return {
    spotHosts: inp.spotHosts, onDemandHosts: inp.onDemandHosts, containers: n, reclaims: spans.length,
    cost, onDemandCost, saved: onDemandCost > 0 ? 1 - cost / onDemandCost : 0,
    containersLost: r.lost, downtimeSecPerContainerDay: containerDays > 0 ? r.downtimeMs / 1000 / containerDays : 0,
    liveMoves: r.live, checkpointMoves: r.checkpoint, overcommittedPeers: r.over,
    reservation: { maxRounds: r.maxRounds, conflicts: r.conflicts, reads: kv.calls.read, txns: kv.calls.txn, maxMs: r.maxResMs },
    wallMs: performance.now() - t0,
  };
}

export function formatFleetTable(rows: readonly FleetSimResult[]): string {
  const head = ['HOSTS', 'SPOT', 'ON-DEMAND', 'CONTAINERS', 'RECLAIMS', 'SAVED', 'LOST', 'DOWNTIME s/ctr-day', 'OVERCOMMITTED', 'MAX ROUNDS', 'CONFLICTS', 'SIM WALL ms'];
  const table = [head, ...rows.map((x) => [String(x.spotHosts + x.onDemandHosts), String(x.spotHosts), String(x.onDemandHosts), String(x.containers), String(x.reclaims),
    `${(x.saved * 100).toFixed(1)}%`, String(x.containersLost), x.downtimeSecPerContainerDay.toFixed(3), String(x.overcommittedPeers), String(x.reservation.maxRounds),
    String(x.reservation.conflicts), x.wallMs.toFixed(0)])];
  const widths = head.map((_, c) => Math.max(...table.map((row) => row[c]!.length)) + 2);
  return table.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('')).join('\n') + '\n';
}
