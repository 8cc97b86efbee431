// Spot price history in its two accepted shapes: AWS `describe-spot-price-history`
// JSON ({"SpotPriceHistory":[{AvailabilityZone, InstanceType, ProductDescription,
// SpotPrice (a string), Timestamp}]}, changes only, often newest first) and a plain
// CSV `timestamp,zone,instanceType,price` (a header line optional). Both become
// PricePoints sorted by time; a price holds until the next change.
import { RunxError } from '../../errors';

export interface PricePoint {
  /** ms since the epoch */
  time: number;
  zone: string;
  instanceType: string;
  product?: string;
  /** USD per instance-hour */
  price: number;
}

function bad(where: string, what: string): RunxError {
  return new RunxError('ECONFIG', `${where}: ${what}`);
}

export function parseAwsPriceHistory(text: string, where = 'price history'): PricePoint[] {
  let doc: unknown;
  try { doc = JSON.parse(text); } catch { throw bad(where, 'not JSON'); }
  const list = (doc as { SpotPriceHistory?: unknown })?.SpotPriceHistory;
  if (!Array.isArray(list)) throw bad(where, 'SpotPriceHistory is not a list');
  const out = list.map((e: Record<string, unknown>, i) => {
    const time = typeof e?.Timestamp === 'string' ? Date.parse(e.Timestamp) : NaN;
    const price = typeof e?.SpotPrice === 'string' || typeof e?.SpotPrice === 'number' ? Number(e.SpotPrice) : NaN;
    if (Number.isNaN(time)) throw bad(where, `SpotPriceHistory[${i}].Timestamp is not a date`);
    if (!Number.isFinite(price) || price < 0) throw bad(where, `SpotPriceHistory[${i}].SpotPrice is not a price`);
    if (typeof e.AvailabilityZone !== 'string' || typeof e.InstanceType !== 'string') throw bad(where, `SpotPriceHistory[${i}] lacks AvailabilityZone or InstanceType`);
    const p: PricePoint = { time, zone: e.AvailabilityZone, instanceType: e.InstanceType, price };
    if (typeof e.ProductDescription === 'string') p.product = e.ProductDescription;
    return p;
  });
  return out.sort((a, b) => a.time - b.time);
}

export function parsePriceCsv(text: string, where = 'price CSV'): PricePoint[] {
  const out: PricePoint[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith('#')) return;
    const cells = l.split(',').map((c) => c.trim());
    if (i === 0 && cells[0]?.toLowerCase() === 'timestamp') return;
    if (cells.length !== 4) throw bad(where, `line ${i + 1} has ${cells.length} fields, not 4 (timestamp,zone,instanceType,price)`);
    const [ts, zone, instanceType, priceText] = cells as [string, string, string, string];
    const time = /^\d+(\.\d+)?$/.test(ts) ? Number(ts) * 1000 : Date.parse(ts);
    const price = Number(priceText);
    if (Number.isNaN(time)) throw bad(where, `line ${i + 1}: bad timestamp "${ts}"`);
    if (!Number.isFinite(price) || price < 0 || priceText === '') throw bad(where, `line ${i + 1}: bad price "${priceText}"`);
    out.push({ time, zone, instanceType, price });
  });
  return out.sort((a, b) => a.time - b.time);
}

/** JSON if it starts with `{`, else CSV. */
export function parsePriceHistory(text: string, where?: string): PricePoint[] {
  return text.trimStart().startsWith('{') ? parseAwsPriceHistory(text, where) : parsePriceCsv(text, where);
}

/** One zone and instance type's series, sorted, consecutive repeats dropped. */
export function seriesFor(points: PricePoint[], zone: string, instanceType: string): PricePoint[] {
  const out: PricePoint[] = [];
  for (const p of points) {
    if (p.zone !== zone || p.instanceType !== instanceType) continue;
    if (out.length && out[out.length - 1]!.price === p.price) continue;
    out.push(p);
  }
  return out;
}

/** The price in force at `time` (the last change at or before it), or undefined before the first. */
export function priceAt(series: PricePoint[], time: number): number | undefined {
  let lo = 0;
  let hi = series.length - 1;
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (series[mid]!.time <= time) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found === undefined ? undefined : series[found]!.price;
}

/** Renders points in describe-spot-price-history's shape (newest first, as AWS lists them). */
export function toAwsPriceHistory(points: PricePoint[]): { SpotPriceHistory: Array<Record<string, string>> } {
  return {
    SpotPriceHistory: [...points].sort((a, b) => b.time - a.time).map((p) => ({
      AvailabilityZone: p.zone,
      InstanceType: p.instanceType,
      ProductDescription: p.product ?? 'Linux/UNIX',
      SpotPrice: p.price.toFixed(6),
      Timestamp: new Date(p.time).toISOString(),
    })),
  };
}

export function toPriceCsv(points: PricePoint[]): string {
  return ['timestamp,zone,instanceType,price', ...points.map((p) => `${new Date(p.time).toISOString()},${p.zone},${p.instanceType},${p.price.toFixed(6)}`)].join('\n') + '\n';
}
