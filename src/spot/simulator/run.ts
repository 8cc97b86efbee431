// What `runx simulate` does: read the trace files (price history as AWS JSON or CSV,
// an optional preemption trace in the spot-traces shape), pick one market, run the
// policy and the baselines, and render the result; and what `runx simulate generate`
// does: write a generated trace set in the real formats.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError, messageOf } from '../../errors';
import { parsePriceHistory, seriesFor, toAwsPriceHistory, toPriceCsv } from '../policy/price-history';
import type { ContainerLoad } from '../policy/evacuation';
import { ON_DEMAND_USD, generateTraces, type GenerateOptions } from './generate';
import { simulate, formatTable, type SimulationInput, type SimulationPolicy, type StrategyResult } from './simulate';
import { parsePreemptionTrace, toPreemptionJson, type Polarity } from './traces';

export interface SimulateOptions {
  prices: string;
  preemptions?: string;
  polarity?: Polarity;
  zone?: string;
  instanceType?: string;
  onDemandPrice?: number;
  containers: number;
  memoryMiB: number;
  dirtyRateMiBps: number;
  diskMiB: number;
  linkMiBps: number;
  noticeSeconds: number;
  /** JSON file holding a SimulationPolicy. */
  policy?: string;
  format: 'text' | 'json';
}

export interface SimulationReport {
  market: { zone: string; instanceType: string; onDemandPrice: number; start: string; end: string; pricePoints: number; reclaims: number };
  containers: { count: number; memoryMiB: number; dirtyRateMiBps: number };
  results: StrategyResult[];
}

function readText(file: string, what: string): string {
  try { return fs.readFileSync(file, 'utf8'); } catch (err) {
    throw new RunxError('ENOTFOUND', `cannot read ${what} ${file}: ${messageOf(err)}`);
  }
}

export function buildInput(o: SimulateOptions): { input: SimulationInput; report: Omit<SimulationReport, 'results'> } {
  const all = parsePriceHistory(readText(o.prices, 'price history'), o.prices);
  if (!all.length) throw new RunxError('ECONFIG', `${o.prices}: no prices`);
  const instanceType = o.instanceType ?? all[0]!.instanceType;
  const zone = o.zone ?? all.find((p) => p.instanceType === instanceType)?.zone;
  const prices = zone ? seriesFor(all, zone, instanceType) : [];
  if (!zone || !prices.length) throw new RunxError('EUSAGE', `${o.prices}: no prices for ${instanceType} in ${zone ?? 'any zone'}`);
  const onDemandPrice = o.onDemandPrice ?? ON_DEMAND_USD[instanceType];
  if (onDemandPrice === undefined) throw new RunxError('EUSAGE', `no built-in on-demand price for ${instanceType}: give --on-demand-price`);
  const preemption = o.preemptions ? parsePreemptionTrace(readText(o.preemptions, 'preemption trace'), o.polarity, o.preemptions) : undefined;
  const stated = typeof preemption?.metadata.start === 'string' ? Date.parse(preemption.metadata.start) : NaN;
  const start = Number.isNaN(stated) ? prices[0]!.time : stated;
  const durationMs = preemption ? preemption.available.length * preemption.gapMs : Math.max(60_000, prices[prices.length - 1]!.time - start);
  let policy: SimulationPolicy | undefined;
  if (o.policy) {
    try { policy = JSON.parse(readText(o.policy, 'policy')) as SimulationPolicy; } catch (err) {
      if (err instanceof RunxError) throw err;
      throw new RunxError('ECONFIG', `${o.policy}: not JSON`);
    }
  }
  for (const [k, v] of Object.entries({ containers: o.containers, 'memory-mib': o.memoryMiB, 'link-mibps': o.linkMiBps, 'notice-seconds': o.noticeSeconds })) {
    if (!(Number.isFinite(v) && v > 0)) throw new RunxError('EUSAGE', `--${k} must be a positive number`);
  }
  const containers: ContainerLoad[] = Array.from({ length: Math.floor(o.containers) }, (_, i) => ({
    id: `c${i}`, memoryMiB: o.memoryMiB, dirtyRateMiBps: o.dirtyRateMiBps, diskMiB: o.diskMiB,
  }));
  const input: SimulationInput = {
    prices, onDemandPrice, preemption, start, durationMs, containers,
    noticeMs: o.noticeSeconds * 1000, linkMiBps: o.linkMiBps, policy,
  };
  const reclaims = preemption ? preemption.available.filter((a, i) => i > 0 && !a && preemption.available[i - 1]).length : 0;
  return {
    input,
    report: {
      market: { zone, instanceType, onDemandPrice, start: new Date(start).toISOString(), end: new Date(start + durationMs).toISOString(), pricePoints: prices.length, reclaims },
      containers: { count: containers.length, memoryMiB: o.memoryMiB, dirtyRateMiBps: o.dirtyRateMiBps },
    },
  };
}

export function runSimulation(o: SimulateOptions): { report: SimulationReport; text: string } {
  const { input, report } = buildInput(o);
  const full: SimulationReport = { ...report, results: simulate(input) };
  if (o.format === 'json') return { report: full, text: `${JSON.stringify(full, null, 2)}\n` };
  const m = full.market;
  const head = `market ${m.instanceType} ${m.zone}, ${m.start} → ${m.end}, ${m.pricePoints} price changes, ${m.reclaims} reclaims, on-demand $${m.onDemandPrice}/h\n`
    + `${full.containers.count} containers × ${full.containers.memoryMiB} MiB, dirty ${full.containers.dirtyRateMiBps} MiB/s\n\n`;
  return { report: full, text: head + formatTable(full.results) };
}

/** Writes <dir>/<name>.prices.json, .prices.csv and .preemption.json; returns their paths. */
export function writeGenerated(o: GenerateOptions, dir: string, name: string): string[] {
  const g = generateTraces(o);
  fs.mkdirSync(dir, { recursive: true });
  const files: Array<[string, string]> = [
    [`${name}.prices.json`, `${JSON.stringify(toAwsPriceHistory(g.prices), null, 1)}\n`],
    [`${name}.prices.csv`, toPriceCsv(g.prices)],
    [`${name}.preemption.json`, `${JSON.stringify(toPreemptionJson(g.preemption, 'available'))}\n`],
  ];
  return files.map(([f, text]) => {
    const p = path.join(dir, f);
    fs.writeFileSync(p, text);
    return p;
  });
}
