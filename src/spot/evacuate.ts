// Carries out an evacuation plan through a Migrator: the plan's slots run in
// parallel, each slot's steps in order. A live migration that fails falls back to a
// checkpoint written to a peer (the same one, then the others, best first); a peer
// that failed is not tried again in this evacuation. If the deadline moves earlier
// while the plan runs (a second notice), a live step not yet started is turned into
// a checkpoint when live would no longer end in time. Every container ends with a
// report line saying which path it took; "failed" only when no peer would take even a
// checkpoint, never silently.
import type { Logger } from 'pino';
import { messageOf } from '../errors';
import type { Migrator, MigrationReport } from './migrator';
import { checkpointMs, liveMigrationMs, type ContainerLoad, type EvacuationPlan, type PlanStep } from './policy/evacuation';
import { rankPeers, type PeerView } from './policy/peers';

export interface ContainerOutcome {
  containerId: string;
  path: 'live' | 'checkpoint-to-peer' | 'failed';
  peer?: string;
  planned: PlanStep['mode'] | 'unplaced';
  startedAt: string;
  finishedAt: string;
  withinDeadline: boolean;
  /** Errors met on the way (a refused live migration, a dead peer...). */
  errors: string[];
  report?: MigrationReport;
}

export interface EvacuationReport {
  reason: string;
  deadline: string;
  startedAt: string;
  finishedAt: string;
  outcomes: ContainerOutcome[];
}

/**
 * Room on peers shared with other hosts (fleet/reservations.ts): a fallback goes only
 * to a peer where room was reserved first, and each container's reservation is
 * settled (kept for the peer it landed on, released otherwise) as soon as it ends.
 */
export interface CapacityGate {
  /** Reserves room for `c` on the best peer not in `exclude`; undefined when none has room. */
  acquire(c: ContainerLoad, exclude: ReadonlySet<string>): Promise<PeerView | undefined>;
  settle(containerId: string, wentTo: string | undefined): Promise<void>;
}

export interface ExecuteOptions {
  plan: EvacuationPlan;
  containers: readonly ContainerLoad[];
  peers: readonly PeerView[];
  migrator: Migrator;
  /** Read before each step: may move earlier while the plan runs. */
  deadline: () => number;
  reason: string;
  now?: () => number;
  logger: Pick<Logger, 'info' | 'warn'>;
  signal?: AbortSignal;
  safetyMarginMs?: number;
  capacity?: CapacityGate;
}

export async function executePlan(o: ExecuteOptions): Promise<EvacuationReport> {
  const now = o.now ?? Date.now;
  const started = now();
  const deadAtPlan = o.deadline();
  const badPeers = new Set<string>();
  const byId = new Map(o.containers.map((c) => [c.id, c]));
  const byName = new Map(o.peers.map((p) => [p.name, p]));
  const outcomes: ContainerOutcome[] = [];

  // `bandwidthMiBps`: the slot's, as the plan timed it. Given explicitly because a cap
  // set for a failed live attempt stays in the source QEMU otherwise.
  const checkpointSomewhere = async (id: string, first: string | undefined, errors: string[], bandwidthMiBps?: number): Promise<{ report: MigrationReport; peer: string } | undefined> => {
    if (o.capacity) return checkpointReserved(id, first, errors, bandwidthMiBps);
    const order = [...(first && !badPeers.has(first) ? [first] : []),
      ...rankPeers(o.peers.map((p) => ({ ...p, freeMemoryMiB: undefined })), { memoryMiB: 0, exclude: new Set([...badPeers, ...(first ? [first] : [])]) }).map((c) => c.peer.name)];
    for (const name of order) {
      if (o.signal?.aborted) return undefined;
      try {
        const report = await o.migrator.checkpointTo(id, byName.get(name)!, { deadline: new Date(o.deadline()), signal: o.signal, bandwidthMiBps });
        return { report, peer: name };
      } catch (err) {
        errors.push(`checkpoint to ${name}: ${messageOf(err)}`);
        badPeers.add(name);
        o.logger.warn({ container: id, peer: name }, `checkpoint to peer failed: ${messageOf(err)}`);
      }
    }
    return undefined;
  };

  // With shared room: the planned peer first (its room is reserved), then one peer
  // at a time, each reserved before anything is sent to it.
  const checkpointReserved = async (id: string, first: string | undefined, errors: string[], bandwidthMiBps?: number): Promise<{ report: MigrationReport; peer: string } | undefined> => {
    const c = byId.get(id);
    const tried = new Set<string>();
    for (let i = 0; i <= o.peers.length + 8 && c; i++) {
      if (o.signal?.aborted) return undefined;
      let peer: PeerView | undefined;
      if (i === 0 && first && !badPeers.has(first)) peer = byName.get(first);
      else {
        try { peer = await o.capacity!.acquire(c, new Set([...badPeers, ...tried])); } catch (err) { errors.push(`reserving room: ${messageOf(err)}`); }
        if (!peer) { errors.push('no peer has room for it'); return undefined; }
        byName.set(peer.name, peer);
      }
      if (!peer) continue;
      tried.add(peer.name);
      try {
        const report = await o.migrator.checkpointTo(id, peer, { deadline: new Date(o.deadline()), signal: o.signal, bandwidthMiBps });
        return { report, peer: peer.name };
      } catch (err) {
        errors.push(`checkpoint to ${peer.name}: ${messageOf(err)}`);
        badPeers.add(peer.name);
        o.logger.warn({ container: id, peer: peer.name }, `checkpoint to peer failed: ${messageOf(err)}`);
      }
    }
    return undefined;
  };

  const settle = async (id: string, wentTo: string | undefined) => {
    try { await o.capacity?.settle(id, wentTo); } catch (err) { o.logger.warn({ container: id }, `settling the reservation failed: ${messageOf(err)}`); }
  };

  const runStep = async (step: PlanStep, rest: readonly PlanStep[]): Promise<void> => {
    const t0 = now();
    const errors: string[] = [];
    const c = byId.get(step.containerId);
    let mode = step.mode;
    const deadline = o.deadline();
    if (mode === 'live' && c && deadline < deadAtPlan) {
      // Live only if it and checkpoints of the slot's remaining steps still fit.
      const after = rest.reduce((sum, s) => { const rc = byId.get(s.containerId); return sum + (rc ? checkpointMs(rc, s.bandwidthMiBps) : 0); }, 0);
      const live = liveMigrationMs(c, step.bandwidthMiBps);
      if (t0 + live + after > deadline - (o.safetyMarginMs ?? 0)) {
        mode = 'checkpoint-to-peer';
        errors.push('deadline moved earlier: checkpoint instead of live migration');
      }
    }
    let result: { report: MigrationReport; peer: string; path: ContainerOutcome['path'] } | undefined;
    if (mode === 'live' && !badPeers.has(step.peer)) {
      try {
        const report = await o.migrator.migrate(step.containerId, byName.get(step.peer)!, { bandwidthMiBps: step.bandwidthMiBps, deadline: new Date(deadline), signal: o.signal });
        result = { report, peer: step.peer, path: 'live' };
      } catch (err) {
        errors.push(`live migration to ${step.peer}: ${messageOf(err)}`);
        badPeers.add(step.peer);
        o.logger.warn({ container: step.containerId, peer: step.peer }, `live migration failed, checkpointing instead: ${messageOf(err)}`);
      }
    }
    if (!result) {
      const cp = await checkpointSomewhere(step.containerId, badPeers.has(step.peer) ? undefined : step.peer, errors, step.bandwidthMiBps);
      if (cp) result = { ...cp, path: 'checkpoint-to-peer' };
    }
    const t1 = now();
    const out: ContainerOutcome = {
      containerId: step.containerId, path: result?.path ?? 'failed', planned: step.mode,
      startedAt: new Date(t0).toISOString(), finishedAt: new Date(t1).toISOString(), withinDeadline: t1 <= o.deadline(), errors,
    };
    if (result) { out.peer = result.peer; out.report = result.report; }
    await settle(step.containerId, result?.peer);
    o.logger.info({ container: out.containerId, path: out.path, peer: out.peer, withinDeadline: out.withinDeadline }, 'evacuated');
    outcomes.push(out);
  };

  const slots = new Map<number, PlanStep[]>();
  for (const s of o.plan.steps) slots.set(s.slot, [...(slots.get(s.slot) ?? []), s]);
  await Promise.all([...slots.values()].map(async (steps) => {
    for (let i = 0; i < steps.length; i++) {
      if (o.signal?.aborted) break;
      await runStep(steps[i]!, steps.slice(i + 1));
    }
  }));
  for (const u of o.plan.unplaced) {
    // No peer had room or was reachable at planning time: still try a checkpoint anywhere.
    const t0 = now();
    const errors = [u.reason];
    const cp = await checkpointSomewhere(u.containerId, undefined, errors);
    const t1 = now();
    const out: ContainerOutcome = { containerId: u.containerId, path: cp ? 'checkpoint-to-peer' : 'failed', planned: 'unplaced', startedAt: new Date(t0).toISOString(), finishedAt: new Date(t1).toISOString(), withinDeadline: t1 <= o.deadline(), errors };
    if (cp) { out.peer = cp.peer; out.report = cp.report; }
    await settle(u.containerId, cp?.peer);
    outcomes.push(out);
  }
  return { reason: o.reason, deadline: new Date(o.deadline()).toISOString(), startedAt: new Date(started).toISOString(), finishedAt: new Date(now()).toISOString(), outcomes };
}
