// The pure policy: price-history parsing, risk score, peer choice, the evacuation
// planner and the leave/return hysteresis.
import { describe, expect, it } from 'vitest';
import { parseAwsPriceHistory, parsePriceCsv, parsePriceHistory, priceAt, seriesFor, toAwsPriceHistory, toPriceCsv, type PricePoint } from '../../../src/spot/policy/price-history';
import { riskScore, timeWeightedStats } from '../../../src/spot/policy/risk';
import { choosePeer, rankPeers, type PeerView } from '../../../src/spot/policy/peers';
import { checkpointMs, liveMigrationMs, planEvacuation, type ContainerLoad } from '../../../src/spot/policy/evacuation';
import { decidePlacement, type PlacementState } from '../../../src/spot/policy/hysteresis';

const H = 3_600_000;
const T0 = Date.parse('2023-05-31T00:00:00Z');
const pt = (h: number, price: number, zone = 'us-east-1a'): PricePoint => ({ time: T0 + h * H, zone, instanceType: 'm5.large', price });

describe('price history', () => {
  const json = JSON.stringify({ SpotPriceHistory: [
    { AvailabilityZone: 'us-east-1a', InstanceType: 'm5.large', ProductDescription: 'Linux/UNIX', SpotPrice: '0.034500', Timestamp: '2023-05-31T18:20:00.000Z' },
    { AvailabilityZone: 'us-east-1a', InstanceType: 'm5.large', ProductDescription: 'Linux/UNIX', SpotPrice: '0.031000', Timestamp: '2023-05-31T06:00:00.000Z' },
  ] });
  it('reads describe-spot-price-history JSON, oldest first', () => {
    const p = parseAwsPriceHistory(json);
    expect(p.map((x) => x.price)).toEqual([0.031, 0.0345]);
    expect(p[0]).toMatchObject({ zone: 'us-east-1a', instanceType: 'm5.large', product: 'Linux/UNIX' });
    expect(parsePriceHistory(json)).toEqual(p);
  });
  it('reads the CSV, with or without header, epoch seconds or ISO', () => {
    const p = parsePriceCsv('timestamp,zone,instanceType,price\n2023-05-31T06:00:00Z,us-east-1a,m5.large,0.031\n1685557200,us-east-1a,m5.large,0.0345\n');
    expect(p.map((x) => x.time)).toEqual([Date.parse('2023-05-31T06:00:00Z'), 1685557200000]);
    expect(parsePriceHistory('2023-05-31T06:00:00Z,z,t,1')).toHaveLength(1);
  });
  it('round-trips through both writers', () => {
    const pts = [pt(0, 0.03), pt(2, 0.05)];
    expect(parseAwsPriceHistory(JSON.stringify(toAwsPriceHistory(pts))).map((x) => x.price)).toEqual([0.03, 0.05]);
    expect(parsePriceCsv(toPriceCsv(pts)).map((x) => x.time)).toEqual(pts.map((x) => x.time));
    expect(toAwsPriceHistory(pts).SpotPriceHistory[0]!.SpotPrice).toBe('0.050000');
  });
  it('refuses bad input with one-line errors naming the place', () => {
    expect(() => parseAwsPriceHistory('{"SpotPriceHistory":[{"Timestamp":"x"}]}', 'f.json')).toThrow('f.json: SpotPriceHistory[0].Timestamp is not a date');
    expect(() => parseAwsPriceHistory('nope')).toThrow(/not JSON/);
    expect(() => parsePriceCsv('2023-01-01,a,b')).toThrow(/line 1 has 3 fields/);
    expect(() => parsePriceCsv('2023-01-01,a,b,-1')).toThrow(/bad price/);
  });
  it('looks up the price in force and filters one market', () => {
    const s = seriesFor([pt(0, 1), pt(1, 1), pt(2, 2), pt(3, 9, 'us-east-1b')], 'us-east-1a', 'm5.large');
    expect(s.map((x) => x.price)).toEqual([1, 2]);
    expect(priceAt(s, T0 - 1)).toBeUndefined();
    expect(priceAt(s, T0 + 1.5 * H)).toBe(1);
    expect(priceAt(s, T0 + 2 * H)).toBe(2);
  });
});

describe('risk score', () => {
  const calm = [pt(0, 0.03)];
  it('is low for a flat, cheap market', () => {
    const r = riskScore(calm, { now: T0 + 48 * H, onDemandPrice: 0.096 });
    expect(r.score).toBe(0);
    expect(r.price).toBe(0.03);
  });
  it('rises with a spike over the recent norm', () => {
    const s = [pt(0, 0.03), pt(47.5, 0.06)];
    const r = riskScore(s, { now: T0 + 48 * H, onDemandPrice: 0.096 });
    expect(r.spike).toBeGreaterThan(0.9);
    expect(r.score).toBeGreaterThan(0.35);
  });
  it('rises with volatility and with a price near on-demand', () => {
    const noisy = Array.from({ length: 48 }, (_, i) => pt(i, i % 2 ? 0.03 : 0.05));
    expect(riskScore(noisy, { now: T0 + 48 * H, onDemandPrice: 1 }).volatility).toBeGreaterThan(0.9);
    expect(riskScore([pt(0, 0.09)], { now: T0 + 1 * H, onDemandPrice: 0.096 }).level).toBeGreaterThan(0.8);
  });
  it('remembers a recent reclaim, fading with its half-life', () => {
    const fresh = riskScore(calm, { now: T0 + 10 * H, onDemandPrice: 0.096, lastReclaimAt: T0 + 10 * H });
    const old = riskScore(calm, { now: T0 + 10 * H, onDemandPrice: 0.096, lastReclaimAt: T0 + 4 * H });
    expect(fresh.reclaim).toBe(1);
    expect(old.reclaim).toBeCloseTo(0.5, 5);
    expect(fresh.score).toBeCloseTo(0.2, 5);
  });
  it('computes time-weighted statistics over step prices', () => {
    const st = timeWeightedStats([pt(0, 1), pt(1, 3)], T0, T0 + 2 * H)!;
    expect(st.mean).toBeCloseTo(2);
    expect(st.sd).toBeCloseTo(1);
    expect(st.changes).toBe(1);
    expect(timeWeightedStats([], T0, T0 + H)).toBeUndefined();
  });
});

const peers: PeerView[] = [
  { name: 'od', address: '10.0.0.2:7070', market: 'on-demand', price: 0.096, freeMemoryMiB: 4096 },
  { name: 'spot-calm', address: '10.0.0.3:7070', market: 'spot', price: 0.03, risk: 0.1, freeMemoryMiB: 1024 },
  { name: 'spot-hot', address: '10.0.0.4:7070', market: 'spot', price: 0.02, risk: 0.9, freeMemoryMiB: 8192 },
];

describe('peer choice', () => {
  it('takes the cheapest risk-adjusted peer with room', () => {
    expect(choosePeer(peers, { memoryMiB: 512 })!.peer.name).toBe('spot-calm');
    expect(choosePeer(peers, { memoryMiB: 2048 })!.peer.name).toBe('od');
    expect(choosePeer(peers, { memoryMiB: 512, market: 'on-demand' })!.peer.name).toBe('od');
  });
  it('uses a risky spot peer only as a last resort', () => {
    const c = choosePeer(peers, { memoryMiB: 6000 })!;
    expect(c.peer.name).toBe('spot-hot');
    expect(c.risky).toBe(true);
    expect(rankPeers(peers, { memoryMiB: 100 }).map((x) => x.peer.name)).toEqual(['spot-calm', 'od', 'spot-hot']);
  });
  it('skips unreachable and excluded peers', () => {
    expect(choosePeer(peers.map((p) => ({ ...p, reachable: p.name !== 'spot-calm' })), { memoryMiB: 1 })!.peer.name).toBe('od');
    expect(choosePeer(peers, { memoryMiB: 1, exclude: new Set(['spot-calm', 'od', 'spot-hot']) })).toBeUndefined();
  });
});

describe('evacuation planner', () => {
  const idle = (id: string, memoryMiB = 256, dirtyRateMiBps = 1): ContainerLoad => ({ id, memoryMiB, dirtyRateMiBps });
  const od: PeerView[] = [{ name: 'b', address: 'b:1', market: 'on-demand', price: 0.096, freeMemoryMiB: 100_000 }];

  it('estimates live and checkpoint times', () => {
    expect(liveMigrationMs(idle('a', 256, 0), 128, { setupMs: 0, downtimeMs: 0 })).toBe(2000);
    expect(liveMigrationMs(idle('a', 256, 64), 128, { setupMs: 0, downtimeMs: 0 })).toBe(4000);
    expect(liveMigrationMs(idle('a', 256, 120), 128)).toBe(Infinity);
    expect(checkpointMs({ id: 'a', memoryMiB: 256, diskMiB: 256 }, 128, { setupMs: 0 })).toBe(4000);
  });

  it('migrates 8 idle 256 MiB containers live inside a 30 s notice on a fast link', () => {
    const plan = planEvacuation({ containers: Array.from({ length: 8 }, (_, i) => idle(`c${i}`)), peers: od, now: 0, deadline: 30_000, linkMiBps: 1000 });
    expect(plan.allFit).toBe(true);
    expect(plan.steps.every((s) => s.mode === 'live' && s.peer === 'b')).toBe(true);
    expect(plan.totalMs).toBeLessThanOrEqual(plan.budgetMs);
    // sequential: each starts when the previous ends
    for (let i = 1; i < plan.steps.length; i++) expect(plan.steps[i]!.startMs).toBe(plan.steps[i - 1]!.endMs);
  });

  it('falls back to checkpoint-to-peer for the ones that cannot make it live, shortest first', () => {
    const cs = [idle('big', 2048, 60), idle('busy', 256, 90), idle('small', 128, 1)];
    const plan = planEvacuation({ containers: cs, peers: od, now: 0, deadline: 30_000, linkMiBps: 100, safetyMarginMs: 2000 });
    const by = Object.fromEntries(plan.steps.map((s) => [s.containerId, s]));
    expect(by.busy!.mode).toBe('checkpoint-to-peer');
    expect(by.busy!.reason).toMatch(/dirty rate/);
    expect(by.small!.mode).toBe('live');
    expect(by.big!.mode).toBe('checkpoint-to-peer');
    expect(plan.allFit).toBe(true);
    expect(plan.steps[0]!.containerId).toBe('small');
  });

  it('marks steps that cannot end in time but still plans them', () => {
    const plan = planEvacuation({ containers: [idle('a', 4096), idle('b', 4096)], peers: od, now: 0, deadline: 30_000, linkMiBps: 100 });
    expect(plan.allFit).toBe(false);
    expect(plan.steps.map((s) => s.mode)).toEqual(['checkpoint-to-peer', 'checkpoint-to-peer']);
    expect(plan.steps.filter((s) => !s.fits).length).toBeGreaterThan(0);
  });

  it('packs by memory across peers and checkpoints what no peer can hold', () => {
    const small: PeerView[] = [
      { name: 'p1', address: 'p1:1', market: 'on-demand', price: 0.1, freeMemoryMiB: 512 },
      { name: 'p2', address: 'p2:1', market: 'spot', price: 0.03, risk: 0.1, freeMemoryMiB: 256 },
    ];
    const plan = planEvacuation({ containers: [idle('a'), idle('b'), idle('c'), idle('d')], peers: small, now: 0, deadline: 120_000, linkMiBps: 1000 });
    const peersUsed = plan.steps.map((s) => `${s.containerId}@${s.peer}:${s.mode}`).sort();
    expect(peersUsed).toEqual(['a@p2:live', 'b@p1:live', 'c@p1:live', 'd@p2:checkpoint-to-peer']);
    expect(plan.steps.find((s) => s.containerId === 'd')!.reason).toMatch(/no peer has memory/);
  });

  it('reports containers with no reachable peer as unplaced', () => {
    const plan = planEvacuation({ containers: [idle('a')], peers: [{ ...od[0]!, reachable: false }], now: 0, deadline: 30_000, linkMiBps: 1000 });
    expect(plan.unplaced).toEqual([{ containerId: 'a', reason: 'no reachable peer' }]);
    expect(plan.allFit).toBe(false);
  });

  it('splits the link over concurrent slots', () => {
    const plan = planEvacuation({ containers: [idle('a'), idle('b')], peers: od, now: 0, deadline: 60_000, linkMiBps: 200, concurrency: 2 });
    expect(plan.steps.map((s) => [s.slot, s.startMs, s.bandwidthMiBps])).toEqual([[0, 0, 100], [1, 0, 100]]);
  });
});

describe('leave/return hysteresis', () => {
  const obs = (now: number, risk: number, spotPrice = 0.03) => ({ now, risk, spotPrice, onDemandPrice: 0.096 });
  it('leaves spot at high risk or when spot is dear', () => {
    expect(decidePlacement({ on: 'spot' }, obs(0, 0.7)).action).toBe('leave-spot');
    expect(decidePlacement({ on: 'spot' }, obs(0, 0.1, 0.1)).action).toBe('leave-spot');
    expect(decidePlacement({ on: 'spot' }, obs(0, 0.35)).action).toBe('stay');
  });
  it('returns only after a calm spell, with savings, and not too soon', () => {
    let s: PlacementState = { on: 'on-demand', lastMoveAt: 0 };
    const opts = { calmForMs: 30 * 60_000, minDwellMs: 60 * 60_000 };
    const step = (t: number, risk: number, price?: number) => { const d = decidePlacement(s, obs(t, risk, price), opts); s = d.state; return d.action; };
    expect(step(10 * 60_000, 0.1)).toBe('stay'); // calm starts
    expect(step(45 * 60_000, 0.1)).toBe('stay'); // calm 35 min, but dwell < 1 h
    expect(step(50 * 60_000, 0.3)).toBe('stay'); // inside the band: calm resets
    expect(step(70 * 60_000, 0.1)).toBe('stay');
    expect(step(95 * 60_000, 0.1, 0.09)).toBe('stay'); // too little saved
    expect(step(101 * 60_000, 0.1)).toBe('return-to-spot');
    expect(s.on).toBe('spot');
  });
  it('does not flap on a risk oscillating inside the band', () => {
    let s: PlacementState = { on: 'spot' };
    const actions: string[] = [];
    for (let i = 0; i < 200; i++) {
      const d = decidePlacement(s, obs(i * 60_000, i % 2 ? 0.27 : 0.38));
      s = d.state; actions.push(d.action);
    }
    expect(actions.every((a) => a === 'stay')).toBe(true);
  });
});
