// `npm run gpu-report`: one command to run on a machine with a GPU. It runs the bench with both peers
// (tfjs and jax-js) and the matmul sweep on tiny, tiny-16 and cifar-s, puts our matmul GFLOP/s
// against the adapter's f32 peak (a table of common GPUs below, or --peak), trains FACM for --seconds
// (img/s), and writes everything to <out>/gpu-report.json plus a short <out>/gpu-report.txt.
// On a software adapter (SwiftShader) it says so and runs the same steps on `tiny` only (unless
// --preset is given), so that it finishes on a CPU.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireDevice, describeAdapter, type AdapterReport } from '../gpu/device';
import { Gpu } from '../gpu/runtime';
import { PRESETS } from '../model/config';
import { objectiveConfig, trainDefaults } from '../config/keys';
import { BUILTIN } from '../data/index';
import { Trainer } from '../train/trainer';
import type { PresetSummary } from './bench';

const USAGE = `usage: npm run gpu-report -- [--out gpu-report] [--peak TFLOPS] [--seconds 60] [--preset tiny,tiny-16,cifar-s] [--train-preset cifar-s] [--batch 32]`;

const { values: opt } = parseArgs({
  options: {
    out: { type: 'string', default: 'gpu-report' },
    peak: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    preset: { type: 'string' },
    'train-preset': { type: 'string' },
    batch: { type: 'string', default: '32' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

/** Spec-sheet f32 peaks (TFLOP/s, non-tensor-core) of common GPUs, matched against the adapter's description. */
export const F32_PEAKS: [RegExp, string, number][] = [
  [/H200/i, 'NVIDIA H200', 67],
  [/H100.*PCIe/i, 'NVIDIA H100 PCIe', 51],
  [/H100/i, 'NVIDIA H100 SXM', 67],
  [/A100/i, 'NVIDIA A100', 19.5],
  [/V100/i, 'NVIDIA V100', 15.7],
  [/\bL4\b/i, 'NVIDIA L4', 30.3],
  [/\bT4\b/i, 'NVIDIA T4', 8.1],
  [/RTX 4090/i, 'NVIDIA RTX 4090', 82.6],
  [/RTX 4080/i, 'NVIDIA RTX 4080', 48.7],
  [/RTX 3090/i, 'NVIDIA RTX 3090', 35.6],
  [/RTX 3080/i, 'NVIDIA RTX 3080', 29.8],
  [/RTX 3060/i, 'NVIDIA RTX 3060', 12.7],
  [/RTX 2080 Ti/i, 'NVIDIA RTX 2080 Ti', 13.4],
  [/RX 7900 XTX/i, 'AMD RX 7900 XTX', 61.4],
  [/M1 Max/i, 'Apple M1 Max', 10.4],
  [/M1 Pro/i, 'Apple M1 Pro', 5.2],
  [/\bM1\b/i, 'Apple M1', 2.6],
  [/\bM2\b/i, 'Apple M2', 3.6],
];

export function knownPeak(r: AdapterReport): { name: string; tflops: number } | null {
  const text = `${r.vendor} ${r.architecture} ${r.device} ${r.description}`;
  const hit = F32_PEAKS.find(([re]) => re.test(text));
  return hit ? { name: hit[1], tflops: hit[2] } : null;
}

async function main(): Promise<void> {
  if (opt.help) {
    console.log(USAGE);
    return;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const t0 = performance.now();
  const probe = new Gpu(await acquireDevice());
  const report = probe.report;
  const software = probe.cpuLike;
  probe.destroy();
  const adapter = describeAdapter(report);
  const say = (s: string) => console.log(s);
  say(`adapter: ${adapter}`);
  if (software) say('This is a software adapter (a CPU emulating a GPU): the figures check that the report runs, they say nothing about GPU speed. Reduced to the tiny preset.');

  const presets = opt.preset ?? (software ? 'tiny' : 'tiny,tiny-16,cifar-s');
  const out = opt.out!;
  mkdirSync(out, { recursive: true });
  const benchJson = join(out, 'bench.json');
  say(`\n# bench (both peers, matmul sweep): ${presets}`);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'src/cli/bench.ts', '--full', '--preset', presets, '--batch', opt.batch!, '--json', benchJson, ...(software ? ['--reps', '3'] : [])],
    { stdio: 'inherit', env: process.env },
  );
  if (r.status !== 0) throw new Error(`the bench failed (exit ${r.status})`);
  const bench = JSON.parse(readFileSync(benchJson, 'utf8')) as { presets: PresetSummary[] };

  const peakT = opt.peak ? { name: '--peak', tflops: Number(opt.peak) } : knownPeak(report);
  if (opt.peak && !(Number(opt.peak) > 0)) throw new Error('--peak must be a positive number of TFLOP/s');
  const matmul = bench.presets.map((p) => ({
    preset: p.preset,
    oursGflops: p.matmulGflops?.ours ?? NaN,
    tfjsGflops: p.matmulGflops?.tfjs ?? NaN,
    fractionOfPeak: peakT && p.matmulGflops ? p.matmulGflops.ours / (peakT.tflops * 1000) : null,
  }));

  // FACM training throughput for --seconds (the trainer as the CLI runs it: data, plan, step, AdamW, EMA, metrics).
  const trainPreset = opt['train-preset'] ?? (software ? 'tiny' : 'cifar-s');
  if (!PRESETS[trainPreset]) throw new Error(`unknown --train-preset '${trainPreset}'`);
  const seconds = Number(opt.seconds);
  if (!(seconds > 0)) throw new Error('--seconds must be positive');
  const B = Number(opt.batch);
  const cfg = { ...PRESETS[trainPreset].config, numClasses: 0, useR: false };
  say(`\n# FACM training, ${trainPreset}, batch ${B}, ${seconds} s`);
  const gpu = new Gpu(await acquireDevice());
  const data = BUILTIN[cfg.H <= 8 ? 'shapes8' : cfg.H <= 16 ? 'shapes16' : 'shapes32'].make(0, 1024);
  const trainer = new Trainer(gpu, { ...trainDefaults(), model: cfg, objective: objectiveConfig('facm'), batch: B }, data);
  await trainer.stepOnce(); // compiles the pipelines
  await trainer.drain();
  await gpu.sync();
  let steps = 0;
  const ts = performance.now();
  while (performance.now() - ts < seconds * 1000) {
    await trainer.stepOnce();
    steps++;
    if (steps % 4 === 0) await gpu.sync(); // keep the GPU within a few steps of the clock
  }
  await trainer.drain();
  await gpu.sync();
  const trainS = (performance.now() - ts) / 1000;
  gpu.destroy();
  const training = { preset: trainPreset, batch: B, seconds: trainS, steps, stepsPerS: steps / trainS, imgPerS: (steps * B) / trainS };

  const json = { adapter: report, software, peak: peakT, bench: bench.presets, matmul, training, totalSeconds: (performance.now() - t0) / 1000 };
  writeFileSync(join(out, 'gpu-report.json'), JSON.stringify(json, null, 2));
  const lines = [
    `adapter: ${adapter}${software ? ' — SOFTWARE ADAPTER: not GPU speed' : ''}`,
    ...bench.presets.map((p) => {
      const jx = p.jax && typeof p.jax === 'object' ? p.jax : null;
      const ratio = (peer: number | undefined, ours: number) => (peer && Number.isFinite(peer) ? `${(peer / ours).toFixed(1)}×` : '—');
      return `${p.preset} (batch ${p.batch}): FACM step ${p.ours.facmStep.toFixed(1)} ms (record ${p.ours.recordFacmMs.toFixed(1)} ms wall / ${p.ours.recordFacmCpuMs.toFixed(1)} ms process CPU, ${p.ours.dispatchesFacm} dispatches); vs tfjs fwd+bwd ${ratio(p.tfjs?.forwardBackward, p.ours.forwardBackward)}, vs jax-js fwd+bwd ${ratio(jx?.forwardBackward, p.ours.forwardBackward)}, FACM step ${ratio(jx?.facmStep, p.ours.facmStep)}`;
    }),
    ...matmul.map((m) => `${m.preset} matmul: ${m.oursGflops.toPrecision(3)} GFLOP/s (tfjs ${m.tfjsGflops.toPrecision(3)})${m.fractionOfPeak !== null ? `, ${(100 * m.fractionOfPeak).toFixed(2)} % of ${peakT!.name}'s ${peakT!.tflops} TFLOP/s f32` : ' (peak unknown: pass --peak TFLOPS)'}`),
    `FACM training ${training.preset}, batch ${B}: ${training.imgPerS.toFixed(1)} img/s (${training.steps} steps in ${training.seconds.toFixed(0)} s)`,
  ];
  writeFileSync(join(out, 'gpu-report.txt'), lines.join('\n') + '\n');
  say(`\n# summary\n${lines.join('\n')}\n\nwrote ${join(out, 'gpu-report.json')} and ${join(out, 'gpu-report.txt')} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`error: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
