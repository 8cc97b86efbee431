// The evacuation planner: given the containers on a host that is about to be taken,
// the peers, the deadline and the link, decide for each container where it goes, how
// (live pre-copy migration, or `checkpoint-to-peer`: pause and stream its state to a
// peer, to be restored there), in what order and with what bandwidth, so that the
// whole plan ends before the deadline less a safety margin.
//
// Time model (MiB, MiB/s, ms), per container on a slot of bandwidth b:
//   live       = setup + disk/b + mem/(b − dirty) + downtime   (pre-copy converges only if dirty < convergeFraction·b)
//   checkpoint = setup + (mem + disk)/b                         (the VM is paused: nothing dirties)
// The link is split evenly over `concurrency` slots; steps are list-scheduled on
// the slots, higher priority first, then shortest first (which, for one shared
// deadline, finishes the most containers). Every container starts as a checkpoint
// (the shortest way out); then live migrations replace checkpoints, cheapest extra
// time first, for as long as the whole schedule still fits. A container no peer can
// hold in memory is checkpointed to a peer; only with no reachable peer at all is it
// `unplaced`. Steps that cannot end in time keep `fits: false`: they are still run.
import { rankPeers, type PeerView } from './peers';

export interface ContainerLoad {
  id: string;
  memoryMiB: number;
  /** Estimated guest page-dirtying rate, MiB/s (0 for idle). */
  dirtyRateMiBps?: number;
  /** Disk data to copy, MiB (written blocks of the root image). */
  diskMiB?: number;
  /** Higher goes first. */
  priority?: number;
}

export interface EvacuationInput {
  containers: readonly ContainerLoad[];
  peers: readonly PeerView[];
  now: number;
  deadline: number;
  linkMiBps: number;
  concurrency?: number;
  safetyMarginMs?: number;
  setupMs?: number;
  downtimeMs?: number;
  convergeFraction?: number;
  riskThreshold?: number;
  riskPenalty?: number;
  /** Containers whose peer is already decided (room reserved there): placed on it, whatever its free memory. */
  assign?: ReadonlyMap<string, string>;
  /**
   * A container no peer has memory for: checkpointed to a peer anyway (the default,
   * a single host's last resort), or left `unplaced`, when peers' memory is reserved
   * and must not be overcommitted.
   */
  noRoom?: 'checkpoint-to-peer' | 'unplaced';
  /** Spreads hosts over equally good peers (fleet evacuations; see rankPeers' spreadKey). */
  spreadKey?: string;
}

export type EvacuationMode = 'live' | 'checkpoint-to-peer';

export interface PlanStep {
  containerId: string;
  peer: string;
  mode: EvacuationMode;
  /** Offsets from `now`, ms. */
  startMs: number;
  endMs: number;
  /** Bandwidth cap to give the transfer (QEMU max-bandwidth), MiB/s. */
  bandwidthMiBps: number;
  slot: number;
  fits: boolean;
  /** Why live migration was not chosen, if it was not. */
  reason?: string;
}

export interface EvacuationPlan {
  steps: PlanStep[];
  unplaced: Array<{ containerId: string; reason: string }>;
  budgetMs: number;
  totalMs: number;
  allFit: boolean;
}

interface Candidate {
  c: ContainerLoad;
  peer: string;
  liveMs: number;
  checkpointMs: number;
  mode: EvacuationMode;
  reason?: string;
}

export function liveMigrationMs(c: ContainerLoad, bandwidthMiBps: number, o: Pick<EvacuationInput, 'setupMs' | 'downtimeMs' | 'convergeFraction'> = {}): number {
  const dirty = c.dirtyRateMiBps ?? 0;
  if (bandwidthMiBps <= 0 || dirty >= (o.convergeFraction ?? 0.8) * bandwidthMiBps) return Infinity;
  const sec = (c.diskMiB ?? 0) / bandwidthMiBps + c.memoryMiB / (bandwidthMiBps - dirty);
  return (o.setupMs ?? 1_000) + sec * 1000 + (o.downtimeMs ?? 300);
}

export function checkpointMs(c: ContainerLoad, bandwidthMiBps: number, o: Pick<EvacuationInput, 'setupMs'> = {}): number {
  if (bandwidthMiBps <= 0) return Infinity;
  return (o.setupMs ?? 1_000) + ((c.memoryMiB + (c.diskMiB ?? 0)) / bandwidthMiBps) * 1000;
}

function schedule(cands: Candidate[], slots: number): Array<{ cand: Candidate; slot: number; start: number; end: number }> {
  const dur = (x: Candidate) => (x.mode === 'live' ? x.liveMs : x.checkpointMs);
  const order = [...cands].sort((a, b) => (b.c.priority ?? 0) - (a.c.priority ?? 0) || dur(a) - dur(b) || a.c.id.localeCompare(b.c.id));
  const free = new Array<number>(slots).fill(0);
  return order.map((cand) => {
    let slot = 0;
    for (let i = 1; i < slots; i++) if (free[i]! < free[slot]!) slot = i;
    const start = free[slot]!;
    const end = start + dur(cand);
    free[slot] = end;
    return { cand, slot, start, end };
  });
}

export function planEvacuation(input: EvacuationInput): EvacuationPlan {
  const concurrency = Math.max(1, Math.floor(input.concurrency ?? 1));
  const bw = input.linkMiBps / concurrency;
  const budgetMs = input.deadline - input.now - (input.safetyMarginMs ?? 5_000);
  const unplaced: EvacuationPlan['unplaced'] = [];
  const free = new Map(input.peers.map((p) => [p.name, p.freeMemoryMiB]));
  const view = () => input.peers.map((p) => ({ ...p, freeMemoryMiB: free.get(p.name) }));
  const rank = { riskThreshold: input.riskThreshold, riskPenalty: input.riskPenalty, spreadKey: input.spreadKey };
  const byName = new Map(input.peers.map((p) => [p.name, p]));

  // Place the biggest first (first-fit decreasing), so small ones fill the gaps.
  const cands: Candidate[] = [];
  for (const c of [...input.containers].sort((a, b) => b.memoryMiB - a.memoryMiB || a.id.localeCompare(b.id))) {
    const liveMs = liveMigrationMs(c, bw, input);
    const cpMs = checkpointMs(c, bw, input);
    const fixed = input.assign?.get(c.id);
    if (fixed !== undefined && byName.has(fixed)) {
      cands.push({ c, peer: fixed, liveMs, checkpointMs: cpMs, mode: 'checkpoint-to-peer', reason: Number.isFinite(liveMs) ? undefined : 'dirty rate too high for the link' });
      continue;
    }
    const live = rankPeers(view(), { ...rank, memoryMiB: c.memoryMiB })[0];
    if (live) {
      const left = free.get(live.peer.name);
      if (left !== undefined) free.set(live.peer.name, left - c.memoryMiB);
      cands.push({ c, peer: live.peer.name, liveMs, checkpointMs: cpMs, mode: 'checkpoint-to-peer', reason: Number.isFinite(liveMs) ? undefined : 'dirty rate too high for the link' });
      continue;
    }
    if (input.noRoom === 'unplaced') { unplaced.push({ containerId: c.id, reason: 'no peer has room for it' }); continue; }
    // No memory anywhere: a checkpoint needs only disk on the peer.
    const store = rankPeers(input.peers.map((p) => ({ ...p, freeMemoryMiB: undefined })), { ...rank, memoryMiB: 0 })[0];
    if (!store) { unplaced.push({ containerId: c.id, reason: 'no reachable peer' }); continue; }
    cands.push({ c, peer: store.peer.name, liveMs: Infinity, checkpointMs: cpMs, mode: 'checkpoint-to-peer', reason: 'no peer has memory for it' });
  }

  const fitsAll = (xs: Candidate[]) => schedule(xs, concurrency).every((s) => s.end <= budgetMs);
  if (fitsAll(cands)) {
    const upgrades = cands.filter((x) => Number.isFinite(x.liveMs)).sort((a, b) => (a.liveMs - a.checkpointMs) - (b.liveMs - b.checkpointMs) || a.c.id.localeCompare(b.c.id));
    for (const x of upgrades) {
      x.mode = 'live';
      if (!fitsAll(cands)) { x.mode = 'checkpoint-to-peer'; x.reason = 'live migration would not end before the deadline'; } else x.reason = undefined;
    }
  } else {
    for (const x of cands) x.reason ??= 'not even all checkpoints end before the deadline';
  }

  const steps = schedule(cands, concurrency).map(({ cand, slot, start, end }): PlanStep => {
    const s: PlanStep = {
      containerId: cand.c.id, peer: cand.peer, mode: cand.mode, startMs: Math.round(start), endMs: Math.round(end),
      bandwidthMiBps: bw, slot, fits: end <= budgetMs,
    };
    if (cand.reason) s.reason = cand.reason;
    return s;
  });
  const totalMs = steps.reduce((m, s) => Math.max(m, s.endMs), 0);
  return { steps, unplaced, budgetMs, totalMs, allFit: unplaced.length === 0 && steps.every((s) => s.fits) };
}
