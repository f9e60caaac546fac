// Node CLI on Dawn: `npm run facm -- <train|sample|dump|info> [options]`. The same Trainer,
// model and kernels as the browser worker; every setting is a flag generated from the declared
// key table (src/config), with the playground URL's names, ranges and messages.

import { appendFileSync, mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';
import { acquireDevice, describeAdapter } from '../gpu/device';
import { Gpu } from '../gpu/runtime';
import { gpuBackend } from '../ops/backend';
import { gpuLoss } from '../ops/loss';
import { PRESETS, forwardFlops, type DiTConfig } from '../model/config';
import { DiT } from '../model/dit';
import { modelOnGpu, paramBuffer } from '../model/gpu';
import { initParams, paramTable } from '../model/params';
import { planStep } from '../objectives/objectives';
import { OBJECTIVES, objectiveSpec } from '../objectives/table';
import { runStep, summarise } from '../objectives/step';
import { sampleConsistency, sampleEuler } from '../objectives/samplers';
import type { StepRecord } from '../train/trainer';
import { loadCheckpoint, type CheckpointState } from '../train/checkpoint';
import { TrainingSession, type SessionEvent, type SessionOptions } from '../train/session';
import { FsCheckpointStore } from './fsStore';
import { writeSafetensors, type NamedTensor } from '../train/safetensors';
import { BUILTIN, Batcher, loadDatasetFromFiles, resizeDataset, type Dataset } from '../data/index';
import { nearestDistance, referenceSplit } from '../data/nearest';
import { POINT_SETS, isPointSet, isPointShape } from '../data/points2d';
import { describeEval, evaluatePoints, pointReference, type PointEval } from '../metrics/eval2d';
import { coverage, slicedWasserstein } from '../metrics/dist2d';
import { renderScatter } from '../util/scatter';
import { encodePng, imageGrid } from '../util/png';
import { Rng } from '../util/rng';
import { CliError, helpText, parseCli, text, type CliParse, type OptionSpec } from '../config/cli';
import { bool, float, int } from '../config/spec';
import { configFromMetadata, defaultDatasetFor, modelOf, objectiveOf, runMetadata, toTrainConfig, type Config } from '../config';

// ------------------------------------------------------------------ the commands' own options

const TRAIN: Record<string, OptionSpec> = {
  steps: int(200, 1, 1e9, 'steps', 'optimizer steps to take (with --init from a non-teacher checkpoint: beyond its step)'),
  out: text('output folder: checkpoint.safetensors, metrics.jsonl and the autosave (default runs/<objective>-<preset>-<time>)'),
  init: text('start from this checkpoint: its weights (and with no --teacher its optimizer state and step)'),
  teacher: text('distil from this FM teacher checkpoint (its EMA weights): v = teacher(x_t, c = t)'),
  resume: text('continue the autosave in this --out folder (every setting from its metadata; only --steps may change)'),
  'log-every': int(10, 1, 1e9, 'log every', 'print a line (and read back metrics) every this many steps'),
  'eval-every': int(250, 0, 1e9, 'eval every', '2-D point sets: score NFE-1 / NFE-2 / Euler samples by sliced W2 every this many steps (0: off)'),
  'eval-n': int(4096, 16, 65536, 'eval points', '2-D point sets: samples per evaluation (the held-out and noise figures use as many)'),
  'eval-euler': int(16, 0, 1000, 'eval Euler', "2-D point sets: Euler steps of the FM branch's ODE in each evaluation (0: skip)"),
};
const SAMPLE: Record<string, OptionSpec> = {
  ckpt: text('the checkpoint to sample from'),
  nfe: int(1, 1, 1000, 'NFE', 'consistency sampling with this many network calls (ignored with --euler)'),
  n: int(64, 1, 65536, 'images', 'images in the grid (point models: points in the scatter, default 2048)'),
  out: text('the PNG to write', 'grid.png'),
  ema: bool(false, 'EMA', 'sample with the EMA weights (the same as --sample-weights ema)'),
};
const DUMP: Record<string, OptionSpec> = {
  out: text('the safetensors file to write', 'step.safetensors'),
  perturb: float(0.05, 0, 10, 'perturb', 'perturb the adaLN-Zero init by this much, so every path computes something'),
};
const COMMANDS: Record<string, { run: (p: CliParse) => Promise<void>; options: Record<string, OptionSpec>; what: string }> = {
  train: { run: train, options: TRAIN, what: 'train a run (or continue one: --resume, --init)' },
  sample: { run: sample, options: SAMPLE, what: 'a grid of samples from a checkpoint, with its distance to the data' },
  dump: { run: dump, options: DUMP, what: 'one training step frozen for checking elsewhere (e.g. PyTorch): inputs, outputs, losses, gradients' },
  info: { run: info, options: {}, what: 'the adapter and its limits' },
};

const DATASET_NOTE = `--dataset also takes files: a folder, or comma-separated paths, of CIFAR-10 binary batches (data_batch_*.bin) or their .tar.gz, or MNIST-style IDX files (an images file with its labels file beside it, .gz or not), resized to the model's image size.`;

function usage(cmd?: string): string {
  const head = `usage: npm run facm -- <command> [options]\ncommands:\n${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(7)} ${c.what}`).join('\n')}\nobjectives: ${OBJECTIVES.join(', ')}; presets: ${Object.keys(PRESETS).join(', ')}; built-in datasets: ${Object.keys(BUILTIN).join(', ')}`;
  if (!cmd || !COMMANDS[cmd]) return `${head}\n(npm run facm -- <command> --help lists a command's options and every setting)`;
  return `${head}\n\n${cmd}:\n${helpText(COMMANDS[cmd].options, undefined, DATASET_NOTE)}`;
}

const AUTOSAVE = 'autosave';

async function openGpu(): Promise<Gpu> {
  const gpu = new Gpu(await acquireDevice());
  console.error(`adapter: ${describeAdapter(gpu.report)}`);
  return gpu;
}

function readFiles(path: string): { name: string; bytes: Uint8Array }[] {
  if (!existsSync(path)) throw new Error(`dataset '${path}' is neither a built-in (${Object.keys(BUILTIN).join(', ')}) nor an existing file or folder`);
  if (statSync(path).isDirectory())
    return readdirSync(path).filter((f) => statSync(join(path, f)).isFile()).map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(path, f))) }));
  return [{ name: basename(path), bytes: new Uint8Array(readFileSync(path)) }];
}

/** A built-in name, or files (comma-separated paths / a folder): resized to the model's shape if needed. */
async function loadData(spec: string, model: DiTConfig, seed: number): Promise<Dataset> {
  if (isPointSet(spec) !== isPointShape(model))
    throw new Error(isPointSet(spec) ? `'${spec}' is a 2-D point set: train it with --preset points` : `the points preset takes a 2-D point set (${POINT_SETS.join(', ')}), not '${spec}'`);
  let ds: Dataset = BUILTIN[spec] ? BUILTIN[spec].make(seed) : await loadDatasetFromFiles(spec.split(',').flatMap(readFiles));
  if (ds.H !== model.H || ds.W !== model.W || ds.C !== model.C) {
    console.error(`resizing ${ds.name} from ${ds.C}×${ds.H}×${ds.W} to the model's ${model.C}×${model.H}×${model.W}`);
    ds = resizeDataset(ds, model.H, model.W, { C: model.C });
  }
  return ds;
}

/** The dataset a parsed command line names: a path, a built-in, or the preset's own. */
const datasetSpec = (p: CliParse): string => p.datasetPath ?? (p.given.has('dataset') ? p.config.dataset : defaultDatasetFor(p.config.preset));

/** What the CLI records in a checkpoint's run metadata so `--resume` can rebuild the run. */
interface CliRun {
  dataset: string;
  steps: number;
  teacher: string | null;
  preset: string;
}

async function train(p: CliParse): Promise<void> {
  const opt = p.opts as { steps: number; out?: string; init?: string; teacher?: string; resume?: string; 'log-every': number; 'eval-every': number; 'eval-n': number; 'eval-euler': number };
  let config: Config = p.config;
  let model: DiTConfig;
  let cli: CliRun;
  let resumeBytes: Uint8Array | null = null;
  let initState: CheckpointState | null = null;
  const out = opt.resume ?? opt.out ?? join('runs', `${config.objective}-${config.preset}-${Date.now()}`);
  const store = new FsCheckpointStore(out);
  if (opt.resume) {
    // Everything but --steps comes from the autosave's metadata.
    if (!existsSync(opt.resume)) throw new Error(`--resume: '${opt.resume}' does not exist`);
    const extra = [...p.given].filter((k) => k !== 'autosaveEvery');
    if (extra.length) throw new CliError(`--resume takes its settings from the autosave; drop ${extra.map((k) => `--${k}`).join(', ')} (only --steps and --autosave-every may be given)`);
    resumeBytes = await store.load(AUTOSAVE);
    if (!resumeBytes) throw new Error(`--resume: no autosave in '${opt.resume}' (looked for ${store.path(AUTOSAVE)}); runs autosave every --autosave-every steps unless it is 0`);
    const st = loadCheckpoint(resumeBytes);
    const meta = configFromMetadata(st.run, st.model);
    const saved = meta.run.cli as CliRun | undefined;
    if (!saved) throw new Error(`--resume: ${store.path(AUTOSAVE)} was not written by this CLI (no 'cli' entry in its run metadata)`);
    config = { ...meta.config, autosaveEvery: p.given.has('autosaveEvery') ? p.config.autosaveEvery : config.autosaveEvery };
    model = st.model;
    cli = { ...saved, steps: p.givenOpts.has('steps') ? opt.steps : saved.steps };
    console.error(`resuming ${out} at step ${st.step} of ${cli.steps}`);
  } else {
    model = modelOf(config);
    if (opt.init) {
      initState = loadCheckpoint(new Uint8Array(readFileSync(opt.init)));
      // Distillation starts the student from the teacher's weights: same architecture.
      model = initState.model;
    }
    cli = { dataset: datasetSpec(p), steps: (initState && !opt.teacher ? initState.step : 0) + opt.steps, teacher: opt.teacher ?? null, preset: config.preset };
  }
  const cfg = toTrainConfig(config, model);
  let teacher: { bytes: Uint8Array; name: string } | null = null;
  if (cli.teacher) {
    if (!existsSync(cli.teacher)) throw new Error(`teacher checkpoint '${cli.teacher}' does not exist`);
    teacher = { bytes: new Uint8Array(readFileSync(cli.teacher)), name: cli.teacher };
  }
  const data = await loadData(cli.dataset, cfg.model, cfg.seed);
  const table = paramTable(cfg.model);
  console.error(`model: ${cli.preset} ${cfg.model.C}×${cfg.model.H}×${cfg.model.W}, ${table.count.toLocaleString()} parameters, ${(forwardFlops(cfg.model) / 1e6).toFixed(2)} MFLOP/image forward; objective ${cfg.objective.name}; data ${data.name} (${data.count} images); batch ${cfg.batch}`);
  const onEvent = (e: SessionEvent) => {
    if (e.type === 'device-lost') console.log(`DEVICE LOST at step ${e.step} (${e.reason}: ${e.message})`);
    else if (e.type === 'restored') console.log(`device lost at step ${e.lostAt}, restored from step ${e.restoredFrom} on a new device (attempt ${e.attempt})`);
    else if (e.type === 'non-finite' && e.event.action === 'rolled-back') console.log(`NON-FINITE ${e.event.quantity} at step ${e.event.step}: rolled back to step ${e.event.restoredTo}`);
    else if (e.type === 'autosave-failed') console.error(`autosave at step ${e.step} failed: ${e.message}`);
  };
  const autosave = config.autosaveEvery > 0;
  const opts: SessionOptions = {
    store: autosave ? store : null,
    autosaveKey: AUTOSAVE,
    checkpointEvery: autosave ? config.autosaveEvery : 100,
    teacher,
    onEvent,
    presetName: cli.preset,
    config,
    run: { cli },
    acquire: openGpu,
    initState: initState ? (cli.teacher || !initState.step ? { model: initState.model, step: 0, params: initState.params } : { ...initState, resume: null }) : undefined,
  };
  const session = resumeBytes ? await TrainingSession.resume(resumeBytes, data, opts) : await TrainingSession.create(cfg, data, opts);
  const startStep = session.step;
  mkdirSync(out, { recursive: true });
  const logPath = join(out, 'metrics.jsonl');
  if (resumeBytes && existsSync(logPath)) {
    // Steps after the autosave are run again: drop their old lines.
    const kept = readFileSync(logPath, 'utf8').split('\n').filter((l) => l && (JSON.parse(l) as { step: number }).step <= startStep);
    writeFileSync(logPath, kept.map((l) => l + '\n').join(''));
  } else writeFileSync(logPath, '');
  const t0 = performance.now();
  let lastT = t0;
  let lastStep = session.step;
  const report = (recs: StepRecord[]) => {
    const lines = recs.map((r) => {
      const { t, clampByT, rmsGByT, ...rest } = r;
      return JSON.stringify({ ...rest, tMean: t.reduce((a, b) => a + b, 0) / t.length, clampByT: clampByT && Array.from(clampByT), rmsGByT: rmsGByT && Array.from(rmsGByT), t: Array.from(t) }) + '\n';
    });
    if (lines.length) appendFileSync(logPath, lines.join(''));
    const last = recs[recs.length - 1];
    if (!last) return;
    const now = performance.now();
    const sps = ((session.step - lastStep) * 1000) / (now - lastT);
    lastT = now;
    lastStep = session.step;
    const f = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));
    console.log(
      `step ${last.step}  loss ${f(last.loss)}  L_FM ${f(last.lossFM)}  L_CM ${f(last.lossCM)}  |g| ${f(last.gradNorm)}  clamp ${f(last.clampFrac)}  ` +
        `${sps.toFixed(2)} steps/s  ${(sps * cfg.batch).toFixed(1)} img/s`,
    );
  };
  if (session.step >= cli.steps) console.log(`the run is already at step ${session.step} (target ${cli.steps}); pass a larger --steps to go on`);
  const evalPoints = isPointSet(cli.dataset) && opt['eval-every'] > 0 ? pointEvaluator(cli.dataset, cfg, config.sampleWeights === 'ema' ? 'ema' : 'params', opt, logPath) : null;
  while (session.step < cli.steps) {
    const recs = await session.stepOnce();
    if (session.step % opt['log-every'] === 0 || session.step === cli.steps) report([...recs, ...(await session.drain())]);
    else report(recs);
    if (evalPoints && (session.step % opt['eval-every'] === 0 || session.step === cli.steps)) await evalPoints.run(session.trainer, session.step);
    const c = session.trainer.collapse;
    if (c) {
      console.log(`COLLAPSE at step ${c.step}: ${c.quantity} became non-finite; stopping (parameters kept from before the bad step)`);
      break;
    }
  }
  report(await session.drain());
  const secs = (performance.now() - t0) / 1000;
  // The final state (also after a collapse: AdamW skipped the bad step), written as the checkpoint and the autosave.
  const ck = session.trainer.collapse ? await session.snapshot() : await session.save();
  writeFileSync(join(out, 'checkpoint.safetensors'), ck);
  if (autosave) await store.save(AUTOSAVE, ck);
  const done = session.step - startStep;
  console.log(`done: ${done} steps in ${secs.toFixed(1)} s (${(done / secs).toFixed(2)} steps/s, ${((done * cfg.batch) / secs).toFixed(1)} img/s incl. start-up) on ${describeAdapter(session.gpu.report)}`);
  evalPoints?.summary();
  console.log(`wrote ${join(out, 'checkpoint.safetensors')} and ${logPath}`);
  session.dispose();
}

/**
 * 2-D point sets: NFE-1 / NFE-2 / Euler samples from fixed noise, scored by sliced W2 against
 * held-out data and noise (printed, and logged as `{"eval": ...}` lines in metrics.jsonl).
 */
function pointEvaluator(dataset: string, cfg: ReturnType<typeof toTrainConfig>, which: 'ema' | 'params', opt: { 'eval-n': number; 'eval-euler': number }, logPath: string) {
  const ref = pointReference(dataset, cfg.seed, opt['eval-n']);
  const hits: { step: number; e: PointEval }[] = [];
  return {
    async run(tr: TrainingSession['trainer'], step: number) {
      const e = await evaluatePoints(tr.model.be, tr.model, tr.weights(which), ref, { euler: opt['eval-euler'], meanflow: cfg.objective.name === 'meanflow', seed: cfg.seed });
      hits.push({ step, e });
      console.log(`eval step ${step} (${which === 'ema' ? 'EMA' : 'online'}): ${describeEval(e)}`);
      const { points: _points, ...rest } = e;
      appendFileSync(logPath, JSON.stringify({ step, eval: rest }) + '\n');
    },
    summary() {
      // The threshold: within 2× of the held-out figure, every mode covered.
      const ok = (s: PointEval['nfe1'] | null, e: PointEval) => !!s && s.sw <= 2 * e.heldOut && s.covered === e.classes;
      const first = (k: 'nfe1' | 'nfe2' | 'euler') => hits.find((h) => ok(h.e[k], h.e))?.step ?? '—';
      const both = hits.find((h) => ok(h.e.nfe1, h.e) && ok(h.e.euler, h.e))?.step ?? '—';
      console.log(`threshold (sliced W2 ≤ 2× held-out, all modes): NFE1 at step ${first('nfe1')}, NFE2 ${first('nfe2')}, Euler ${first('euler')}; NFE1 and Euler together ${both}`);
    },
  };
}

async function sample(p: CliParse): Promise<void> {
  const opt = p.opts as { ckpt?: string; nfe: number; n: number; out: string; ema: boolean };
  if (!opt.ckpt) throw new CliError('sample needs --ckpt');
  const st = loadCheckpoint(new Uint8Array(readFileSync(opt.ckpt)));
  const cfg = st.model;
  const run = configFromMetadata(st.run, st.model);
  const gpu = await openGpu();
  const ema = (opt.ema || p.config.sampleWeights === 'ema') && !!st.ema;
  const { model, P } = modelOnGpu(gpu, cfg, ema ? st.ema! : st.params);
  const meanflow = objectiveSpec(run.config.objective).oneStep === 'meanflow';
  const euler = p.given.has('euler') && p.config.euler > 0 ? p.config.euler : 0;
  if (isPointShape(cfg)) {
    const spec = p.given.has('dataset') ? p.config.dataset : (run.run.cli as CliRun | undefined)?.dataset ?? defaultDatasetFor(run.config.preset);
    await samplePoints(model, P, { ema, dataset: spec, dataSeed: run.config.seed, seed: p.config.seed, meanflow, step: st.step, euler, nfe: opt.nfe, n: p.givenOpts.has('n') ? opt.n : 2048, out: opt.out });
    gpu.destroy();
    return;
  }
  const n = opt.n;
  const rng = new Rng(p.config.seed);
  const z = rng.normals(n * cfg.C * cfg.H * cfg.W);
  const y = cfg.numClasses ? Float32Array.from({ length: n }, (_, i) => i % cfg.numClasses) : null;
  const be = model.be;
  const imgs = euler ? await sampleEuler(be, model, P, z, n, euler, { y, branch: 'fm' }) : await sampleConsistency(be, model, P, z, n, opt.nfe, rng, { y, meanflow });
  const cols = Math.ceil(Math.sqrt(n));
  const grid = imageGrid(imgs, n, cfg.C, cfg.H, cfg.W, cols, 1, Math.max(1, Math.floor(128 / cfg.H)));
  writeFileSync(opt.out, await encodePng(grid.rgba, grid.width, grid.height));
  console.log(`wrote ${opt.out}: ${n} samples, ${euler ? `Euler ${euler} steps (FM branch)` : `NFE ${opt.nfe}`}, ${ema ? 'EMA' : 'online'} weights, step ${st.step}`);
  gpu.destroy();
  // How close the samples came to the data, read against held-out real images (the floor) and the
  // input noise (where a model that learned nothing stays).
  const spec = p.datasetPath ?? (p.given.has('dataset') ? p.config.dataset : (run.run.cli as CliRun | undefined)?.dataset ?? (typeof run.run.dataset === 'string' && run.run.dataset in BUILTIN ? run.run.dataset : null));
  if (spec) {
    // The grid is written: a dataset that cannot be read here (files from another machine) only skips the figures.
    const ds = await loadData(spec, cfg, run.config.seed).catch((e: Error) => {
      console.error(`distance to the data skipped: ${e.message} (pass --dataset)`);
      return null;
    });
    if (ds) {
      const ref = referenceSplit(ds, 1024, n);
      const d = (x: Float32Array) => nearestDistance(x, n, ref.refs, ref.m).mean.toFixed(3);
      console.log(`nearest ${ds.name} image (RMS per pixel, ${ref.m} references): samples ${d(imgs)}, held-out real ${ref.floor.toFixed(3)}, input noise ${d(z)}`);
    }
  }
}

/** Point models: a scatter PNG (data grey, samples blue), the sliced W2 figures and mode coverage. */
async function samplePoints(
  model: ReturnType<typeof modelOnGpu>['model'],
  P: ReturnType<typeof modelOnGpu>['P'],
  o: { ema: boolean; dataset: string; dataSeed: number; seed: number; meanflow: boolean; step: number; euler: number; nfe: number; n: number; out: string },
): Promise<void> {
  if (!isPointSet(o.dataset)) throw new Error(`a point model samples against a 2-D point set (${POINT_SETS.join(', ')}), not '${o.dataset}'`);
  const { n } = o;
  const ref = pointReference(o.dataset, o.dataSeed, n);
  const z = new Rng(o.seed ^ 0xe7a1).normals(2 * n);
  const be = model.be;
  const pts = o.euler
    ? await sampleEuler(be, model, P, z, n, o.euler, { branch: 'fm' })
    : await sampleConsistency(be, model, P, z, n, o.nfe, new Rng(o.seed), { meanflow: o.meanflow });
  const what = o.euler ? `Euler ${o.euler} steps (FM branch)` : `NFE ${o.nfe}`;
  const img = renderScatter([
    { points: ref.refs.subarray(0, 2 * n), color: [150, 150, 150], alpha: 0.5 },
    { points: pts, color: [31, 119, 180], alpha: 0.6 },
  ], 3, 400);
  writeFileSync(o.out, await encodePng(img.rgba, img.width, img.height));
  const sw = slicedWasserstein(pts, ref.refs);
  const cov = coverage(pts, ref.refs, ref.labels, ref.classes, ref.radius);
  console.log(`wrote ${o.out}: ${n} samples, ${what}, ${o.ema ? 'EMA' : 'online'} weights, step ${o.step}`);
  console.log(
    `sliced W2 to ${o.dataset} (${n} points): samples ${sw.toFixed(4)} (${(sw / ref.heldOut).toFixed(2)}× held-out), held-out ${ref.heldOut.toFixed(4)}, noise ${ref.noise.toFixed(4)}; ` +
      `modes covered ${cov.covered}/${cov.classes}, ${(100 * cov.nearFraction).toFixed(1)} % of samples within ${ref.radius} of the data`,
  );
}

/**
 * One training step frozen for independent checking (e.g. in PyTorch): the parameters, the step's
 * inputs, what each branch of the step computed (F of the anchor branch with its conditions; F and
 * dF/dt of the consistency branch), the losses and every gradient, all from one runStep.
 */
async function dump(p: CliParse): Promise<void> {
  const opt = p.opts as { out: string; perturb: number };
  const config = p.config;
  const model = modelOf(config);
  const objective = objectiveOf(config);
  const { seed, batch: B } = config;
  const data = await loadData(datasetSpec(p), model, seed);
  const gpu = await openGpu();
  const table = paramTable(model);
  const flat = initParams(table, seed, opt.perturb);
  const be = gpuBackend(gpu);
  const dit = new DiT(be, model, table);
  const params = paramBuffer(gpu, table, flat, 'params');
  const grads = paramBuffer(gpu, table, null, 'grads');
  gpu.clear(grads.flat);
  const batch = new Batcher(data, B, seed, 0).next();
  const y = model.numClasses ? batch.y : null;
  const plan = planStep({ cfg: objective, step: 0, useR: model.useR }, batch.x, y, B, new Rng(seed));
  const results = runStep(be, gpuLoss(gpu), dit, params.P, grads.P, plan, undefined, true);
  const read = async (t: unknown) => (await gpu.read(t as Parameters<Gpu['read']>[0])).slice();
  const stats = await Promise.all(results.map(async (r) => ({ kind: r.kind, stats: await read(r.stats), scale: r.scale, w: r.w })));
  const m = summarise(stats, B);
  const gradFlat = await read(grads.flat);
  const shape = [B, model.C, model.H, model.W];
  const outputs: NamedTensor[] = [];
  for (const [i, r] of results.entries()) {
    const br = plan.branches[i];
    const name = r.kind === 'fm' ? 'fm' : 'cm';
    outputs.push({ name: `in.c_${name}`, shape: [B], data: br.c });
    if (br.r) outputs.push({ name: `in.r_${name}`, shape: [B], data: br.r });
    outputs.push({ name: `out.F_${name}`, shape, data: await read(r.F) });
    if (r.tF) outputs.push({ name: 'out.dFdt', shape, data: await read(r.tF) });
  }
  const tensors: NamedTensor[] = [
    ...table.specs.map((s) => ({ name: s.name, shape: s.shape, data: flat.slice(s.offset, s.offset + s.size) })),
    { name: 'in.x', shape, data: batch.x },
    { name: 'in.eps', shape, data: plan.eps },
    { name: 'in.t', shape: [B], data: plan.t },
    ...(y ? [{ name: 'in.y', shape: [B], data: y }] : []),
    { name: 'in.v', shape, data: plan.v },
    ...outputs,
    { name: 'out.loss_fm', shape: [1], data: Float32Array.of(m.lossFM) },
    { name: 'out.loss_cm', shape: [1], data: Float32Array.of(m.lossCM) },
    { name: 'out.loss', shape: [1], data: Float32Array.of(m.loss) },
    ...table.specs.map((s) => ({ name: `grad.${s.name}`, shape: s.shape, data: gradFlat.slice(s.offset, s.offset + s.size) })),
  ];
  writeFileSync(opt.out, writeSafetensors(tensors, { config: JSON.stringify(model), objective: JSON.stringify(objective), run: JSON.stringify(runMetadata(config, data.name)), seed: String(seed) }));
  console.log(`wrote ${opt.out}: ${tensors.length} tensors; loss ${m.loss} (L_FM ${m.lossFM}, L_CM ${m.lossCM})`);
  gpu.destroy();
}

async function info(): Promise<void> {
  const gpu = await openGpu();
  console.log(JSON.stringify(gpu.report, null, 2));
  gpu.destroy();
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const cmd = argv[0];
  const help = argv.includes('--help') || argv.includes('-h');
  if (help || !cmd || !COMMANDS[cmd]) {
    console.log(usage(COMMANDS[cmd ?? ''] ? cmd : undefined));
    process.exit(help || !cmd ? 0 : 2);
  }
  const parsed = parseCli(argv.slice(1), COMMANDS[cmd].options);
  if (parsed.positionals.length) throw new CliError(`unexpected argument '${parsed.positionals[0]}' (options start with --)`);
  await COMMANDS[cmd].run(parsed);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`error: ${(e as Error).message}`);
    process.exit(e instanceof CliError ? 2 : 1);
  },
);
