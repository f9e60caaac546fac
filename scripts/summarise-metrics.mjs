#!/usr/bin/env node
// Summarises a run's metrics.jsonl (written by `npm run facm -- train`): means of the losses and
// residual statistics over the first and last windows of steps, so runs can be compared in a note.
// Usage: node scripts/summarise-metrics.mjs runs/a/metrics.jsonl [runs/b/metrics.jsonl ...] [--window 40]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const wi = args.indexOf('--window');
const window = wi >= 0 ? Number(args.splice(wi, 2)[1]) : 40;
const keys = ['loss', 'lossFM', 'lossCM', 'gradNorm', 'clampFrac', 'rmsG', 'rmsKdFdt', 'rmsV'];
const mean = (rows, k) => {
  const xs = rows.map((r) => r[k]).filter((x) => typeof x === 'number');
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
};
for (const file of args) {
  const rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const first = rows.slice(0, window);
  const last = rows.slice(-window);
  const nonFinite = rows.find((r) => r.nonFinite || keys.slice(0, 3).some((k) => r[k] === null));
  console.log(`${file}: ${rows.length} steps${nonFinite ? `, first non-finite at step ${nonFinite.step}` : ''}`);
  for (const k of keys) console.log(`  ${k.padEnd(9)} first ${window}: ${mean(first, k).toPrecision(4).padStart(9)}   last ${window}: ${mean(last, k).toPrecision(4).padStart(9)}`);
}
