// Replays a spot market (a price series and, optionally, a preemption trace) against
// the daemon's own policy code (risk score, hysteresis, evacuation planner) and three
// baselines, and counts what each would have cost and lost:
// - on-demand: never on spot;
// - spot-restart: always on spot; a reclaim loses every container (in-memory state)
//   and they restart once capacity is back;
// - notice-only: on spot; on the reclaim notice, evacuate by plan to an on-demand peer
//   (live, or checkpoint-to-peer, within the notice); back to spot as soon as capacity
//   returns;
// - policy: notice-only plus proactive moves when the risk score crosses the
//   threshold, and the hysteresis rule for coming back.
// Time advances in ticks of the preemption trace (or 60 s). A host is billed per
// hour at the spot price in force or at on-demand; during a move the destination is
// billed too. One host holds all the containers (a single market; moving between spot
// zones is not modelled).
import { planEvacuation, type ContainerLoad, type EvacuationInput } from '../policy/evacuation';
import { decidePlacement, type HysteresisOptions, type PlacementState } from '../policy/hysteresis';
import type { PeerView } from '../policy/peers';
import { priceAt, type PricePoint } from '../policy/price-history';
import { riskScore, type RiskOptions } from '../policy/risk';
import { reclaimTicks, type PreemptionTrace } from './traces';

export type StrategyName = 'policy' | 'on-demand' | 'spot-restart' | 'notice-only';
export const STRATEGIES: readonly StrategyName[] = ['policy', 'on-demand', 'spot-restart', 'notice-only'];

export interface SimulationPolicy {
  risk?: Omit<Partial<RiskOptions>, 'now' | 'onDemandPrice' | 'lastReclaimAt'>;
  hysteresis?: HysteresisOptions;
  /** How often the policy re-scores the market. */
  evaluateEveryMs?: number;
  planner?: Pick<EvacuationInput, 'concurrency' | 'safetyMarginMs' | 'setupMs' | 'downtimeMs' | 'convergeFraction'>;
}

export interface SimulationInput {
  /** One market's price series, sorted. */
  prices: PricePoint[];
  onDemandPrice: number;
  preemption?: PreemptionTrace;
  start: number;
  durationMs: number;
  containers: ContainerLoad[];
  noticeMs: number;
  linkMiBps: number;
  /** A lost container's restart (boot and warm-up). */
  restartMs?: number;
  /** Restoring a checkpoint on the peer. */
  restoreMs?: number;
  policy?: SimulationPolicy;
}

export interface StrategyResult {
  strategy: StrategyName;
  cost: number;
  onDemandCost: number;
  /** cost / onDemandCost */
  costRatio: number;
  migrations: number;
  containersLost: number;
  downtimeSeconds: number;
  downtimeSecPerContainerDay: number;
  reclaims: number;
  proactiveMoves: number;
  hoursOnSpot: number;
}

const HOUR = 3_600_000;

export function simulate(input: SimulationInput): StrategyResult[] {
  return STRATEGIES.map((s) => runStrategy(s, input));
}

export function runStrategy(strategy: StrategyName, inp: SimulationInput): StrategyResult {
  const n = inp.containers.length;
  const restartMs = inp.restartMs ?? 60_000;
  const restoreMs = inp.restoreMs ?? 2_000;
  const pol = inp.policy ?? {};
  const evaluateEveryMs = pol.evaluateEveryMs ?? 5 * 60_000;
  const tick = inp.preemption?.gapMs ?? 60_000;
  const end = inp.start + inp.durationMs;
  const firstPrice = inp.prices[0]?.price ?? inp.onDemandPrice;
  const spotPriceAt = (t: number) => priceAt(inp.prices, t) ?? firstPrice;
  const availableAt = (t: number) => {
    if (!inp.preemption) return true;
    const a = inp.preemption.available;
    const k = Math.floor((t - inp.start) / inp.preemption.gapMs);
    return a[Math.min(Math.max(k, 0), a.length - 1)] ?? true;
  };
  const reclaims = inp.preemption ? reclaimTicks(inp.preemption).map((k) => inp.start + k * inp.preemption!.gapMs).filter((r) => r < end) : [];
  const od: PeerView = { name: 'on-demand', address: '-', market: 'on-demand', price: inp.onDemandPrice };
  const spotPeer = (t: number): PeerView => ({ name: 'spot', address: '-', market: 'spot', price: spotPriceAt(t) });

  const r = { cost: 0, migrations: 0, lost: 0, downtimeMs: 0, reclaims: 0, proactive: 0, spotMs: 0 };
  let on: 'spot' | 'on-demand' | 'down' = strategy === 'on-demand' ? 'on-demand' : 'spot';
  let placement: PlacementState = { on: on === 'spot' ? 'spot' : 'on-demand' };
  let lastReclaimAt: number | undefined;
  let nextReclaim = 0;
  let lastEval = -Infinity;

  /** Moves every container; deadline undefined for a planned move. */
  const move = (now: number, deadline: number | undefined, dest: PeerView) => {
    const plan = planEvacuation({
      containers: inp.containers, peers: [dest], now, deadline: deadline ?? now + 24 * HOUR,
      linkMiBps: inp.linkMiBps, ...pol.planner, safetyMarginMs: deadline === undefined ? 0 : pol.planner?.safetyMarginMs,
    });
    for (const s of plan.steps) {
      r.migrations++;
      if (deadline !== undefined && now + s.endMs > deadline) {
        r.lost++;
        r.downtimeMs += restartMs + (s.mode === 'checkpoint-to-peer' ? Math.max(0, deadline - (now + s.startMs)) : 0);
      } else if (s.mode === 'live') {
        r.downtimeMs += pol.planner?.downtimeMs ?? 300;
      } else {
        r.downtimeMs += s.endMs - s.startMs + restoreMs;
      }
    }
    for (let i = 0; i < plan.unplaced.length; i++) { r.lost++; r.downtimeMs += restartMs; }
    r.cost += (dest.price * plan.totalMs) / HOUR;
  };

  for (let t = inp.start; t < end; t += tick) {
    const dt = Math.min(tick, end - t);
    const available = availableAt(t);
    if (strategy === 'spot-restart') {
      while (nextReclaim < reclaims.length && reclaims[nextReclaim]! <= t) {
        if (on === 'spot') { r.lost += n; r.reclaims++; on = 'down'; }
        nextReclaim++;
      }
      if (on === 'spot' && !available) { r.lost += n; r.reclaims++; on = 'down'; }
      if (on === 'down' && available) { on = 'spot'; r.downtimeMs += n * restartMs; }
    } else if (strategy !== 'on-demand') {
      // A notice `noticeMs` before each reclaim: evacuate to on-demand by plan.
      while (nextReclaim < reclaims.length && reclaims[nextReclaim]! - inp.noticeMs <= t) {
        const at = reclaims[nextReclaim]!;
        if (on === 'spot') {
          r.reclaims++;
          move(at - inp.noticeMs, at, od);
          on = 'on-demand';
          placement = { on: 'on-demand', lastMoveAt: at };
        }
        lastReclaimAt = at;
        nextReclaim++;
      }
      if (on === 'spot' && !available) { // capacity gone with no notice (e.g. the trace starts so)
        r.reclaims++; r.lost += n; r.downtimeMs += n * restartMs; on = 'on-demand';
        placement = { on: 'on-demand', lastMoveAt: t };
        lastReclaimAt = t;
      }
      // After a notice the old spot host is gone: capacity counts again only after the reclaim.
      const spotBack = available && (lastReclaimAt === undefined || t >= lastReclaimAt);
      if (strategy === 'notice-only') {
        if (on === 'on-demand' && spotBack && spotPriceAt(t) < inp.onDemandPrice) { move(t, undefined, spotPeer(t)); on = 'spot'; }
      } else if (t - lastEval >= evaluateEveryMs) {
        lastEval = t;
        const risk = riskScore(inp.prices, { ...pol.risk, now: t, onDemandPrice: inp.onDemandPrice, lastReclaimAt }).score;
        const d = decidePlacement(placement, { now: t, risk, spotPrice: spotPriceAt(t), onDemandPrice: inp.onDemandPrice }, pol.hysteresis);
        if (d.action === 'leave-spot' && on === 'spot') { move(t, undefined, od); on = 'on-demand'; r.proactive++; placement = d.state; }
        else if (d.action === 'return-to-spot' && on === 'on-demand' && spotBack) { move(t, undefined, spotPeer(t)); on = 'spot'; placement = d.state; }
        else if (d.action === 'stay') placement = d.state;
      }
    }
    if (on === 'spot') { r.cost += (spotPriceAt(t) * dt) / HOUR; r.spotMs += dt; }
    else if (on === 'on-demand') r.cost += (inp.onDemandPrice * dt) / HOUR;
    else r.downtimeMs += n * dt;
  }

  const onDemandCost = (inp.onDemandPrice * inp.durationMs) / HOUR;
  const containerDays = (n * inp.durationMs) / (24 * HOUR);
  return {
    strategy,
    cost: r.cost,
    onDemandCost,
    costRatio: onDemandCost > 0 ? r.cost / onDemandCost : 0,
    migrations: r.migrations,
    containersLost: r.lost,
    downtimeSeconds: r.downtimeMs / 1000,
    downtimeSecPerContainerDay: containerDays > 0 ? r.downtimeMs / 1000 / containerDays : 0,
    reclaims: r.reclaims,
    proactiveMoves: r.proactive,
    hoursOnSpot: r.spotMs / HOUR,
  };
}

export function formatTable(results: StrategyResult[]): string {
  const rows = [['STRATEGY', 'COST USD', 'VS ON-DEMAND', 'MIGRATIONS', 'LOST', 'DOWNTIME s/ctr-day', 'RECLAIMS', 'PROACTIVE', 'HOURS ON SPOT'],
    ...results.map((x) => [x.strategy, x.cost.toFixed(2), `${(x.costRatio * 100).toFixed(1)}%`, String(x.migrations), String(x.containersLost),
      x.downtimeSecPerContainerDay.toFixed(1), String(x.reclaims), String(x.proactiveMoves), x.hoursOnSpot.toFixed(1)])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)) + 2);
  return rows.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('')).join('\n') + '\n';
}
