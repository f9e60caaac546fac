// One job: the optimizer step. A GPU-resident run (parameters, gradients, AdamW state, EMA) steps an
// objective over a dataset, each step recorded into one command buffer with no read-back; per-step
// metrics land in a GPU history ring that `drain()` reads a few times a second at most, and each
// drained record names the first quantity that went non-finite (the grad-norm kernel flags it and
// AdamW skips that step on the GPU). What to do about it, checkpoints, device loss and autosave are
// the session's (session.ts); this file keeps only the GPU primitives a policy needs: a snapshot of
// params / EMA / Adam state into spare buffers, and its restore.

import type { Gpu, Recording, Tensor } from '../gpu/runtime';
import type { ResumeState } from './checkpoint';
import { gpuBackend, type Backend } from '../ops/backend';
import { adamw, emaUpdate, gradNorm, scheduledLr, type AdamWConfig } from '../ops/optim';
import { DiT, type Params } from '../model/dit';
import { paramViews } from '../model/gpu';
import { validateConfig, type DiTConfig } from '../model/config';
import { decayMask, initParams, paramTable, type ParamTable } from '../model/params';
import { planStep } from '../objectives/objectives';
import { needsR } from '../objectives/table';
import type { LabelConfig, ObjectiveConfig } from '../config/keys';
import { runStep, stepInputs, stepKey, summarise, type StepMetrics, type Teacher } from '../objectives/step';
import type { StepPlan } from '../objectives/objectives';
import { FM_STATS, gpuLoss, RES_STATS } from '../ops/loss';
import { Batcher, type Dataset } from '../data/dataset';
import { Rng } from '../util/rng';

export interface TrainConfig {
  model: DiTConfig;
  objective: ObjectiveConfig;
  batch: number;
  lr: number;
  /** The learning-rate schedule (absent: a constant lr); see `scheduledLr`. */
  lrWarmup?: number;
  lrDecaySteps?: number;
  lrFloor?: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
  /** Adam's ε (default 1e-8, PyTorch's). */
  adamEps?: number;
  /** Global grad-norm clip (≤ 0: off). */
  gradClip: number;
  emaDecay: number;
  seed: number;
  /** Horizontal-flip probability of the data augmentation. */
  flip: number;
  /** Class-conditional models: label dropout and the teacher's guidance (absent: neither). */
  labels?: LabelConfig;
  /** The session's non-finite policy (session.ts); 'rollback' also gives the trainer its snapshot buffers. */
  onNonFinite?: 'stop' | 'rollback';
  /** Rollback: snapshot once a drain confirms at least this many new clean steps (default 50). */
  snapshotEvery?: number;
  /** Rollback: this many rollbacks to the same snapshot stop the run as a collapse (default 3). */
  maxRollbacks?: number;
}

export interface StepRecord extends StepMetrics {
  step: number;
  gradNorm: number;
  /** The first quantity of this step that went non-finite, in computation order ('L_FM', 'dF/dt', 'residual g', 'L_CM', 'grad norm'); null: a clean step. */
  nonFinite: string | null;
  /** t of each sample (for t-binned views) and the per-sample clamp fraction / residual RMS. */
  t: Float32Array;
  clampByT: Float32Array | null;
  rmsGByT: Float32Array | null;
}

const HISTORY = 64; // steps between forced drains
const ROW = 64; // floats per history row (256-byte aligned views)
/** n floats padded to whole ROWs, so every piece of a history row is a bindable, 256-byte aligned view. */
const padRow = (n: number) => Math.ceil(n / ROW) * ROW;
/** Floats of a branch's per-sample stats at batch B (loss.ts writes FM_STATS / RES_STATS per sample). */
const statsFloats = (kind: 'fm' | 'residual', B: number) => (kind === 'fm' ? FM_STATS.length : RES_STATS.length) * B;
/** The buffers a snapshot copies. */
const STATE = ['params', 'ema', 'm', 'v'] as const;
/** Where one branch's stats sit in a history row. */
type RowPiece = { kind: 'fm' | 'residual'; scale: number; w: Float32Array | null; off: number };

export class Trainer {
  readonly table: ParamTable;
  readonly model: DiT<Tensor>;
  readonly params: Tensor;
  readonly grads: Tensor;
  readonly ema: Tensor;
  private readonly m: Tensor;
  private readonly v: Tensor;
  private readonly mask: Tensor;
  private readonly optStats: Tensor;
  private readonly history: Tensor;
  /** This step's branch stats, laid out as a history row (a recorded step writes here, at fixed offsets). */
  private readonly stepStats: Tensor;
  /**
   * Recorded steps by stepKey (null: replay off). A key's second step is captured again and must
   * record the same work as its first (else the key misses something: an error); from its third,
   * steps are replayed (Gpu.replay): the model code runs once per key, not once per step.
   */
  private readonly recordings: Map<string, { rec: Recording; checked: boolean }> | null;
  /** Steps recorded by replaying a recording. */
  replayedSteps = 0;

  /** Drops the recorded steps (the next step of each key runs the model code again): after the kernel choices change, e.g. a re-tune. */
  forgetRecordings(): void {
    this.recordings?.clear();
  }
  private readonly P: Params<Tensor>;
  private readonly G: Params<Tensor>;
  private readonly E: Params<Tensor>;
  private readonly batcher: Batcher;
  private readonly rng: Rng;
  private readonly teacher: (Teacher<Tensor> & { buffer: Tensor }) | null;
  private pending: { step: number; t: Float32Array; optOff: number; layout: RowPiece[] }[] = [];
  /** Optimizer steps taken. */
  step = 0;
  readonly rowFloats: number;
  /** GPU copies of params, EMA, m, v as of step `snapshotStep` (allocated under onNonFinite = 'rollback'). */
  private readonly snap: { params: Tensor; ema: Tensor; m: Tensor; v: Tensor } | null = null;
  /** The step of the snapshot `restoreSnapshot()` returns to (null: no snapshot buffers). */
  snapshotStep: number | null = null;
  private readonly owned: GPUBuffer[] = [];

  constructor(
    readonly gpu: Gpu,
    readonly cfg: TrainConfig,
    readonly data: Dataset,
    init?: {
      params?: Float32Array;
      teacher?: { cfg: DiTConfig; params: Float32Array };
      /** The op backend on `gpu` (default gpuBackend(gpu); tests wrap it to inject faults). */
      backend?: Backend<Tensor>;
      /** Replay recorded steps (default true; FACM_REPLAY=0 in Node turns it off). */
      replay?: boolean;
    },
  ) {
    validateConfig(cfg.model);
    const mc = cfg.model;
    if (data.C !== mc.C || data.H !== mc.H || data.W !== mc.W)
      throw new Error(`dataset ${data.name} is ${data.C}×${data.H}×${data.W} but the model expects ${mc.C}×${mc.H}×${mc.W}: pick a matching preset or resize the data`);
    if (mc.numClasses > 0 && data.numClasses > mc.numClasses)
      throw new Error(`dataset ${data.name} has ${data.numClasses} classes but the model's label table has ${mc.numClasses}`);
    if (needsR(cfg.objective) && !mc.useR) throw new Error(`objective ${cfg.objective.name} needs a model with a second time condition (useR)`);
    const B = cfg.batch;
    // A row holds each branch's stats (≤ one FM (B, 2) and one residual (B, 8)) and the optimizer's
    // 4 values, each padded to ROW floats so every piece is a bindable, 256-byte aligned view.
    this.rowFloats = padRow(statsFloats('fm', B)) + padRow(statsFloats('residual', B)) + ROW;

    let teacherTable: ParamTable | null = null;
    if (init?.teacher) {
      const tc = init.teacher.cfg;
      validateConfig(tc);
      if (tc.C !== mc.C || tc.H !== mc.H || tc.W !== mc.W)
        throw new Error(`the teacher checkpoint is for ${tc.C}×${tc.H}×${tc.W} images but the student model is ${mc.C}×${mc.H}×${mc.W}: distil from a teacher trained on the same image size`);
      if (tc.numClasses !== mc.numClasses)
        throw new Error(`the teacher has ${tc.numClasses} classes but the student ${mc.numClasses}: their label inputs would not agree`);
      teacherTable = paramTable(tc);
      if (init.teacher.params.length !== teacherTable.total)
        throw new Error(`teacher parameters (${init.teacher.params.length} values) do not match the teacher config (${teacherTable.total})`);
    }

    this.table = paramTable(mc);
    const n = this.table.total;
    // Checked before anything is allocated: a refused config leaves the device as it was.
    const flat = init?.params ?? initParams(this.table, cfg.seed);
    if (flat.length !== n) throw new Error(`initial parameters have ${flat.length} values, the model needs ${n}`);
    const be = init?.backend ?? gpuBackend(gpu);
    this.model = new DiT(be, mc, this.table);
    const own = (elements: number, label: string) => {
      const b = gpu.persistent(elements, label);
      this.owned.push(b);
      return b;
    };
    const buf = (label: string) => gpu.view(own(n, label), 0, [n]);
    this.params = buf('params');
    this.grads = buf('grads');
    this.ema = buf('ema');
    this.m = buf('adam.m');
    this.v = buf('adam.v');
    this.mask = buf('decay-mask');
    if (cfg.onNonFinite === 'rollback') this.snap = { params: buf('snapshot.params'), ema: buf('snapshot.ema'), m: buf('snapshot.m'), v: buf('snapshot.v') };
    this.optStats = gpu.view(own(64, 'optim-stats'), 0, [4]);
    this.history = gpu.view(own(HISTORY * this.rowFloats, 'metrics-history'), 0, [HISTORY * this.rowFloats]);
    this.stepStats = gpu.view(own(this.rowFloats, 'step-stats'), 0, [this.rowFloats]);
    gpu.write(this.params, flat);
    gpu.write(this.ema, flat);
    gpu.clear(this.m);
    gpu.clear(this.v);
    gpu.write(this.mask, decayMask(this.table));
    this.P = paramViews(gpu, this.table, this.params);
    this.G = paramViews(gpu, this.table, this.grads);
    this.E = paramViews(gpu, this.table, this.ema);
    this.teacher = null;
    if (init?.teacher && teacherTable) {
      const ttable = teacherTable;
      const tbuf = gpu.view(own(ttable.total, 'teacher'), 0, [ttable.total]);
      gpu.write(tbuf, init.teacher.params);
      this.teacher = { model: new DiT(be, init.teacher.cfg, ttable), P: paramViews(gpu, ttable, tbuf), buffer: tbuf };
    }
    // Replay needs the default backend (a wrapped one may act per call) and no teacher (its inputs
    // are not stepInputs); FACM_REPLAY=0 turns it off.
    const env = typeof process !== 'undefined' ? process.env?.FACM_REPLAY : undefined;
    this.recordings = (init?.replay ?? true) && !init?.backend && !this.teacher && env !== '0' ? new Map() : null;
    this.batcher = new Batcher(data, B, cfg.seed ^ 0x5eed, cfg.flip);
    this.rng = new Rng(cfg.seed ^ 0x7a11);
    this.takeSnapshot();
  }

  /** AdamW's settings for optimizer step `step` (1-based), the rate from the schedule. */
  adamAt(step: number): AdamWConfig {
    const c = this.cfg;
    return { lr: scheduledLr(c, step), beta1: c.beta1, beta2: c.beta2, eps: c.adamEps ?? 1e-8, weightDecay: c.weightDecay };
  }

  /**
   * Records and submits one optimizer step. Awaits only when the metrics ring is full.
   * Throws the runtime's GpuLostError once the device is gone.
   */
  async stepOnce(): Promise<StepRecord[]> {
    const { gpu, cfg } = this;
    if (gpu.lost) throw gpu.lost;
    const B = cfg.batch;
    const batch = this.batcher.next();
    const { numClasses } = cfg.model;
    const labels = cfg.labels && numClasses > 0 ? { ...cfg.labels, numClasses } : undefined;
    const plan = planStep({ cfg: cfg.objective, step: this.step, useR: cfg.model.useR, labels }, batch.x, numClasses > 0 ? batch.y : null, B, this.rng);
    // Where each branch's stats go in a history row: the branches in plan order, as runStep returns them.
    const layout: RowPiece[] = [];
    let off = 0;
    for (const br of plan.branches) {
      layout.push({ kind: br.kind, scale: br.scale, w: br.kind === 'fm' ? br.w : null, off });
      off += padRow(statsFloats(br.kind, B));
    }
    this.recordStep(plan, layout);
    gradNorm(gpu, this.grads, this.optStats, cfg.gradClip);
    this.step++;
    adamw(gpu, this.params, this.grads, this.m, this.v, this.optStats, this.adamAt(this.step), this.step, this.mask);
    // EMA warm-up (as TF's ExponentialMovingAverage with num_updates): early on the average follows
    // the weights; otherwise a short run's EMA stays near the adaLN-Zero init (F ≈ 0), which made
    // a 200-step teacher's EMA velocity ~15× too small for distillation.
    emaUpdate(gpu, this.ema, this.params, Math.min(cfg.emaDecay, (1 + this.step) / (10 + this.step)));
    // metrics row: branch stats then optimizer stats
    const row = this.pending.length;
    const base = row * this.rowFloats;
    gpu.copy(gpu.view(this.stepStats.buffer, 0, [off]), gpu.view(this.history.buffer, base, [off]));
    gpu.copy(this.optStats, gpu.view(this.history.buffer, base + off, [4]));
    this.pending.push({ step: this.step, t: plan.t, optOff: off, layout });
    gpu.flush();
    if (this.pending.length === HISTORY) return this.drain();
    return [];
  }

  /** Records the step's gradients (and its branch stats into stepStats): by replay when it can. */
  private recordStep(plan: StepPlan, layout: RowPiece[]): void {
    const { gpu, recordings } = this;
    const record = () => {
      gpu.clear(this.grads);
      const results = runStep(this.model.be, gpuLoss(gpu), this.model, this.P, this.G, plan, this.teacher ?? undefined);
      results.forEach((r, i) => {
        const l = layout[i];
        if (r.kind !== l.kind || r.stats.size !== statsFloats(l.kind, plan.B)) throw new Error(`step: branch ${i} is ${r.kind} with ${r.stats.size} stats, the metrics row expected ${l.kind} with ${statsFloats(l.kind, plan.B)}`);
        gpu.copy(r.stats, gpu.view(this.stepStats.buffer, l.off, [r.stats.size]));
        gpu.release(r.stats);
      });
    };
    if (!recordings || gpu.profilingOn) return record();
    const key = stepKey(plan);
    const inputs = stepInputs(plan);
    const known = recordings.get(key);
    if (known?.checked && gpu.replay(known.rec, inputs)) {
      this.replayedSteps++;
      return;
    }
    const { recording } = gpu.capture(inputs, record);
    const diff = known && recording.differsFrom(known.rec);
    if (diff) throw new Error(`step ${this.step + 1}: a replayed step would not be this step (${diff}): its key misses what changed; FACM_REPLAY=0 turns replay off`);
    if (!known && recordings.size >= 8) recordings.clear(); // steps of ever-new keys: keep a few
    recordings.set(key, { rec: recording, checked: !!known });
  }

  /** Steps recorded since the last drain (0 right after one: the GPU state is the one just read back). */
  get undrained(): number {
    return this.pending.length;
  }

  /**
   * Reads back the metrics of all steps since the last drain (one map of one buffer). Safe to call
   * while steps are being recorded: the rows are copied out before the first await.
   */
  async drain(): Promise<StepRecord[]> {
    if (this.pending.length === 0) return [];
    const pending = this.pending;
    this.pending = [];
    const all = await this.gpu.read(this.gpu.view(this.history.buffer, 0, [pending.length * this.rowFloats]));
    const B = this.cfg.batch;
    return pending.map((p, i) => {
      const row = all.subarray(i * this.rowFloats, (i + 1) * this.rowFloats);
      const res = p.layout.map((l) => ({ kind: l.kind, stats: row.subarray(l.off, l.off + (l.kind === 'fm' ? 2 : 8) * B), scale: l.scale, w: l.w }));
      const m = summarise(res, B);
      const cm = res.find((r) => r.kind === 'residual');
      // The first non-finite quantity, in the order they are computed: the FM loss; the JVP's dF/dt,
      // the residual g and L_CM (the clamp in L_CM can hide a NaN g); then the gradient.
      const checks: [string, number][] = [];
      if (res.some((r) => r.kind === 'fm')) checks.push(['L_FM', m.lossFM]);
      if (cm) checks.push(['dF/dt', m.rmsDFdt], ['residual g', m.rmsG], ['L_CM', m.lossCM]);
      checks.push(['grad norm', row[p.optOff + 2] !== 0 ? NaN : row[p.optOff]]);
      return {
        ...m,
        step: p.step,
        gradNorm: row[p.optOff],
        nonFinite: checks.find(([, x]) => !Number.isFinite(x))?.[0] ?? null,
        t: p.t,
        clampByT: cm ? Float32Array.from({ length: B }, (_, b) => cm.stats[8 * b + 4]) : null,
        rmsGByT: cm ? Float32Array.from({ length: B }, (_, b) => Math.sqrt(cm.stats[8 * b + 3])) : null,
      };
    });
  }

  /** Records a GPU copy of the current state as the snapshot (no read-back; a no-op without snapshot buffers). */
  takeSnapshot(): void {
    if (!this.snap) return;
    for (const k of STATE) this.gpu.copy(this[k], this.snap[k]);
    this.snapshotStep = this.step;
  }

  /** Puts the snapshot back (steps recorded since are dropped with their rows); returns its step. */
  restoreSnapshot(): number {
    const { snap } = this;
    if (!snap || this.snapshotStep === null) throw new Error('restoreSnapshot: this trainer keeps no snapshot (onNonFinite is not rollback)');
    this.pending = [];
    for (const k of STATE) this.gpu.copy(snap[k], this[k]);
    this.gpu.flush();
    return (this.step = this.snapshotStep);
  }

  /** Where the data and noise streams stand (for checkpoints). */
  resumeState(): ResumeState {
    return { batcher: this.batcher.getState(), rng: this.rng.getState() };
  }

  async readParams(which: 'params' | 'ema' = 'params'): Promise<Float32Array> {
    return (await this.gpu.read(which === 'ema' ? this.ema : this.params)).slice();
  }

  async readOptimizer(): Promise<{ m: Float32Array; v: Float32Array }> {
    return { m: (await this.gpu.read(this.m)).slice(), v: (await this.gpu.read(this.v)).slice() };
  }

  /**
   * Restores optimizer state and step count (checkpoint resume), and the data / noise streams when
   * `resume` is given. The loaded state becomes the snapshot.
   */
  loadState(s: { params: Float32Array; ema?: Float32Array; m?: Float32Array; v?: Float32Array; step: number; resume?: ResumeState | null }): void {
    if (!Number.isInteger(s.step) || s.step < 0) throw new Error(`loadState: step ${s.step} is not a non-negative integer`);
    const n = this.table.total;
    for (const [k, a] of [['params', s.params], ['ema', s.ema], ['m', s.m], ['v', s.v]] as const)
      if (a && a.length !== n) throw new Error(`loadState: ${k} has ${a.length} values, the model has ${n} parameters`);
    if (s.resume) this.batcher.restore(s.resume.batcher); // first: it can refuse (another dataset / batch)
    this.gpu.write(this.params, s.params);
    this.gpu.write(this.ema, s.ema ?? s.params);
    if (s.m) this.gpu.write(this.m, s.m);
    if (s.v) this.gpu.write(this.v, s.v);
    if (s.resume) this.rng.setState(s.resume.rng);
    this.step = s.step;
    this.takeSnapshot();
  }

  /** Frees this run's GPU buffers (the device stays). The trainer is unusable afterwards. */
  dispose(): void {
    this.gpu.flush();
    this.model.dispose();
    this.teacher?.model.dispose();
    for (const b of this.owned.splice(0)) this.gpu.destroyBuffer(b);
  }

  /** Parameter views for sampling with the online ('params' or 'online') or EMA weights. */
  weights(which: 'params' | 'online' | 'ema'): Params<Tensor> {
    return which === 'ema' ? this.E : this.P;
  }
}
