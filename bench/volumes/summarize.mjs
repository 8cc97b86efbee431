#!/usr/bin/env node
// Summarizes measure.sh's lines ("section case figure value"): median [min - max] of
// each figure, then the ratios A/B taken pair by pair: the k-th figure of A with the
// k-th of B, which measure.sh took side by side (same container, or the same round).
// Usage: summarize.mjs RESULTS_FILE
import fs from 'node:fs';

const by = new Map();
for (const l of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
  const [s, c, f, v] = l.trim().split(/\s+/);
  if (v === undefined || Number.isNaN(Number(v))) continue;
  const k = `${s} ${c}`;
  if (!by.has(k)) by.set(k, { figure: f, values: [] });
  by.get(k).values.push(Number(v));
}
const med = (a) => { const b = [...a].sort((x, y) => x - y); const n = b.length; return n % 2 ? b[(n - 1) / 2] : (b[n / 2 - 1] + b[n / 2]) / 2; };
const fmt = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(3));
const line = (name, a) => `${name}  median ${fmt(med(a))}  [${fmt(Math.min(...a))} - ${fmt(Math.max(...a))}]  n=${a.length}`;

console.log('--- figures: median [min - max] ---');
for (const [k, { figure, values }] of by) console.log(line(`${k} ${figure}`, values));

const pairs = [
  ['writer fsync-9p', 'writer fsync-blk'],
  ['writer dd128-9p', 'writer dd128-blk'],
  ['cache fsync-writeback', 'cache fsync-unsafe'],
  ['cache fsync-none', 'cache fsync-unsafe'],
  ['cache fsync-none', 'cache fsync-writeback'],
  ['cache dd128-writeback', 'cache dd128-unsafe'],
  ['cache dd128-none', 'cache dd128-unsafe'],
  ...['big', 'small'].flatMap((s) => ['mkfs-nojournal', 'mkfs-journal', 'mkfs-J16', 'cp+fsync'].map((v) => [`fill ${s}-${v}`, `fill ${s}-cp`])),
  ...['big', 'small'].flatMap((s) => ['mkfs-nojournal', 'mkfs-journal', 'mkfs-J16'].map((v) => [`fill ${s}-${v}`, `fill ${s}-cp+fsync`])),
  ['mirror drive-mirror', 'mirror cp-sparse'],
  ['mirror drive-mirror', 'mirror cp-sparse+fsync'],
];
console.log('--- ratios A/B, pair by pair: median [min - max] ---');
for (const [a, b] of pairs) {
  const A = by.get(a)?.values, B = by.get(b)?.values;
  if (!A || !B) continue;
  const n = Math.min(A.length, B.length);
  const r = Array.from({ length: n }, (_, i) => A[i] / B[i]);
  console.log(line(`${a} / ${b}`, r));
}
