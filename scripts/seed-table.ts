// The high-learning-rate seed table (README "Stability"): for each seed and objective, train with the
// CLI, sample NFE 1 from the online weights and read the mean nearest-image distance. A run counts as
// collapsed by the playground's own rule (noiseLike, the runs table's "samples ≈ noise" badge). One
// line of JSON per (objective, seed) to stdout as it goes, then the table with the flagged counts.
// Usage: node --import tsx scripts/seed-table.ts [--seeds 0-9] [--steps 300] [--lr 3e-2] [--batch 8]
//        [--objectives cm-no-anchor,facm] [--dataset shapes8] [--out runs/seeds]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { noiseLike } from '../src/data/nearest';

const { values: o } = parseArgs({
  options: {
    seeds: { type: 'string', default: '0-9' },
    steps: { type: 'string', default: '300' },
    lr: { type: 'string', default: '3e-2' },
    batch: { type: 'string', default: '8' },
    objectives: { type: 'string', default: 'cm-no-anchor,facm' },
    dataset: { type: 'string', default: 'shapes8' },
    preset: { type: 'string', default: 'tiny' },
    out: { type: 'string', default: 'runs/seeds' },
  },
});
const seeds = o.seeds.includes('-')
  ? (([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i))(o.seeds.split('-').map(Number))
  : o.seeds.split(',').map(Number);
const facm = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`facm ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
};
const rows: Record<string, Record<number, { samples: number; flagged: boolean }>> = {};
for (const seed of seeds) {
  for (const objective of o.objectives.split(',')) {
    const dir = join(o.out, `${objective}-lr${o.lr}-s${seed}`);
    const t0 = Date.now();
    facm('train', '--preset', o.preset, '--objective', objective, '--dataset', o.dataset, '--steps', o.steps, '--batch', o.batch,
      '--lr', o.lr, '--seed', String(seed), '--out', dir, '--autosave-every', '0', '--log-every', '100');
    const s = facm('sample', '--ckpt', join(dir, 'checkpoint.safetensors'), '--nfe', '1', '--n', '36', '--out', join(dir, 'nfe1.png'));
    const m = /samples ([\d.]+|Infinity|NaN), held-out real ([\d.]+), input noise ([\d.]+)/.exec(s); // non-finite samples read as infinitely far
    if (!m) throw new Error(`no distance line in:\n${s}`);
    const [samples, real, noise] = m.slice(1).map(Number);
    const flagged = noiseLike(Number(o.steps), samples, noise);
    (rows[objective] ??= {})[seed] = { samples, flagged };
    console.log(JSON.stringify({ objective, seed, lr: o.lr, steps: Number(o.steps), samples, real, noise, flagged, secs: (Date.now() - t0) / 1000 }));
  }
}
// Bold: flagged (samples ≈ noise), as in the README's tables.
console.log(`\nlr ${o.lr}, step ${o.steps}, bold: samples ≈ noise\n| seed | ${seeds.join(' | ')} | flagged |\n|---|${seeds.map(() => '---|').join('')}---|`);
for (const [objective, r] of Object.entries(rows)) {
  const cells = seeds.map((s) => (r[s] ? (r[s].flagged ? `**${r[s].samples.toFixed(3)}**` : r[s].samples.toFixed(3)) : ''));
  console.log(`| ${objective} | ${cells.join(' | ')} | ${seeds.filter((s) => r[s]?.flagged).length} of ${seeds.length} |`);
}
