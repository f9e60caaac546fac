// Node CLI on Dawn: `npm run facm -- <train|sample|eval|dump|info> [options]`. The same Trainer,
// model and kernels as the browser worker; every setting is a flag generated from the declared
// key table (src/config), with the playground URL's names, ranges and messages.

import { appendFileSync, mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';
import { acquireDevice, describeAdapter } from '../gpu/device';
import { Gpu } from '../gpu/runtime';
import { gpuBackend } from '../ops/backend';
import { gpuLoss } from '../ops/loss';
import { PRESETS, forwardFlops, presetHint, type DiTConfig } from '../model/config';
import { DiT } from '../model/dit';
import { modelOnGpu, paramBuffer } from '../model/gpu';
import { initParams, paramTable } from '../model/params';
import { planStep } from '../objectives/objectives';
import { OBJECTIVES, objectiveSpec, needsR } from '../objectives/table';
import { runStep, summarise, teacherVelocity } from '../objectives/step';
import { sampleConsistency, sampleEuler } from '../objectives/samplers';
import type { StepRecord } from '../train/trainer';
import { loadCheckpoint, type CheckpointState } from '../train/checkpoint';
import { openCheckpoint, type ForeignHints } from '../train/foreign';
import { TrainingSession, type SessionEvent, type SessionOptions } from '../train/session';
import { studentParams } from '../train/distill';
import { loadShippedTeacher, TEACHER_IDS, TEACHERS } from '../data/teachers';
import { readPublic } from '../data/shippedNode';
import { FsCheckpointStore } from './fsStore';
import { readSafetensors, writeSafetensors, type NamedTensor } from '../train/safetensors';
import { BUILTIN, Batcher, loadDatasetFromFiles, resizeDataset, type Dataset } from '../data/index';
import { distanceScale, distanceTo } from '../train/samples';
import { SHIPPED } from '../data/shipped';
import { loadShippedNode } from '../data/shippedNode';
import { featuresGpu } from '../metrics/features';
import { DEFAULT_SAMPLES, featureSpaceOf, formatQuality, measureQuality, noiseImages, qualityReference, type Project, type Quality } from '../metrics/quality';
import { referenceSets, type ReferenceSets } from '../metrics/sets';
import { POINT_SETS, isPointSet, isPointShape } from '../data/points2d';
import { describeEval, evaluatePoints, pointReference, type PointEval } from '../metrics/eval2d';
import { coverage, slicedWasserstein } from '../metrics/dist2d';
import { renderScatter } from '../util/scatter';
import { encodePng, imageGrid } from '../util/png';
import { Rng } from '../util/rng';
import { CliError, helpText, parseCli, text, type CliParse, type OptionSpec } from '../config/cli';
import { bool, float, int } from '../config/spec';
import { configFromMetadata, defaultDatasetFor, modelOf, objectiveOf, runMetadata, toTrainConfig, UPLOADED_TEACHER, type Config } from '../config';

// ------------------------------------------------------------------ the commands' own options

const TRAIN: Record<string, OptionSpec> = {
  steps: int(200, 1, 1e9, 'steps', 'optimizer steps to take (with --init from a non-teacher checkpoint: beyond its step)'),
  out: text('output folder: checkpoint.safetensors, metrics.jsonl and the autosave (default runs/<objective>-<preset>-<time>)'),
  init: text('start from this checkpoint: its weights (and with no --teacher its optimizer state and step)'),
  teacher: text(`distil from this FM teacher (its EMA weights): v = teacher(x_t, c = t); a checkpoint file or a shipped teacher's id`),
  resume: text('continue the autosave in this --out folder (every setting from its metadata; only --steps may change)'),
  heads: int(0, 0, 4096, 'heads', 'a PyTorch DiT state_dict (no metadata of ours): its number of attention heads, which its shapes do not tell'),
  'image-size': int(0, 0, 4096, 'image size', 'a PyTorch DiT state_dict without pos_embed: its image side in pixels'),
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
  heads: int(0, 0, 4096, 'heads', 'a PyTorch DiT state_dict (no metadata of ours): its number of attention heads, which its shapes do not tell'),
  'image-size': int(0, 0, 4096, 'image size', 'a PyTorch DiT state_dict without pos_embed: its image side in pixels'),
};
const EVAL: Record<string, OptionSpec> = {
  ckpt: text('the checkpoint to measure, or several, comma-separated, on the same data set (the feature space, held-out and noise figures are computed once)'),
  samples: text("measure the samples in this file (or several, comma-separated) instead of drawing them: one tensor per sampler, as `python -m facm_bridge.sample` writes (the CLI's samplers and noise, in PyTorch); --ckpt names a checkpoint of the same model and data"),
  samplers: text('measure several samplers from the same noise, comma-separated: nfeN (consistency sampling, N calls) or eulerN (the FM branch, Euler N steps), e.g. euler1,euler2,euler4,euler8,euler16,euler50,nfe1,nfe2 (default: the one --nfe / --euler name)'),
  nfe: int(1, 1, 1000, 'NFE', 'consistency sampling with this many network calls (ignored with --euler: the FM branch, Euler N steps)'),
  n: int(DEFAULT_SAMPLES, 4, 100_000, 'images', 'samples measured (and as many held-out real images and noise images); two sets of the default size agree within 5 % in FD'),
  ema: bool(false, 'EMA', 'sample with the EMA weights (the same as --sample-weights ema)'),
  grid: text('also write the first 64 samples as a PNG grid here'),
};
const DUMP: Record<string, OptionSpec> = {
  out: text('the safetensors file to write', 'step.safetensors'),
  perturb: float(0.05, 0, 10, 'perturb', 'perturb the adaLN-Zero init by this much, so every path computes something'),
  classes: int(0, 0, 1000, 'classes', "give the model this many classes (0: the preset's), to check label dropout and guidance on a small model"),
  distil: bool(false, 'distil', 'distil from a teacher made like the student (seed + 1, perturbed): its parameters (teacher.*) and velocity (out.v) are written'),
};
const COMMANDS: Record<string, { run: (p: CliParse) => Promise<void>; options: Record<string, OptionSpec>; what: string }> = {
  train: { run: train, options: TRAIN, what: 'train a run (or continue one: --resume, --init)' },
  sample: { run: sample, options: SAMPLE, what: 'a grid of samples from a checkpoint, with its distance to the data' },
  eval: { run: evaluate, options: EVAL, what: "FD / precision / recall of a checkpoint's samples, next to held-out real images and noise" },
  dump: { run: dump, options: DUMP, what: 'one training step frozen for checking elsewhere (e.g. PyTorch): inputs, outputs, losses, gradients' },
  info: { run: info, options: {}, what: 'the adapter and its limits' },
};

const DATASET_NOTE = [
  `--dataset takes a built-in name (${[...Object.keys(BUILTIN), ...Object.keys(SHIPPED)].join(', ')}; default: the preset's own),`,
  `      a folder holding your images, or image files separated by commas; archives are unpacked:`,
  `        CIFAR-10 binary: cifar-10-binary.tar.gz, the .tar inside it, or data_batch_*.bin / test_batch.bin`,
  `        MNIST / Fashion-MNIST IDX: an images file with its labels file, gzip or not`,
  `          (train-images-idx3-ubyte.gz + train-labels-idx1-ubyte.gz; give the folder or both paths)`,
  `      Images are resized and converted to the preset's channels × size; a one-line hint names a preset that fits better.`,
].join('\n');

function usage(cmd?: string): string {
  const head = `usage: npm run facm -- <command> [options]\ncommands:\n${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(7)} ${c.what}`).join('\n')}\nobjectives: ${OBJECTIVES.join(', ')}; presets: ${Object.keys(PRESETS).join(', ')}; built-in datasets: ${Object.keys(BUILTIN).join(', ')}; shipped: ${Object.keys(SHIPPED).join(', ')}`;
  if (!cmd || !COMMANDS[cmd]) return `${head}\n${DATASET_NOTE}\n(npm run facm -- <command> --help lists a command's options and every setting)`;
  return `${head}\n\n${cmd}:\n${helpText(COMMANDS[cmd].options, undefined, DATASET_NOTE)}`;
}

const AUTOSAVE = 'autosave';

// Progress and information go to stdout; stderr is for errors and warnings only.
async function openGpu(quiet = false): Promise<Gpu> {
  const gpu = new Gpu(await acquireDevice());
  if (!quiet) console.log(`adapter: ${describeAdapter(gpu.report)}`);
  return gpu;
}

/** A checkpoint named by --init / --ckpt: this project's, or a PyTorch DiT state_dict with --heads / --image-size; notices on stdout. */
function openUserCheckpoint(path: string, option: string, opts: { heads?: number; 'image-size'?: number }): CheckpointState {
  const hints: ForeignHints = {};
  if (opts.heads) hints.heads = opts.heads;
  if (opts['image-size']) hints.imageSize = opts['image-size'];
  const { state, notices } = openCheckpoint(readInput(path, option), hints, undefined, path);
  for (const n of notices) console.log(`${basename(path)}: ${n}`);
  return state;
}

/** A file named by an option, or an error that names the option and the path. */
function readInput(path: string, option: string): Uint8Array {
  if (!existsSync(path)) throw new Error(`${option} ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new Error(`${option} ${path}: a folder; pass the .safetensors file (e.g. ${join(path, 'checkpoint.safetensors')})`);
  return new Uint8Array(readFileSync(path));
}

function readFiles(path: string): { name: string; bytes: Uint8Array }[] {
  if (!existsSync(path)) throw new Error(`dataset '${path}' is neither a built-in (${[...Object.keys(BUILTIN), ...Object.keys(SHIPPED)].join(', ')}) nor an existing file or folder`);
  if (statSync(path).isDirectory())
    // Named folder/file: the folder's name can say what the files are (e.g. fashion-mnist/).
    return readdirSync(path)
      .filter((f) => statSync(join(path, f)).isFile())
      .map((f) => ({ name: join(basename(path), f), bytes: new Uint8Array(readFileSync(join(path, f))) }));
  return [{ name: basename(path), bytes: new Uint8Array(readFileSync(path)) }];
}

function fitModel(ds: Dataset, model: DiTConfig): Dataset {
  if (ds.H === model.H && ds.W === model.W && ds.C === model.C) return ds;
  console.log(`resizing ${ds.name} from ${ds.C}×${ds.H}×${ds.W} to the model's ${model.C}×${model.H}×${model.W}`);
  return resizeDataset(ds, model.H, model.W, { C: model.C });
}

/** A built-in name, a shipped data set (public/), or files (comma-separated paths / a folder): resized to the model's shape if needed. */
async function loadData(spec: string, model: DiTConfig, seed: number, split: 'train' | 'test' = 'train', preset?: string): Promise<Dataset> {
  if (isPointSet(spec) !== isPointShape(model))
    throw new Error(isPointSet(spec) ? `'${spec}' is a 2-D point set: train it with --preset points` : `the points preset takes a 2-D point set (${POINT_SETS.join(', ')}), not '${spec}'`);
  if (SHIPPED[spec]) return fitModel(await loadShippedNode(spec, split === 'test' ? 'heldOut' : 'train'), model);
  if (BUILTIN[spec]) return fitModel(BUILTIN[spec].make(seed), model);
  const ds = await loadDatasetFromFiles(spec.split(',').flatMap(readFiles), { split });
  const hint = preset ? presetHint(ds, preset) : null;
  if (hint) console.log(`hint: ${hint.replace(/ suits it better\.$/, ' suits it better (--preset).')}`);
  return fitModel(ds, model);
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
  const opt = p.opts as { steps: number; out?: string; init?: string; teacher?: string; resume?: string; 'log-every': number; heads?: number; 'image-size'?: number; 'eval-every': number; 'eval-n': number; 'eval-euler': number };
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
    const st = loadCheckpoint(resumeBytes, undefined, store.path(AUTOSAVE));
    const meta = configFromMetadata(st.run, st.model);
    const saved = meta.run.cli as CliRun | undefined;
    if (!saved) throw new Error(`--resume: ${store.path(AUTOSAVE)} was not written by this CLI (no 'cli' entry in its run metadata)`);
    config = { ...meta.config, autosaveEvery: p.given.has('autosaveEvery') ? p.config.autosaveEvery : config.autosaveEvery };
    model = st.model;
    cli = { ...saved, steps: p.givenOpts.has('steps') ? opt.steps : saved.steps };
    console.log(`resuming ${out} at step ${st.step} of ${cli.steps}`);
  } else {
    model = modelOf(config);
    if (opt.init) {
      initState = openUserCheckpoint(opt.init, '--init', opt);
      // Distillation starts the student from the teacher's weights: same architecture, plus the r
      // embedder (at its init) when the objective needs one and the checkpoint has none.
      const useR = needsR(objectiveOf(config));
      if (useR && !initState.model.useR) {
        const student = { ...initState.model, useR };
        initState = { model: student, step: 0, params: studentParams({ name: opt.init, model: initState.model, preset: null, params: initState.params, step: initState.step }, student, config.seed) };
      }
      model = initState.model;
    }
    cli = { dataset: datasetSpec(p), steps: (initState && !opt.teacher ? initState.step : 0) + opt.steps, teacher: opt.teacher ?? null, preset: config.preset };
  }
  const cfg = toTrainConfig(config, model);
  let teacher: { bytes: Uint8Array; name: string } | null = null;
  if (cli.teacher) {
    // A shipped teacher by its id (src/data/teachers.ts, checksum checked), or a checkpoint file.
    if (TEACHERS[cli.teacher]) teacher = { bytes: await loadShippedTeacher(cli.teacher, readPublic), name: cli.teacher };
    else if (!existsSync(cli.teacher)) throw new Error(`teacher checkpoint '${cli.teacher}' does not exist (shipped teachers: ${TEACHER_IDS.join(', ')})`);
    else teacher = { bytes: new Uint8Array(readFileSync(cli.teacher)), name: cli.teacher };
    config.teacher = TEACHERS[cli.teacher] ? cli.teacher : UPLOADED_TEACHER; // recorded in the checkpoints
  }
  const data = await loadData(cli.dataset, cfg.model, cfg.seed, 'train', cli.preset);
  const table = paramTable(cfg.model);
  console.log(`model: ${cli.preset} ${cfg.model.C}×${cfg.model.H}×${cfg.model.W}, ${table.count.toLocaleString()} parameters, ${(forwardFlops(cfg.model) / 1e6).toFixed(2)} MFLOP/image forward; objective ${cfg.objective.name}; data ${data.name} (${data.count} images); batch ${cfg.batch}`);
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
    acquire: () => openGpu(),
    ...(config.memoryBudget > 0 && { budgetBytes: config.memoryBudget * 2 ** 20, budgetWhy: `--memory-budget ${config.memoryBudget}` }),
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
    const c = session.collapse;
    if (c) {
      console.log(`COLLAPSE at step ${c.step}: ${c.quantity} became non-finite; stopping (parameters kept from before the bad step)`);
      break;
    }
  }
  report(await session.drain());
  const secs = (performance.now() - t0) / 1000;
  // The final state (also after a collapse: AdamW skipped the bad step), written as the checkpoint; the session autosaves it.
  const ck = await session.save();
  writeFileSync(join(out, 'checkpoint.safetensors'), ck);
  if (autosave) await session.checkpointNow(); // this step; after a collapse the autosave stays the last clean state
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
  const opt = p.opts as { ckpt?: string; nfe: number; n: number; out: string; ema: boolean; heads?: number; 'image-size'?: number };
  if (!opt.ckpt) throw new CliError('sample needs --ckpt');
  const st = openUserCheckpoint(opt.ckpt, '--ckpt', opt);
  const cfg = st.model;
  const run = configFromMetadata(st.run, st.model);
  const gpu = await openGpu();
  if (isPointShape(cfg)) {
    // A point model: a scatter of its samples over the data, with the 2-D distance figures.
    const ema = (opt.ema || p.config.sampleWeights === 'ema') && !!st.ema;
    const { model, P } = modelOnGpu(gpu, cfg, ema ? st.ema! : st.params);
    const euler = p.given.has('euler') && p.config.euler > 0 ? p.config.euler : 0;
    const meanflow = objectiveSpec(run.config.objective).oneStep === 'meanflow';
    const spec = p.given.has('dataset') ? p.config.dataset : (run.run.cli as CliRun | undefined)?.dataset ?? defaultDatasetFor(run.config.preset);
    await samplePoints(model, P, { ema, dataset: spec, dataSeed: run.config.seed, seed: p.config.seed, meanflow, step: st.step, euler, nfe: opt.nfe, n: p.givenOpts.has('n') ? opt.n : 2048, out: opt.out });
    gpu.destroy();
    return;
  }
  const s = await drawSamples(gpu, st, p, opt.n, samplerOf(p, opt.nfe), opt.ema);
  gpu.destroy();
  await writeGrid(opt.out, s.imgs, opt.n, cfg);
  console.log(`wrote ${opt.out}: ${opt.n} samples, ${s.what}`);
  const spec = runDataset(p, run);
  // The grid is written: a dataset that cannot be read here (files from another machine) only skips the figures.
  const ds = spec ? await loadData(spec, cfg, run.config.seed).catch((e: Error) => (console.error(`distance to the data skipped: ${e.message} (pass --dataset)`), null)) : null;
  if (ds) printNearest(ds, s.imgs, s.z, opt.n);
}

/** A sampler: consistency sampling with `nfe` network calls, or (euler > 0) the FM branch's Euler ODE with `euler` steps. */
interface Sampler {
  nfe: number;
  euler: number;
}

/** The sampler --nfe / --euler name (--euler N wins). */
function samplerOf(p: CliParse, nfe: number): Sampler {
  return { nfe, euler: p.given.has('euler') && p.config.euler > 0 ? p.config.euler : 0 };
}

/** `--samplers nfe1,euler16,...` as samplers, or an error naming the entry that is neither. */
function parseSamplers(list: string): Sampler[] {
  return list.split(',').map((raw) => {
    const m = /^(nfe|euler)(\d+)$/.exec(raw.trim().toLowerCase());
    const k = m ? Number(m[2]) : 0;
    if (!m || k < 1 || k > 1000) throw new CliError(`--samplers: '${raw}' is not a sampler: write nfeN (N network calls, 1 to 1000) or eulerN (N Euler steps of the FM branch), comma-separated, e.g. euler16,nfe1,nfe2`);
    return m[1] === 'nfe' ? { nfe: k, euler: 0 } : { nfe: 1, euler: k };
  });
}

/** Samples from a checkpoint with one sampler, in chunks (memory), the noise drawn from --seed (so every sampler starts from the same noise). */
async function drawSamples(gpu: Gpu, st: CheckpointState, p: CliParse, n: number, sampler: Sampler, emaFlag: boolean): Promise<{ imgs: Float32Array; z: Float32Array; what: string }> {
  const cfg = st.model;
  const run = configFromMetadata(st.run, st.model);
  const ema = (emaFlag || p.config.sampleWeights === 'ema') && !!st.ema;
  const { model, P } = modelOnGpu(gpu, cfg, ema ? st.ema! : st.params);
  const D = cfg.C * cfg.H * cfg.W;
  const rng = new Rng(p.config.seed);
  const z = rng.normals(n * D);
  const meanflow = objectiveSpec(run.config.objective).oneStep === 'meanflow';
  const { nfe, euler } = sampler;
  const imgs = new Float32Array(n * D);
  const CHUNK = 256;
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const b = Math.min(CHUNK, n - i0);
    const zc = z.subarray(i0 * D, (i0 + b) * D);
    const y = cfg.numClasses ? Float32Array.from({ length: b }, (_, i) => (i0 + i) % cfg.numClasses) : null;
    const x = euler ? await sampleEuler(model.be, model, P, zc, b, euler, { y, branch: 'fm' }) : await sampleConsistency(model.be, model, P, zc, b, nfe, rng, { y, meanflow });
    imgs.set(x, i0 * D);
  }
  return { imgs, z, what: `${euler ? `Euler ${euler} steps (FM branch)` : `NFE ${nfe}`}, ${ema ? 'EMA' : 'online'} weights, step ${st.step}` };
}

async function writeGrid(path: string, imgs: Float32Array, n: number, cfg: DiTConfig): Promise<void> {
  const grid = imageGrid(imgs, n, cfg.C, cfg.H, cfg.W, Math.ceil(Math.sqrt(n)), 1, Math.max(1, Math.floor(128 / cfg.H)));
  writeFileSync(path, await encodePng(grid.rgba, grid.width, grid.height));
}

/** The data set a checkpoint was trained on (or --dataset), if it can be named here. */
function runDataset(p: CliParse, run: ReturnType<typeof configFromMetadata>): string | null {
  const named = (d: unknown) => typeof d === 'string' && (d in BUILTIN || d in SHIPPED);
  return p.datasetPath ?? (p.given.has('dataset') ? p.config.dataset : (run.run.cli as CliRun | undefined)?.dataset ?? (named(run.run.dataset) ? (run.run.dataset as string) : null));
}

/**
 * How close the samples came to the data (a memorisation check as much as a quality one: a copy of
 * a training image scores 0), read against held-out real images (the floor) and the input noise.
 */
function printNearest(ds: Dataset, imgs: Float32Array, z: Float32Array, n: number, lead = ''): void {
  const scale = distanceScale(ds, z, n);
  const d = (x: Float32Array) => distanceTo(x, n, scale).toFixed(3);
  console.log(`${lead}nearest ${ds.name} image (RMS per pixel, ${scale.m} references): samples ${d(imgs)}, held-out real ${scale.floor.toFixed(3)}, input noise ${scale.noise.toFixed(3)}`);
}

/**
 * FD, precision and recall of a checkpoint's samples in the data set's feature space (src/metrics),
 * next to the same figures for held-out real images and N(0, 1) noise, and the nearest-image distance.
 */
async function evaluate(p: CliParse): Promise<void> {
  const opt = p.opts as { ckpt?: string; nfe: number; n: number; ema: boolean; grid?: string; samplers?: string; samples?: string };
  if (!opt.ckpt) throw new CliError('eval needs --ckpt');
  const paths = opt.ckpt.split(',').filter(Boolean);
  const samplers = opt.samplers ? parseSamplers(opt.samplers) : [samplerOf(p, opt.nfe)];
  if (opt.grid && paths.length * samplers.length > 1) throw new CliError('--grid writes one grid: pass one checkpoint and one sampler with it (or use `sample` for each grid)');
  const states = paths.map((f) => ({ f, st: loadCheckpoint(new Uint8Array(readFileSync(f))) }));
  const { st: first, f: firstPath } = states[0];
  const cfg = first.model;
  const run = configFromMetadata(first.run, first.model);
  const spec = runDataset(p, run);
  if (!spec) throw new CliError(`the checkpoint does not name a data set this machine has (run metadata: ${JSON.stringify(run.run.dataset ?? null)}); pass --dataset`);
  for (const { f, st } of states.slice(1)) {
    const other = runDataset(p, configFromMetadata(st.run, st.model));
    if (other !== spec || JSON.stringify(st.model) !== JSON.stringify(cfg))
      throw new CliError(`${f} is not measured on the same data and model shape as ${firstPath} (${other ?? 'no data set'} vs ${spec}): eval one at a time, or pass --dataset`);
  }
  const { train, heldOut } = await metricSets(spec, cfg, opt.n);
  const gpu = await openGpu();
  const space = featureSpaceOf(train);
  const project: Project = (x, n) => featuresGpu(gpu, space, x, n);
  const ref = await qualityReference(train, project);
  const n = opt.n;
  const nh = Math.min(n, heldOut.count);
  console.log(`${train.name}: FD / precision / recall (k = 3) in its feature space: PCA, ${space.K} of ${space.D} pixels, fitted on ${Math.min(train.count, 2048)} training images; ${n} samples`);
  const line = (what: string, q: Quality) => console.log(`  ${what.padEnd(48)} ${formatQuality(q)}`);
  line(`held-out real (${nh} images)`, await measureQuality(ref, project, heldOut.images.subarray(0, nh * space.D), nh));
  line('N(0, 1) noise', await measureQuality(ref, project, noiseImages(n, space.D), n));
  const measure = async (what: string, imgs: Float32Array, z: Float32Array, note: string) => {
    line(`samples (${what})`, await measureQuality(ref, project, imgs, n));
    printNearest(train, imgs, z, n, `    ${note}`);
  };
  for (const file of opt.samples?.split(',').filter(Boolean) ?? []) {
    for (const s of readSampleFile(file, n, cfg)) await measure(s.what, s.imgs, new Rng(s.seed).normals(n * space.D), `from ${file}; `);
  }
  for (const { f, st } of opt.samples ? [] : states) {
    if (states.length > 1) console.log(`${f} (step ${st.step}):`);
    for (const sampler of samplers) {
      const t0 = performance.now();
      const s = await drawSamples(gpu, st, p, n, sampler, opt.ema);
      const secs = (performance.now() - t0) / 1000;
      if (opt.grid) await writeGrid(opt.grid, s.imgs, Math.min(64, n), cfg);
      await measure(s.what, s.imgs, s.z, `sampling took ${secs.toFixed(1)} s; `);
    }
  }
  gpu.destroy();
}

/** The samples in a file of `python -m facm_bridge.sample` (one tensor per sampler, (n, C, H, W)), checked against the model's shape and n. */
function readSampleFile(path: string, n: number, cfg: DiTConfig): { what: string; imgs: Float32Array; seed: number }[] {
  const f = readSafetensors(readInput(path, '--samples'), path);
  let info: { step?: number; weights?: string; seed?: number; n?: number; config?: DiTConfig };
  try {
    info = JSON.parse(f.metadata.samples ?? '');
  } catch {
    throw new CliError(`--samples ${path}: no 'samples' entry in its metadata: write it with python -m facm_bridge.sample`);
  }
  const D = cfg.C * cfg.H * cfg.W;
  return [...f.tensors].map(([name, t]) => {
    if (t.data.length !== n * D) throw new CliError(`--samples ${path}: tensor ${name} holds ${t.data.length / D} images of ${cfg.C}×${cfg.H}×${cfg.W}, not the --n ${n} asked for: pass --n ${t.data.length / D}`);
    const m = /^(nfe|euler)(\d+)$/.exec(name);
    const what = m ? (m[1] === 'euler' ? `Euler ${m[2]} steps (FM branch)` : `NFE ${m[2]}`) : name;
    return { what: `${what}, ${info.weights ?? '?'} weights, step ${info.step ?? '?'}, PyTorch`, imgs: t.data as Float32Array, seed: info.seed ?? 0 };
  });
}

/** The data a run's samples are measured against (src/metrics/sets.ts); files use their test split when they have one. */
async function metricSets(spec: string, cfg: DiTConfig, n: number): Promise<ReferenceSets> {
  const train = () => loadData(spec, cfg, 0, 'train');
  if (!BUILTIN[spec] && !SHIPPED[spec]) {
    const train = await loadData(spec, cfg, 0, 'train');
    const test = await loadData(spec, cfg, 0, 'test');
    const same = test.count === train.count && test.images.every((v, i) => v === train.images[i]); // no test split: loadDatasetFromFiles fell back to the same files
    if (!same) return { train, heldOut: test };
  }
  return referenceSets(spec, train, n, (ds) => fitModel(ds, cfg), (name) => loadShippedNode(name, 'heldOut'));
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
  const opt = p.opts as { out: string; perturb: number; classes: number; distil: boolean };
  const config = p.config;
  const model = { ...modelOf(config), ...(opt.classes ? { numClasses: opt.classes } : {}) };
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
  const labels = model.numClasses ? { ...toTrainConfig(config, model).labels!, numClasses: model.numClasses } : undefined;
  const plan = planStep({ cfg: objective, step: 0, useR: model.useR, labels }, batch.x, y, B, new Rng(seed));
  const teacherFlat = opt.distil ? initParams(table, seed + 1, opt.perturb) : null;
  const teacher = teacherFlat ? { model: dit, P: paramBuffer(gpu, table, teacherFlat, 'teacher').P } : undefined;
  const results = runStep(be, gpuLoss(gpu), dit, params.P, grads.P, plan, teacher, true);
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
  if (teacher) {
    const xt = be.fromArray(plan.xt, shape);
    outputs.push({ name: 'out.v', shape, data: await read(teacherVelocity(be, teacher, plan, xt)) });
    outputs.push(...table.specs.map((s) => ({ name: `teacher.${s.name}`, shape: s.shape, data: teacherFlat!.slice(s.offset, s.offset + s.size) })));
  }
  // The labels the model saw (label dropout) and the teacher's unconditional ones (guidance).
  if (plan.y && plan.y !== y) outputs.push({ name: 'in.y_in', shape: [B], data: plan.y });
  if (plan.guidance) outputs.push({ name: 'in.y_u', shape: [B], data: plan.guidance.yU });
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
  const gpu = await openGpu(true); // the JSON below holds the adapter
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
