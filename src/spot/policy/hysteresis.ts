// When to leave spot and when to come back, without flapping. Two thresholds make a
// band: leave when risk rises to `leaveAbove` (or spot costs as much as on-demand),
// return only after risk has stayed at or below `returnBelow` for `calmForMs`, spot
// is at least `minSavings` cheaper, and the last move is `minDwellMs` old. A pure
// function of (state, observation): the caller keeps the state.
export interface PlacementState {
  on: 'spot' | 'on-demand';
  /** Since when the market has been continuously calm (undefined: not calm now). */
  calmSince?: number;
  lastMoveAt?: number;
}

export interface MarketObservation {
  now: number;
  risk: number;
  spotPrice: number;
  onDemandPrice: number;
}

export interface HysteresisOptions {
  leaveAbove?: number;
  returnBelow?: number;
  calmForMs?: number;
  minDwellMs?: number;
  /** Fraction of on-demand the spot price must save to be worth returning, 0..1. */
  minSavings?: number;
}

export const DEFAULT_HYSTERESIS: Required<HysteresisOptions> = {
  leaveAbove: 0.4, returnBelow: 0.25, calmForMs: 15 * 60_000, minDwellMs: 30 * 60_000, minSavings: 0.2,
};

export interface PlacementDecision {
  action: 'stay' | 'leave-spot' | 'return-to-spot';
  state: PlacementState;
  reason: string;
}

export function decidePlacement(state: PlacementState, obs: MarketObservation, options: HysteresisOptions = {}): PlacementDecision {
  const o = { ...DEFAULT_HYSTERESIS };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, number>)[k] = v;
  if (o.returnBelow > o.leaveAbove) throw new RangeError('returnBelow must not exceed leaveAbove');
  const calm = obs.risk <= o.returnBelow;
  const next: PlacementState = { ...state, calmSince: calm ? (state.calmSince ?? obs.now) : undefined };
  if (state.on === 'spot') {
    if (obs.risk >= o.leaveAbove) return { action: 'leave-spot', state: { ...next, on: 'on-demand', lastMoveAt: obs.now }, reason: `risk ${obs.risk.toFixed(2)} ≥ ${o.leaveAbove}` };
    if (obs.spotPrice >= obs.onDemandPrice) return { action: 'leave-spot', state: { ...next, on: 'on-demand', lastMoveAt: obs.now }, reason: 'spot costs as much as on-demand' };
    return { action: 'stay', state: next, reason: 'spot is fine' };
  }
  const savings = obs.onDemandPrice > 0 ? 1 - obs.spotPrice / obs.onDemandPrice : 0;
  if (!calm) return { action: 'stay', state: next, reason: `risk ${obs.risk.toFixed(2)} > ${o.returnBelow}` };
  if (obs.now - next.calmSince! < o.calmForMs) return { action: 'stay', state: next, reason: 'not calm for long enough' };
  if (savings < o.minSavings) return { action: 'stay', state: next, reason: `spot saves only ${(savings * 100).toFixed(0)}%` };
  if (state.lastMoveAt !== undefined && obs.now - state.lastMoveAt < o.minDwellMs) return { action: 'stay', state: next, reason: 'moved too recently' };
  return { action: 'return-to-spot', state: { ...next, on: 'spot', lastMoveAt: obs.now }, reason: 'calm and cheaper' };
}
