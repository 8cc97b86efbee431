// A seeded generator of spot traces in the real formats (describe-spot-price-history
// JSON, the price CSV, and a spot-traces-shaped preemption file), calibrated to the
// published facts gathered in shared/spot-traces/README.md:
// - spot saves 70–90% of on-demand: the base spot price is on-demand × (1 − s), s drawn
//   uniformly from [minSavings, maxSavings] (default 0.70–0.90);
// - on-demand us-east-1 Linux prices per instance type (ON_DEMAND_USD below);
// - interruption-frequency bands of the Spot Instance Advisor (<5%, 5–10%, 10–15%,
//   15–20%, >20% of instances a month): a band's midpoint p (>20%: 0.25) gives a
//   Poisson reclaim rate of −ln(1 − p) per 30 days;
// - preemption ticks every 30 s (spot-traces sample every 30–34 s).
// Assumptions that are NOT published facts, and are parameters: prices change at
// Poisson times (`changesPerDay`, default 6) by a gaussian ±`noise` (5%) around the
// base; with probability `spikeBeforeReclaim` (0.5) a reclaim is preceded 15–90 min
// earlier by a price spike of 1.5–3× base (the premise of proactive policies), and
// unrelated spikes occur `spikesPerWeek` (1) times; capacity stays gone for an
// exponential time of mean `outageMeanMinutes` (45). `reclaimsPerDay` overrides the
// band for stress traces.
// Same seed and options → byte-identical output.
import { RunxError } from '../../errors';
import type { PricePoint } from '../policy/price-history';
import type { PreemptionTrace } from './traces';

/** us-east-1 Linux on-demand USD/hour, from skypilot-catalog catalogs/v7/aws/vms.csv (see shared/spot-traces/README.md). */
export const ON_DEMAND_USD: Readonly<Record<string, number>> = {
  'm5.large': 0.096, 'm6i.large': 0.096, 'c5.xlarge': 0.17, 'r5.2xlarge': 0.504,
  'r5.16xlarge': 4.032, 'g4dn.xlarge': 0.526, 'p3.2xlarge': 3.06,
};

export const INTERRUPTION_BANDS: Readonly<Record<string, number>> = {
  '<5%': 0.025, '5-10%': 0.075, '10-15%': 0.125, '15-20%': 0.175, '>20%': 0.25,
};

export interface GenerateOptions {
  seed: number;
  instanceType: string;
  zone?: string;
  /** ISO start time. */
  start?: string;
  days: number;
  band?: string;
  reclaimsPerDay?: number;
  minSavings?: number;
  maxSavings?: number;
  changesPerDay?: number;
  noise?: number;
  spikeBeforeReclaim?: number;
  spikesPerWeek?: number;
  outageMeanMinutes?: number;
  gapSeconds?: number;
}

export interface GeneratedTraces {
  prices: PricePoint[];
  preemption: PreemptionTrace;
  onDemandPrice: number;
  /** Reclaim times (ms since epoch), for the record. */
  reclaims: number[];
  options: Required<Omit<GenerateOptions, 'reclaimsPerDay'>> & { reclaimsPerDay?: number };
}

/** mulberry32: small, fast, good enough for traces; deterministic across platforms. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 86_400_000;
const MIN = 60_000;

export function generateTraces(given: GenerateOptions): GeneratedTraces {
  const o = {
    zone: 'us-east-1a', start: '2024-01-01T00:00:00.000Z', band: '5-10%', minSavings: 0.7, maxSavings: 0.9,
    changesPerDay: 6, noise: 0.05, spikeBeforeReclaim: 0.5, spikesPerWeek: 1, outageMeanMinutes: 45, gapSeconds: 30,
    ...given,
  };
  const onDemandPrice = ON_DEMAND_USD[o.instanceType];
  if (onDemandPrice === undefined) throw new RunxError('EUSAGE', `no on-demand price for ${o.instanceType}: one of ${Object.keys(ON_DEMAND_USD).join(', ')}`);
  const p = INTERRUPTION_BANDS[o.band];
  if (p === undefined) throw new RunxError('EUSAGE', `unknown interruption band "${o.band}": one of ${Object.keys(INTERRUPTION_BANDS).join(' ')}`);
  if (!(o.days > 0 && o.days <= 366)) throw new RunxError('EUSAGE', 'days must be in (0, 366]');
  if (!(o.minSavings >= 0 && o.minSavings <= o.maxSavings && o.maxSavings < 1)) throw new RunxError('EUSAGE', 'savings must satisfy 0 ≤ min ≤ max < 1');
  const start = Date.parse(o.start);
  if (Number.isNaN(start)) throw new RunxError('EUSAGE', `bad start time "${o.start}"`);
  const end = start + o.days * DAY;
  const rnd = mulberry32(o.seed);
  const uniform = (a: number, b: number) => a + (b - a) * rnd();
  const expo = (mean: number) => -Math.log(1 - rnd()) * mean;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());

  const savings = uniform(o.minSavings, o.maxSavings);
  const base = onDemandPrice * (1 - savings);
  const perDay = o.reclaimsPerDay ?? -Math.log(1 - p) / 30;

  // Reclaims and their outages.
  const reclaims: number[] = [];
  const outages: Array<[number, number]> = [];
  for (let t = start + expo(DAY / perDay); t < end; t += expo(DAY / perDay)) {
    const until = t + Math.max(o.gapSeconds * 1000, expo(o.outageMeanMinutes * MIN));
    reclaims.push(t);
    outages.push([t, until]);
    t = until;
  }

  // Spikes: some before reclaims, some at random.
  const spikes: Array<[number, number, number]> = [];
  for (const r of reclaims) {
    if (rnd() < o.spikeBeforeReclaim) spikes.push([r - uniform(15, 90) * MIN, r, uniform(1.5, 3)]);
  }
  const spikeRate = o.spikesPerWeek / 7;
  if (spikeRate > 0) {
    for (let t = start + expo(DAY / spikeRate); t < end; t += expo(DAY / spikeRate)) spikes.push([t, t + uniform(20, 120) * MIN, uniform(1.5, 3)]);
  }

  // Price changes: the base with noise at Poisson times, then spike starts and ends.
  const events: Array<{ time: number; price?: number }> = [{ time: start }];
  for (let t = start + expo(DAY / o.changesPerDay); t < end; t += expo(DAY / o.changesPerDay)) events.push({ time: t });
  for (const [a, b] of spikes) { if (a >= start && a < end) events.push({ time: a }); if (b >= start && b < end) events.push({ time: b }); }
  events.sort((x, y) => x.time - y.time);
  let level = base;
  const prices: PricePoint[] = [];
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  for (const e of events) {
    const isSpikeEdge = spikes.some(([a, b]) => a === e.time || b === e.time);
    if (!isSpikeEdge) level = base * Math.max(0.5, 1 + o.noise * gauss());
    const spike = spikes.filter(([a, b]) => a <= e.time && e.time < b).reduce((m, s) => Math.max(m, s[2]), 1);
    const price = round(Math.min(level * spike, onDemandPrice * 1.5));
    const time = Math.round(e.time / 1000) * 1000;
    if (prices.length && prices[prices.length - 1]!.price === price) continue;
    prices.push({ time, zone: o.zone, instanceType: o.instanceType, product: 'Linux/UNIX', price });
  }

  const gapMs = o.gapSeconds * 1000;
  const ticks = Math.floor((end - start) / gapMs);
  const available = Array.from({ length: ticks }, (_, i) => {
    const t = start + i * gapMs;
    return !outages.some(([a, b]) => t >= a && t < b);
  });
  const metadata = {
    gap_seconds: o.gapSeconds,
    start: new Date(start).toISOString(),
    zone: o.zone,
    instance_type: o.instanceType,
    generator: `runx simulate generate --seed ${o.seed}`,
  };
  return { prices, preemption: { gapMs, available, metadata }, onDemandPrice, reclaims, options: o };
}
