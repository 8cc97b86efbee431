// The trace generator (seeded, calibrated), the trace readers, the simulator's
// accounting for the policy and each baseline, and the shipped example traces.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateTraces, mulberry32, ON_DEMAND_USD } from '../../../src/spot/simulator/generate';
import { parsePreemptionTrace, reclaimTicks, toPreemptionJson } from '../../../src/spot/simulator/traces';
import { runStrategy, simulate, type SimulationInput } from '../../../src/spot/simulator/simulate';
import { runSimulation, writeGenerated } from '../../../src/spot/simulator/run';
import type { PricePoint } from '../../../src/spot/policy/price-history';

const H = 3_600_000;
const T0 = Date.parse('2024-01-01T00:00:00Z');

describe('trace generator', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateTraces({ seed: 7, instanceType: 'm5.large', days: 3 });
    const b = generateTraces({ seed: 7, instanceType: 'm5.large', days: 3 });
    const c = generateTraces({ seed: 8, instanceType: 'm5.large', days: 3 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.prices)).not.toBe(JSON.stringify(c.prices));
    expect(mulberry32(1)()).toBe(mulberry32(1)());
  });
  it('keeps typical spot savings in 70–90% of on-demand', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const g = generateTraces({ seed, instanceType: 'p3.2xlarge', days: 7, spikesPerWeek: 0, spikeBeforeReclaim: 0 });
      const prices = g.prices.map((p) => p.price);
      const mean = prices.reduce((s, x) => s + x, 0) / prices.length;
      expect(mean / ON_DEMAND_USD['p3.2xlarge']!).toBeGreaterThan(0.08);
      expect(mean / ON_DEMAND_USD['p3.2xlarge']!).toBeLessThan(0.33);
    }
  });
  it('reclaims at the band\'s monthly rate (on average) and samples every 30 s', () => {
    let reclaims = 0;
    const runs = 300;
    for (let seed = 1; seed <= runs; seed++) reclaims += generateTraces({ seed, instanceType: 'm5.large', days: 360, band: '>20%', gapSeconds: 3600 }).reclaims.length;
    // −ln(1 − 0.25) ≈ 0.288 a month
    const perMonth = reclaims / runs / 12;
    expect(perMonth).toBeGreaterThan(0.25);
    expect(perMonth).toBeLessThan(0.33);
    const g = generateTraces({ seed: 3, instanceType: 'm5.large', days: 1, reclaimsPerDay: 4 });
    expect(g.preemption.gapMs).toBe(30_000);
    expect(g.preemption.available).toHaveLength(2880);
    expect(reclaimTicks(g.preemption).length).toBe(g.reclaims.length);
  });
  it('refuses unknown types and bands', () => {
    expect(() => generateTraces({ seed: 1, instanceType: 'x1.huge', days: 1 })).toThrow(/no on-demand price for x1.huge/);
    expect(() => generateTraces({ seed: 1, instanceType: 'm5.large', days: 1, band: '50%' })).toThrow(/unknown interruption band/);
  });
});

describe('preemption traces', () => {
  const text = JSON.stringify({ metadata: { gap_seconds: 30 }, data: [1, 1, 0, 0, 1] });
  it('needs the polarity when the file does not state it', () => {
    expect(() => parsePreemptionTrace(text, undefined, 't.json')).toThrow('t.json: the file does not state its polarity: give --polarity available|preempted');
    expect(parsePreemptionTrace(text, 'available').available).toEqual([true, true, false, false, true]);
    expect(parsePreemptionTrace(text, 'preempted').available).toEqual([false, false, true, true, false]);
  });
  it('round-trips with the polarity stated, and rejects malformed files', () => {
    const t = parsePreemptionTrace(text, 'available');
    expect(parsePreemptionTrace(JSON.stringify(toPreemptionJson(t, 'preempted')), undefined).available).toEqual(t.available);
    expect(() => parsePreemptionTrace('{"metadata":{},"data":[1]}', 'available')).toThrow(/gap_seconds/);
    expect(() => parsePreemptionTrace('{"metadata":{"gap_seconds":30},"data":[1,"x"]}', 'available')).toThrow(/data\[1\]/);
  });
});

describe('simulator', () => {
  const flat: PricePoint[] = [{ time: T0, zone: 'z', instanceType: 'm5.large', price: 0.024 }];
  const containers = Array.from({ length: 4 }, (_, i) => ({ id: `c${i}`, memoryMiB: 256, dirtyRateMiBps: 1 }));
  const day = 24 * H;
  // One reclaim at 12 h, capacity back 1 h later; 30 s ticks.
  const available = Array.from({ length: 2880 }, (_, i) => !(i >= 1440 && i < 1560));
  const base: SimulationInput = {
    prices: flat, onDemandPrice: 0.096, start: T0, durationMs: day, containers, noticeMs: 120_000, linkMiBps: 100,
    preemption: { gapMs: 30_000, available, metadata: {} },
  };

  it('charges on-demand for the on-demand baseline', () => {
    const r = runStrategy('on-demand', base);
    expect(r.cost).toBeCloseTo(0.096 * 24, 6);
    expect(r.costRatio).toBeCloseTo(1, 6);
    expect(r.migrations + r.containersLost).toBe(0);
  });

  it('loses every container on a reclaim when it just restarts on spot', () => {
    const r = runStrategy('spot-restart', base);
    expect(r.containersLost).toBe(4);
    expect(r.reclaims).toBe(1);
    // down for the 1 h outage plus a 60 s restart, per container
    expect(r.downtimeSeconds).toBeCloseTo(4 * (3600 + 60), 0);
    expect(r.cost).toBeCloseTo(0.024 * 23, 6);
  });

  it('evacuates on the notice and comes back afterwards (notice-only and policy)', () => {
    for (const s of ['notice-only', 'policy'] as const) {
      const r = runStrategy(s, base);
      expect(r.containersLost).toBe(0);
      expect(r.reclaims).toBe(1);
      expect(r.migrations).toBe(8); // out and back
      expect(r.costRatio).toBeLessThan(0.5);
      expect(r.downtimeSecPerContainerDay).toBeLessThan(1);
    }
  });

  it('loses the containers that cannot leave within a short notice', () => {
    const big = { ...base, noticeMs: 30_000, containers: Array.from({ length: 4 }, (_, i) => ({ id: `c${i}`, memoryMiB: 2048, dirtyRateMiBps: 10 })) };
    const r = runStrategy('notice-only', big);
    expect(r.containersLost).toBeGreaterThan(0);
    expect(r.containersLost).toBeLessThan(4);
  });

  it('leaves spot before a reclaim when the price spikes first (policy only)', () => {
    const spiky: PricePoint[] = [...flat, { time: T0 + 11 * H, zone: 'z', instanceType: 'm5.large', price: 0.07 }, { time: T0 + 13 * H, zone: 'z', instanceType: 'm5.large', price: 0.024 }];
    const big = { ...base, prices: spiky, noticeMs: 30_000, containers: Array.from({ length: 4 }, (_, i) => ({ id: `c${i}`, memoryMiB: 2048, dirtyRateMiBps: 10 })) };
    const pol = runStrategy('policy', big);
    const reactive = runStrategy('notice-only', big);
    expect(pol.proactiveMoves).toBe(1);
    expect(pol.reclaims).toBe(0);
    expect(pol.containersLost).toBe(0);
    expect(reactive.containersLost).toBeGreaterThan(0);
  });

  it('runs all four strategies', () => {
    expect(simulate(base).map((r) => r.strategy)).toEqual(['policy', 'on-demand', 'spot-restart', 'notice-only']);
  });
});

describe('simulate over files', () => {
  const opts = { containers: 8, memoryMiB: 256, dirtyRateMiBps: 1, diskMiB: 0, linkMiBps: 100, noticeSeconds: 120 };
  it('reads generated JSON and CSV price files alike, and prints a table or JSON', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-sim-'));
    try {
      writeGenerated({ seed: 5, instanceType: 'c5.xlarge', days: 2, reclaimsPerDay: 2 }, dir, 't');
      const j = runSimulation({ ...opts, prices: path.join(dir, 't.prices.json'), preemptions: path.join(dir, 't.preemption.json'), format: 'json' });
      const c = runSimulation({ ...opts, prices: path.join(dir, 't.prices.csv'), preemptions: path.join(dir, 't.preemption.json'), format: 'text' });
      expect(c.report.results).toEqual(j.report.results);
      expect(JSON.parse(j.text).market).toMatchObject({ instanceType: 'c5.xlarge', onDemandPrice: 0.17 });
      expect(c.text).toMatch(/^STRATEGY +COST USD +VS ON-DEMAND +MIGRATIONS +LOST/m);
      expect(() => runSimulation({ ...opts, prices: path.join(dir, 'nope.json'), format: 'text' })).toThrow(/cannot read price history/);
    } finally { fs.rmSync(dir, { recursive: true }); }
  });

  it('the shipped example traces are what their README says the generator makes', () => {
    const ex = path.resolve(__dirname, '../../../examples/traces');
    const readme = fs.readFileSync(path.join(ex, 'README.md'), 'utf8');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runx-ex-'));
    try {
      for (const m of readme.matchAll(/^runx simulate generate (.+)$/gm)) {
        const args = m[1]!.split(/\s+/);
        const get = (k: string) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1]!.replace(/^'|'$/g, '') : undefined; };
        const name = get('--name')!;
        writeGenerated({
          seed: Number(get('--seed')), instanceType: get('--instance-type') ?? 'm5.large', zone: get('--zone') ?? 'us-east-1a',
          days: Number(get('--days') ?? 7), band: get('--band') ?? '5-10%', reclaimsPerDay: get('--reclaims-per-day') ? Number(get('--reclaims-per-day')) : undefined,
        }, dir, name);
        for (const f of [`${name}.prices.json`, `${name}.prices.csv`, `${name}.preemption.json`]) {
          expect(fs.readFileSync(path.join(dir, f), 'utf8'), f).toBe(fs.readFileSync(path.join(ex, f), 'utf8'));
        }
      }
    } finally { fs.rmSync(dir, { recursive: true }); }
  });
});
