// Reclaim risk of a spot market, 0 (calm) to 1 (leave now), from its price history,
// in the spirit of "Smart Spot Instances for the Supercloud" (CrossCloud'16): a price
// that jumps above its recent norm, a market that moves a lot, a price near on-demand
// and a recent reclaim all come before reclaims, so a host that sees them moves early,
// with no deadline pressure, instead of racing a 2-minute (or 30 s) notice.
//
// The components (each 0..1):
// - spike: the highest price in the last `spikeWindowMs` over the time-weighted mean
//   of the window; a ratio of 1 is 0, `spikeRatio` (default 2x) or more is 1.
// - volatility: the time-weighted coefficient of variation over the window, over
//   `volatileCv` (default 0.25), plus the change rate over `volatileChangesPerHour`,
//   the higher of the two.
// - level: current price / on-demand; at or below `calmLevel` (0.5) it is 0, at 1 it is 1.
// - reclaim: exp(-age·ln2/halfLife) since the last reclaim seen in this market.
// The score is the weighted mean; the weights are configurable. The defaults weigh
// spikes most: on generated traces (runx simulate) they were what came before reclaims.
import type { PricePoint } from './price-history';
import { priceAt } from './price-history';

export interface RiskOptions {
  now: number;
  onDemandPrice: number;
  /** When this market last reclaimed one of our hosts (ms since epoch). */
  lastReclaimAt?: number;
  windowMs?: number;
  spikeWindowMs?: number;
  spikeRatio?: number;
  volatileCv?: number;
  volatileChangesPerHour?: number;
  calmLevel?: number;
  reclaimHalfLifeMs?: number;
  weights?: Partial<RiskWeights>;
}

export interface RiskWeights { spike: number; volatility: number; level: number; reclaim: number }

export const DEFAULT_RISK_WEIGHTS: RiskWeights = { spike: 0.5, volatility: 0.15, level: 0.15, reclaim: 0.2 };

export interface RiskAssessment {
  score: number;
  spike: number;
  volatility: number;
  level: number;
  reclaim: number;
  /** The price in force at `now`, if any. */
  price?: number;
  /** Time-weighted mean over the window. */
  mean?: number;
}

const clamp01 = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
const HOUR = 3_600_000;

/** Time-weighted mean and standard deviation of a step series over [from, to]. */
export function timeWeightedStats(series: PricePoint[], from: number, to: number): { mean: number; sd: number; changes: number } | undefined {
  if (to <= from) return undefined;
  let start = priceAt(series, from);
  const inside = series.filter((p) => p.time > from && p.time <= to);
  if (start === undefined) {
    if (!inside.length) return undefined;
    from = inside[0]!.time;
    start = inside[0]!.price;
    inside.shift();
    if (to <= from) return { mean: start, sd: 0, changes: 0 };
  }
  let t = from;
  let price = start;
  let sum = 0;
  let sumSq = 0;
  for (const p of inside) {
    const dt = p.time - t;
    sum += price * dt; sumSq += price * price * dt;
    t = p.time; price = p.price;
  }
  const dt = to - t;
  sum += price * dt; sumSq += price * price * dt;
  const span = to - from;
  const mean = sum / span;
  const variance = Math.max(0, sumSq / span - mean * mean);
  return { mean, sd: Math.sqrt(variance), changes: inside.length };
}

/** The risk of one market (one zone and instance type's series). */
export function riskScore(series: PricePoint[], o: RiskOptions): RiskAssessment {
  const windowMs = o.windowMs ?? 24 * HOUR;
  const spikeWindowMs = o.spikeWindowMs ?? HOUR;
  const w = { ...DEFAULT_RISK_WEIGHTS, ...o.weights };
  const price = priceAt(series, o.now);
  const stats = timeWeightedStats(series, o.now - windowMs, o.now);

  let spike = 0;
  let volatility = 0;
  let level = 0;
  if (stats && price !== undefined && stats.mean > 0) {
    const recent = series.filter((p) => p.time > o.now - spikeWindowMs && p.time <= o.now).map((p) => p.price);
    const peak = Math.max(price, ...recent);
    spike = clamp01((peak / stats.mean - 1) / ((o.spikeRatio ?? 2) - 1));
    const cv = stats.sd / stats.mean;
    const rate = stats.changes / (windowMs / HOUR);
    volatility = clamp01(Math.max(cv / (o.volatileCv ?? 0.25), rate / (o.volatileChangesPerHour ?? 4)));
  }
  if (price !== undefined && o.onDemandPrice > 0) {
    const calm = o.calmLevel ?? 0.5;
    level = clamp01((price / o.onDemandPrice - calm) / (1 - calm));
  }
  let reclaim = 0;
  if (o.lastReclaimAt !== undefined && o.lastReclaimAt <= o.now) {
    reclaim = Math.exp((-(o.now - o.lastReclaimAt) * Math.LN2) / (o.reclaimHalfLifeMs ?? 6 * HOUR));
  }
  const total = w.spike + w.volatility + w.level + w.reclaim;
  const score = total > 0 ? clamp01((w.spike * spike + w.volatility * volatility + w.level * level + w.reclaim * reclaim) / total) : 0;
  const out: RiskAssessment = { score, spike, volatility, level, reclaim };
  if (price !== undefined) out.price = price;
  if (stats) out.mean = stats.mean;
  return out;
}
