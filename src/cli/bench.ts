// `npm run bench`: throughput of our kernels on this adapter, side by side with two peers on the same
// adapter in the same process: TensorFlow.js's WebGPU backend (src/cli/bench-tfjs.ts) and jax-js's
// WebGPU backend (src/cli/bench-jax.ts: forward, forward + backward and the whole FACM step with its
// own jvp and grad under jit, checked against ours before timing).
//
// Per preset: forward, forward + backward, JVP (value + tangent), the whole FM and FACM training
// steps (Trainer: data, plan, step, grad norm, AdamW, EMA), images/s, effective GFLOP/s
// (forwardFlops: matmuls + attention), the JavaScript time to record a step and its dispatch count;
// with --full also JVP + backward and matmul GFLOP/s on the DiT's own shapes. Every figure is the
// median of --reps timed repetitions (default 2, 5 with --full) after one untimed warm-up (a peer call
// its correctness check has just run is not warmed again); each repetition ends with the GPU
// idle (queue.onSubmittedWorkDone, or a 1-element read-back for the peers). The run ends with one
// summary table of ratios. --profile prints per-kernel GPU time of one FACM step. The peers' waits
// go through Gpu.settle as ours do (on a CPU adapter: Dawn polls on a timer, not in a spin that would
// take a core from the kernels), so all three wait for the GPU the same way.

import { parseArgs } from 'node:util';
import { acquireDevice, describeAdapter, nodeGpuInstance } from '../gpu/device';
import { Gpu, type ProfileEntry } from '../gpu/runtime';
import { summarizeProfile } from '../gpu/profile';
import { gpuBackend } from '../ops/backend';
import { matmul, matShapeLabel } from '../ops/linear';
import { choiceRows, ditMatmuls, ditTuneItems, ensureTuned } from '../ops/tune';
import { FileTuneStore } from './tuneStore';
import { posEmbed2d } from '../ops/patch';
import { PRESETS, forwardFlops, tokens, type DiTConfig } from '../model/config';
import { paramViews } from '../model/gpu';
import { DiT } from '../model/dit';
import { initParams, paramTable } from '../model/params';
import { objectiveConfig, trainDefaults } from '../config/keys';
import { median, timingData } from './benchUtil';
import { Trainer } from '../train/trainer';
import { Rng } from '../util/rng';
import { loadTfjs, tfDiT, tfMatmul, type Tf } from './bench-tfjs';
import { jaxDiT, loadJax, type Jax } from './bench-jax';
import { runStep } from '../objectives/step';
import { gpuLoss } from '../ops/loss';
import { planStep } from '../objectives/objectives';

const USAGE = `usage: npm run bench -- [--preset tiny,tiny-16] [--full] [--all] [--batch 32] [--reps 3] [--profile] [--no-tfjs] [--no-jax] [--json out.json]
  default     preset tiny, 2 repetitions, both peers: under 5 minutes on a loaded 2-core CPU adapter
  --full      the sweep: presets tiny and tiny-16, JVP + backward, matmul on every DiT shape, 5 repetitions
  --all       also the presets too large for a quick CPU run (cifar-s)
  --profile   per-kernel GPU time of one FACM step (timestamp queries)
  --no-tfjs   skip the TensorFlow.js peer
  --no-jax    skip the jax-js peer
  --json      also write every figure as JSON
  --retune    time the matmul and attention variants on this adapter again (otherwise the cached choice is used)`;

const { values: opt } = parseArgs({
  options: {
    preset: { type: 'string' },
    all: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    batch: { type: 'string', default: '32' },
    reps: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'no-tfjs': { type: 'boolean', default: false },
    'no-jax': { type: 'boolean', default: false },
    retune: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});


const t00 = performance.now();
/** Progress on stderr, so stdout is the report. */
const note = (what: string) => process.stderr.write(`[${((performance.now() - t00) / 1000).toFixed(0)} s] ${what}\n`);

/** Median wall time (ms) of `reps` runs of `fn` after `warm` untimed ones; `fn` must end with the GPU idle. */
async function timeIt(fn: () => Promise<void>, reps: number, warm = 1, what = ''): Promise<number> {
  if (what) note(what);
  for (let i = 0; i < warm; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  if (what) note(`  ${ts.map((t) => t.toFixed(0)).join(' ')} ms`);
  return median(ts);
}

/** Steps (after the timed ones) whose record + submit time gives the summary's median. */
const RECORD_STEPS = 20;

const GF = (flops: number, ms: number) => flops / ms / 1e6;
const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');

function table(rows: string[][]): string {
  const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  const line = (r: string[]) => '| ' + r.map((c, j) => (j === 0 ? c.padEnd(w[j]) : c.padStart(w[j]))).join(' | ') + ' |';
  return [line(rows[0]), '|' + w.map((n, j) => (j === 0 ? '-'.repeat(n + 2) : '-'.repeat(n + 1) + ':')).join('|') + '|', ...rows.slice(1).map(line)].join('\n');
}

function profileSummary(entries: ProfileEntry[]): string {
  const p = summarizeProfile(entries);
  return table([
    ['kernel', 'dispatches', 'GPU ms', 'share'],
    ...p.kernels.map((k) => [k.label, String(k.dispatches), fmt(k.ms, 1), `${fmt(100 * k.share, 1)} %`]),
    ['total', String(p.dispatches), fmt(p.totalMs, 1), '100 %'],
  ]);
}

/** One preset's figures (ms are medians per call), for the summary table and --json. */
export interface PresetSummary {
  preset: string;
  batch: number;
  ours: { forward: number; forwardBackward: number; jvp: number; fmStep: number; facmStep: number; recordFacmMs: number; recordFmMs: number; recordFacmCpuMs: number; recordFmCpuMs: number; dispatchesFacm: number; dispatchesFm: number };
  tfjs: { forward: number; forwardBackward: number; check: string } | null;
  jax: { forward: number; forwardBackward: number; facmStep: number; compileMs: number; check: string } | string | null;
  matmulGflops?: { ours: number; tfjs: number };
}

async function benchPreset(gpu: Gpu, tf: Tf | null, jax: Jax | null, name: string, B: number, reps: number, full: boolean): Promise<PresetSummary> {
  const cfg: DiTConfig = { ...PRESETS[name].config, numClasses: 0, useR: false };
  const table_ = paramTable(cfg);
  const fwdFlops = forwardFlops(cfg) * B;
  console.log(`\n## ${name}: ${cfg.C}×${cfg.H}×${cfg.W}, patch ${cfg.patch}, D ${cfg.D}, depth ${cfg.depth}, heads ${cfg.heads}, ${tokens(cfg)} tokens; ${table_.count.toLocaleString()} parameters; batch ${B}; ${(fwdFlops / 1e9).toFixed(3)} GFLOP per forward`);
  // Matmul and attention variants tuned on this adapter for this preset's shapes (cached per adapter; --retune).
  const tune = await ensureTuned(gpu, ditTuneItems(cfg, B), new FileTuneStore(), { retune: opt.retune });
  console.log(`autotuning (matmuls, attention tiles): ${tune.timed ? `${tune.timed} shapes timed in ${(tune.ms / 1000).toFixed(1)} s` : 'cached choices (no timing)'}, adapter key '${tune.record.adapter}'`);
  // Perturbed adaLN-Zero init: every path computes something (zero weights would make F ≡ 0).
  const flat = initParams(table_, 0, 0.05);
  const be = gpuBackend(gpu);
  const model = new DiT(be, cfg, table_);
  const pbuf = gpu.view(gpu.persistent(table_.total, 'bench.params'), 0, [table_.total]);
  const gbuf = gpu.view(gpu.persistent(table_.total, 'bench.grads'), 0, [table_.total]);
  gpu.write(pbuf, flat);
  const P = paramViews(gpu, table_, pbuf);
  const G = paramViews(gpu, table_, gbuf);
  const rng = new Rng(1);
  const n = B * cfg.C * cfg.H * cfg.W;
  const xs = rng.normals(n);
  const vs = rng.normals(n);
  const cs = Float32Array.from({ length: B }, () => rng.next());
  const shape = [B, cfg.C, cfg.H, cfg.W];
  const x = gpu.upload(xs, shape);
  const c = gpu.upload(cs, [B]);
  const tX = gpu.upload(vs, shape);
  const tC = gpu.upload(new Float32Array(B).fill(1), [B]);
  const dF = gpu.upload(rng.normals(n), shape);
  const inp = { x, c };

  const fwd = await timeIt(async () => {
    gpu.release(model.forward(P, inp, B));
    await gpu.sync();
  }, reps, 1, 'forward');
  const fwdBwd = await timeIt(async () => {
    gpu.clear(gbuf);
    const run = model.run(P, inp, B, null, true);
    model.backward(P, G, run.tape!, dF);
    model.releaseTape(run.tape!);
    gpu.release(run.F);
    await gpu.sync();
  }, reps, 1, 'forward + backward');
  const jvp = await timeIt(async () => {
    const run = model.run(P, inp, B, { tX, tC }, false);
    gpu.release(run.F, run.tF);
    await gpu.sync();
  }, reps, 1, 'JVP');
  const jvpBwd = !full ? NaN : await timeIt(async () => {
    gpu.clear(gbuf);
    const run = model.run(P, inp, B, { tX, tC }, true);
    model.backward(P, G, run.tape!, dF);
    model.releaseTape(run.tape!);
    gpu.release(run.F, run.tF);
    await gpu.sync();
  }, reps, 1, 'JVP + backward');

  // Whole training steps through the Trainer (one command buffer per step, no read-back inside).
  const data = timingData(cfg, 512);
  const stepTime = async (objective: 'fm' | 'facm') => {
    const trainer = new Trainer(gpu, { ...trainDefaults(), model: cfg, objective: objectiveConfig(objective), batch: B }, data, { params: flat });
    const record: number[] = [];
    const recordCpu: number[] = [];
    const stepOnce = async () => {
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      await trainer.stepOnce(); // records and submits (the queue is idle here); the GPU runs behind
      record.push(performance.now() - t0);
      const u = process.cpuUsage(u0);
      recordCpu.push((u.user + u.system) / 1000);
      await gpu.sync();
    };
    await stepOnce();
    const c0 = [gpu.dispatchCount, gpu.passCount, gpu.submitCount];
    await stepOnce();
    const per = [gpu.dispatchCount - c0[0], gpu.passCount - c0[1], gpu.submitCount - c0[2]];
    const mem0 = gpu.memory();
    const ms = await timeIt(stepOnce, reps, 1, `${objective} step`);
    const mem1 = gpu.memory();
    // The record time from more steps than the timed ones: replayed steps (from the third) once the
    // JIT has warmed the replay loop, RECORD_STEPS of them for a median that means something.
    const from = record.length;
    for (let i = 0; i < RECORD_STEPS; i++) await stepOnce();
    await trainer.drain();
    return { ms, trainer, grew: mem1.buffers - mem0.buffers, recordMs: median(record.slice(from)), recordCpuMs: median(recordCpu.slice(from)), per };
  };
  const fm = await stepTime('fm');
  const facm = await stepTime('facm');

  // Matmul on the DiT's shapes (--full): 10 back-to-back dispatches per timed repetition.
  const mats = full ? ditMatmuls(cfg, B) : [];
  const PER = 10;
  const matRows: string[][] = [];
  let oursMs = 0;
  let tfMs = 0;
  let flopsAll = 0;
  for (const s of mats) {
    const a = gpu.upload(rng.normals(s.M * s.K), [s.M * s.K]);
    const b = gpu.upload(rng.normals(s.K * s.N), [s.K * s.N]);
    const out = gpu.alloc([s.M, s.N]);
    const ours =
      (await timeIt(async () => {
        for (let i = 0; i < PER; i++) matmul(gpu, a, b, out, s.M, s.N, s.K, { transA: s.transA, transB: s.transB });
        await gpu.sync();
      }, reps, 1, `matmul ${s.M}×${s.N}×${s.K}`)) / PER;
    gpu.release(a, b, out);
    let peer = NaN;
    if (tf) {
      const m = tfMatmul(tf, s.M, s.N, s.K, s.transA, s.transB);
      peer = (await timeIt(() => gpu.settle(m.run(PER)), reps, 1, 'tfjs matmul')) / PER;
      m.dispose();
    }
    const flops = 2 * s.M * s.N * s.K;
    oursMs += ours * s.count;
    tfMs += peer * s.count;
    flopsAll += flops * s.count;
    matRows.push([
      `${s.what} ${matShapeLabel(s.M, s.N, s.K, s.transA, s.transB)}`,
      String(s.count),
      fmt(GF(flops, ours), 3),
      fmt(GF(flops, peer), 3),
      fmt(peer / ours),
    ]);
  }
  if (full) matRows.push(['all of the above, weighted by count', '', fmt(GF(flopsAll, oursMs), 3), fmt(GF(flopsAll, tfMs), 3), fmt(tfMs / oursMs)]);

  // The peer DiT: same parameters and inputs; checked to compute the same F first.
  let tfFwd = NaN;
  let tfFwdBwd = NaN;
  let peerCheck = '';
  if (tf) {
    const pos = Float32Array.from(posEmbed2d(cfg.D, cfg.H / cfg.patch));
    const peer = tfDiT(tf, cfg, table_, flat, pos, B, xs, cs, vs);
    const theirs = await gpu.settle(peer.forward(xs, cs));
    const F = model.forward(P, inp, B);
    const ours = await gpu.read(F);
    gpu.release(F);
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < ours.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
      maxAbs = Math.max(maxAbs, Math.abs(ours[i]));
    }
    peerCheck = `tfjs DiT computes the same F: max |ours − tfjs| = ${maxDiff.toExponential(2)} (max |F| = ${maxAbs.toFixed(3)})`;
    if (!(maxDiff <= 1e-3 * Math.max(1, maxAbs))) throw new Error(`tfjs peer disagrees with our DiT: ${peerCheck}`);
    tfFwd = await timeIt(() => gpu.settle(peer.forwardOnly()), reps, 0, 'tfjs forward'); // warm: the check just ran its forward
    tfFwdBwd = await timeIt(() => gpu.settle(peer.forwardBackward()), reps, 1, 'tfjs forward + backward');
    peer.dispose();
  }

  // The jax-js peer: the same DiT, F and dF/dt by its jvp, the FACM step's gradients by its grad, on
  // one plan of our FACM objective (x_t, t, v); checked against ours before anything is timed.
  let jaxOut: PresetSummary['jax'] = null;
  if (jax) {
    const plan = planStep({ cfg: objectiveConfig('facm'), step: 0, useR: false }, xs, null, B, new Rng(7));
    const pos = Float32Array.from(posEmbed2d(cfg.D, cfg.H / cfg.patch));
    const tc = performance.now();
    note('jax-js: compiling and checking F, dF/dt and the FACM gradients');
    const peer = jaxDiT(jax, cfg, table_, flat, pos, B, plan.xt, plan.t, plan.v);
    try {
      const theirs = await gpu.settle(peer.jvp());
      const xt = gpu.upload(plan.xt, shape);
      const t = gpu.upload(plan.t, [B]);
      const tv = gpu.upload(plan.v, shape);
      const run = model.run(P, { x: xt, c: t }, B, { tX: tv, tC }, false);
      const ourF = await gpu.read(run.F);
      const ourTF = await gpu.read(run.tF!);
      gpu.release(run.F, run.tF, xt, t, tv);
      gpu.clear(gbuf);
      for (const r of runStep(be, gpuLoss(gpu), model, P, G, plan)) gpu.release(r.stats);
      const ourG = await gpu.read(gbuf);
      const theirG = await gpu.settle(peer.facmGrads());
      const worst: [string, number][] = [['F', relErr(theirs.F, ourF)], ['dF/dt', relErr(theirs.tF, ourTF)]];
      let gWorst: [string, number] = ['', 0];
      for (const sp of table_.specs) {
        const e = relErr(theirG.get(sp.name)!, ourG.subarray(sp.offset, sp.offset + sp.size));
        if (!(e <= gWorst[1])) gWorst = [sp.name, e];
      }
      worst.push([`grad ${gWorst[0]}`, gWorst[1]]);
      const check = `jax-js computes the same F, dF/dt and FACM gradients: max |ours − jax-js| / max |ours| = ${worst.map(([n, e]) => `${e.toExponential(1)} (${n})`).join(', ')}`;
      const bad = worst.find(([, e]) => !(e <= 1e-4));
      if (bad) throw new Error(`jax-js peer disagrees with ours beyond 1e-4 relative: ${check}`);
      const compileMs = performance.now() - tc;
      const jFacm = await timeIt(() => gpu.settle(peer.facmStep()), reps, 0, 'jax-js FACM step (jvp + grad, jit)'); // warm: the check compiled and ran its jvp and grad
      const jFwdBwd = await timeIt(() => gpu.settle(peer.forwardBackward()), reps, 1, 'jax-js forward + backward (grad, jit)');
      const jFwd = await timeIt(() => gpu.settle(peer.forwardOnly()), reps, 1, 'jax-js forward (jit)');
      jaxOut = { forward: jFwd, forwardBackward: jFwdBwd, facmStep: jFacm, compileMs, check };
    } finally {
      peer.dispose();
    }
  }
  const jx = jaxOut && typeof jaxOut === 'object' ? jaxOut : null;

  const rows: string[][] = [
    ['', 'ms', 'img/s', 'GFLOP/s', 'tfjs ms', 'tfjs / ours', 'jax-js ms', 'jax-js / ours'],
    ['forward', fmt(fwd, 1), fmt((1000 * B) / fwd, 0), fmt(GF(fwdFlops, fwd), 3), fmt(tfFwd, 1), fmt(tfFwd / fwd), fmt(jx?.forward ?? NaN, 1), fmt((jx?.forward ?? NaN) / fwd)],
    ['forward + backward', fmt(fwdBwd, 1), fmt((1000 * B) / fwdBwd, 0), fmt(GF(3 * fwdFlops, fwdBwd), 3), fmt(tfFwdBwd, 1), fmt(tfFwdBwd / fwdBwd), fmt(jx?.forwardBackward ?? NaN, 1), fmt((jx?.forwardBackward ?? NaN) / fwdBwd)],
    ['JVP (value + tangent)', fmt(jvp, 1), fmt((1000 * B) / jvp, 0), fmt(GF(2 * fwdFlops, jvp), 3), 'no JVP', '', '', ''],
    ...(full ? [['JVP + backward', fmt(jvpBwd, 1), fmt((1000 * B) / jvpBwd, 0), fmt(GF(4 * fwdFlops, jvpBwd), 3), '', '', '', '']] : []),
    ['FM step (Trainer)', fmt(fm.ms, 1), fmt((1000 * B) / fm.ms, 0), fmt(GF(3 * fwdFlops, fm.ms), 3), '', '', '', ''],
    ['FACM step (Trainer; jax-js: jvp + grad)', fmt(facm.ms, 1), fmt((1000 * B) / facm.ms, 0), fmt(GF(7 * fwdFlops, facm.ms), 3), 'no JVP', '', fmt(jx?.facmStep ?? NaN, 1), fmt((jx?.facmStep ?? NaN) / facm.ms)],
  ];
  console.log('\n' + table(rows));
  console.log(`\nFLOPs counted: forward F = ${(fwdFlops / 1e6).toFixed(1)} MFLOP; forward + backward 3F; JVP 2F; JVP + backward 4F; FM step 3F; FACM step 7F (FM branch 3F + CM branch 4F).`);
  console.log(`FACM step / FM step = ${fmt(facm.ms / fm.ms)}; our forward + backward vs tfjs: ${fmt(tfFwdBwd / fwdBwd)}× faster${full ? `; matmul GFLOP/s ours / tfjs: ${fmt(tfMs / oursMs)}` : ''}`);
  if (jx) console.log(`${jx.check}\njax-js's first calls (compiling its jit kernels, then the check) took ${(jx.compileMs / 1000).toFixed(0)} s; its FACM step is gradients only (no optimizer), ours includes AdamW and EMA`);
  console.log(`GPU buffers allocated during the timed steps: FM ${fm.grew}, FACM ${facm.grew} (0 = every step served from the pool)`);
  console.log(
    `time to record + submit one step (replayed steps, queue idle; medians of ${RECORD_STEPS}): wall FM ${fmt(fm.recordMs, 1)} ms, FACM ${fmt(facm.recordMs, 1)} ms; ` +
      `process CPU time (robust to other jobs on the machine) FM ${fmt(fm.recordCpuMs, 1)} ms, FACM ${fmt(facm.recordCpuMs, 1)} ms`,
  );
  console.log(`per step: FM ${fm.per[0]} dispatches in ${fm.per[1]} compute passes, ${fm.per[2]} submit(s); FACM ${facm.per[0]} dispatches in ${facm.per[1]} passes, ${facm.per[2]} submit(s)`);
  if (peerCheck) console.log(peerCheck);
  if (full) {
    console.log('\nmatmul on the DiT\'s shapes (M×N×K; count per forward + backward)\n');
    console.log(table([['shape', 'count', 'ours GFLOP/s', 'tfjs GFLOP/s', 'ours / tfjs'], ...matRows]));
  }

  if (opt.profile) {
    if (!gpu.startProfile()) console.log('\n(no timestamp-query on this adapter: no profile)');
    else {
      await facm.trainer.stepOnce();
      const prof = await gpu.stopProfile();
      console.log(`\nper-kernel GPU time, one FACM step (one compute pass per dispatch while profiling)\n`);
      console.log(profileSummary(prof));
    }
    console.log(`\nkernel variant per DiT shape (tuned: chosen by timing on this adapter; rule: the untuned rule)\n`);
    console.log(table([['shape', 'layer', 'variant', 'from'], ...choiceRows(gpu, cfg, B).map((r) => [r.shape, r.layer, r.variant, r.from])]));
  }
  gpu.release(x, c, tX, tC, dF);
  model.dispose();
  await gpu.sync();
  return {
    preset: name,
    batch: B,
    ours: { forward: fwd, forwardBackward: fwdBwd, jvp, fmStep: fm.ms, facmStep: facm.ms, recordFacmMs: facm.recordMs, recordFmMs: fm.recordMs, recordFacmCpuMs: facm.recordCpuMs, recordFmCpuMs: fm.recordCpuMs, dispatchesFacm: facm.per[0], dispatchesFm: fm.per[0] },
    tfjs: tf ? { forward: tfFwd, forwardBackward: tfFwdBwd, check: peerCheck } : null,
    jax: jaxOut,
    ...(full ? { matmulGflops: { ours: GF(flopsAll, oursMs), tfjs: GF(flopsAll, tfMs) } } : {}),
  };
}

/** max |a − b| / max |b| (b: ours). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-30);
}

/** The closing table: one row per preset, peers as ratios (> 1: ours is faster). */
export function summaryTable(rows: PresetSummary[]): string {
  const r = (peer: number, ours: number) => (Number.isFinite(peer) ? `${fmt(peer / ours, 1)}×` : '—');
  const jaxOf = (s: PresetSummary) => (s.jax && typeof s.jax === 'object' ? s.jax : null);
  return table([
    ['preset (batch)', 'ours fwd ms', 'fwd+bwd ms', 'FACM step ms', 'tfjs fwd', 'tfjs fwd+bwd', 'jax-js fwd', 'jax-js fwd+bwd', 'jax-js FACM step', 'record FACM ms wall / CPU', 'dispatches FM / FACM'],
    ...rows.map((s) => [
      `${s.preset} (${s.batch})`,
      fmt(s.ours.forward, 1),
      fmt(s.ours.forwardBackward, 1),
      fmt(s.ours.facmStep, 1),
      r(s.tfjs?.forward ?? NaN, s.ours.forward),
      r(s.tfjs?.forwardBackward ?? NaN, s.ours.forwardBackward),
      r(jaxOf(s)?.forward ?? NaN, s.ours.forward),
      r(jaxOf(s)?.forwardBackward ?? NaN, s.ours.forwardBackward),
      r(jaxOf(s)?.facmStep ?? NaN, s.ours.facmStep),
      `${fmt(s.ours.recordFacmMs, 1)} / ${fmt(s.ours.recordFacmCpuMs, 1)}`,
      `${s.ours.dispatchesFm} / ${s.ours.dispatchesFacm}`,
    ]),
  ]);
}

async function main(): Promise<void> {
  if (opt.help) {
    console.log(USAGE);
    return;
  }
  const full = opt.full;
  const names = opt.preset ? opt.preset.split(',') : opt.all ? ['tiny', 'tiny-16', 'cifar-s'] : full ? ['tiny', 'tiny-16'] : ['tiny'];
  for (const n of names) if (!PRESETS[n]) throw new Error(`unknown preset '${n}' (have ${Object.keys(PRESETS).join(', ')})`);
  const B = Number(opt.batch);
  const reps = Number(opt.reps ?? (full ? 5 : 2));
  if (!Number.isInteger(B) || B < 1) throw new Error('--batch must be a positive integer');
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer');
  process.env.XDG_RUNTIME_DIR ??= '/tmp'; // Dawn's Vulkan loader warns without one (as scripts/test.mjs)
  const gpu = new Gpu(await acquireDevice());
  const tf = opt['no-tfjs'] ? null : await loadTfjs(await nodeGpuInstance());
  const jax = opt['no-jax'] ? null : await loadJax(await nodeGpuInstance());
  console.log(`# npm run bench -- ${process.argv.slice(2).join(' ')}`.trimEnd());
  const peers = [tf ? `TensorFlow.js ${tf.version_core} (webgpu backend)` : 'no tfjs (--no-tfjs)', jax ? 'jax-js (webgpu backend, jit)' : 'no jax-js (--no-jax)'];
  console.log(`adapter: ${describeAdapter(gpu.report)}${gpu.cpuLike ? ' (a CPU-emulated adapter: figures for correctness and ratios, not GPU speed)' : ''}; peers: ${peers.join(', ')}, in the same Node process on the same adapter`);
  console.log(`medians of ${reps} repetitions after one warm-up (none for a peer's call its correctness check has just run)`);
  const summary: PresetSummary[] = [];
  for (const n of names) summary.push(await benchPreset(gpu, tf, jax, n, B, reps, full));
  console.log(
    `\n## Summary (peer time / our time: above 1× ours is faster; record = time to record + submit one FACM step with the queue idle, ` +
      `wall / the process's CPU time, the second robust to other jobs on the machine)\n`,
  );
  console.log(summaryTable(summary));
  console.log(`\n${((performance.now() - t00) / 1000).toFixed(0)} s in all`);
  if (opt.json) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(opt.json, JSON.stringify({ adapter: gpu.report, cpuLike: gpu.cpuLike, reps, presets: summary }, null, 2));
  }
  gpu.destroy();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`error: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
