// The workload's dirty rate from its "tick <guest uptime s>" lines (one per round of
// MIB MiB written): MIB x (rounds between the first and last tick) / (their distance
// in guest seconds). Prints MiB/s with one decimal, or nothing with fewer than 2 ticks.
// Usage: dirty-rate.mjs FILE MIB (also importable: dirtyRate(text, mib)).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export function dirtyRate(text, mib) {
  const t = [...text.matchAll(/^tick ([0-9.]+)/gm)].map((m) => Number(m[1]));
  if (t.length < 2 || !(t.at(-1) > t[0])) return undefined;
  return ((t.length - 1) * mib) / (t.at(-1) - t[0]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let text = '';
  try { text = fs.readFileSync(process.argv[2], 'utf8'); } catch { /* no output yet */ }
  const r = dirtyRate(text, Number(process.argv[3]));
  if (r !== undefined) console.log(r.toFixed(1));
}
