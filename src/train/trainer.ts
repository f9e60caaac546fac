// The trainer: one GPU-resident training run (parameters, gradients, AdamW state, EMA) stepping an
// objective over a dataset. A step is recorded into one command buffer with no read-back; per-step
// metrics land in a GPU history ring that `drain()` reads asynchronously, a few times a second at most.

import type { Gpu, Tensor } from '../gpu/runtime';
import { gpuBackend } from '../ops/backend';
import { adamw, emaUpdate, gradNorm, type AdamWConfig } from '../ops/optim';
import { DiT, type Params } from '../model/dit';
import { validateConfig, type DiTConfig } from '../model/config';
import { decayMask, initParams, paramTable, type ParamTable } from '../model/params';
import { needsR, planStep, type ObjectiveConfig } from '../objectives/objectives';
import { gpuLoss, runStep, summarise, type StepMetrics, type Teacher } from '../objectives/step';
import { Batcher, type Dataset } from '../data/dataset';
import { Rng } from '../util/rng';

export interface TrainConfig {
  model: DiTConfig;
  objective: ObjectiveConfig;
  batch: number;
  lr: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
  adamEps: number;
  /** Global grad-norm clip (≤ 0: off). */
  gradClip: number;
  emaDecay: number;
  seed: number;
  /** Horizontal-flip probability of the data augmentation. */
  flip: number;
}

export const DEFAULT_TRAIN: Omit<TrainConfig, 'model' | 'objective'> = {
  batch: 32,
  lr: 1e-3, // small models on toy data tolerate a high rate; the paper's 1e-4 is for DiT-XL
  beta1: 0.9,
  beta2: 0.99, // shorter memory than 0.999 suits short interactive runs
  weightDecay: 0,
  adamEps: 1e-8,
  gradClip: 1.0,
  emaDecay: 0.999,
  seed: 0,
  flip: 0.5,
};

export interface StepRecord extends StepMetrics {
  step: number;
  gradNorm: number;
  nonFinite: boolean;
  /** t of each sample (for t-binned views) and the per-sample clamp fraction / residual RMS. */
  t: Float32Array;
  clampByT: Float32Array | null;
  rmsGByT: Float32Array | null;
}

export interface Collapse {
  step: number;
  quantity: string;
}

const HISTORY = 64; // steps between forced drains
const ROW = 64; // floats per history row (256-byte aligned views)

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
  private readonly P: Params<Tensor>;
  private readonly G: Params<Tensor>;
  private readonly E: Params<Tensor>;
  private readonly batcher: Batcher;
  private readonly rng: Rng;
  private readonly teacher: (Teacher<Tensor> & { buffer: Tensor }) | null;
  private pending: { step: number; t: Float32Array; optOff: number; layout: { kind: 'fm' | 'residual'; scale: number; w: Float32Array | null; off: number }[] }[] = [];
  /** Optimizer steps taken. */
  step = 0;
  collapse: Collapse | null = null;
  readonly rowFloats: number;

  constructor(
    readonly gpu: Gpu,
    readonly cfg: TrainConfig,
    readonly data: Dataset,
    init?: { params?: Float32Array; teacher?: { cfg: DiTConfig; params: Float32Array } },
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
    const pad = (n: number) => Math.ceil(n / ROW) * ROW;
    this.rowFloats = pad(2 * B) + pad(8 * B) + ROW;

    this.table = paramTable(mc);
    const be = gpuBackend(gpu);
    this.model = new DiT(be, mc, this.table);
    const n = this.table.total;
    const buf = (label: string) => gpu.view(gpu.persistent(n, label), 0, [n]);
    this.params = buf('params');
    this.grads = buf('grads');
    this.ema = buf('ema');
    this.m = buf('adam.m');
    this.v = buf('adam.v');
    this.mask = buf('decay-mask');
    this.optStats = gpu.view(gpu.persistent(64, 'optim-stats'), 0, [4]);
    this.history = gpu.view(gpu.persistent(HISTORY * this.rowFloats, 'metrics-history'), 0, [HISTORY * this.rowFloats]);
    const flat = init?.params ?? initParams(this.table, cfg.seed);
    if (flat.length !== n) throw new Error(`initial parameters have ${flat.length} values, the model needs ${n}`);
    gpu.write(this.params, flat);
    gpu.write(this.ema, flat);
    gpu.clear(this.m);
    gpu.clear(this.v);
    gpu.write(this.mask, decayMask(this.table));
    const views = (t: Tensor) => {
      const map = new Map(this.table.specs.map((s) => [s.name, gpu.view(t.buffer, t.offset / 4 + s.offset, s.shape)]));
      return (name: string) => map.get(name) ?? (() => { throw new Error(`no parameter ${name}`); })();
    };
    this.P = views(this.params);
    this.G = views(this.grads);
    this.E = views(this.ema);
    this.teacher = null;
    if (init?.teacher) {
      const ttable = paramTable(init.teacher.cfg);
      if (init.teacher.params.length !== ttable.total) throw new Error('teacher parameters do not match the teacher config');
      const tbuf = gpu.view(gpu.persistent(ttable.total, 'teacher'), 0, [ttable.total]);
      gpu.write(tbuf, init.teacher.params);
      const tmap = new Map(ttable.specs.map((s) => [s.name, gpu.view(tbuf.buffer, s.offset, s.shape)]));
      this.teacher = { model: new DiT(be, init.teacher.cfg, ttable), P: (nm) => tmap.get(nm)!, buffer: tbuf };
    }
    this.batcher = new Batcher(data, B, cfg.seed ^ 0x5eed, cfg.flip);
    this.rng = new Rng(cfg.seed ^ 0x7a11);
  }

  get adam(): AdamWConfig {
    const c = this.cfg;
    return { lr: c.lr, beta1: c.beta1, beta2: c.beta2, eps: c.adamEps, weightDecay: c.weightDecay };
  }

  /** Records and submits one optimizer step. Awaits only when the metrics ring is full. */
  async stepOnce(): Promise<StepRecord[]> {
    const { gpu, cfg } = this;
    const B = cfg.batch;
    const batch = this.batcher.next();
    const plan = planStep({ cfg: cfg.objective, step: this.step, useR: cfg.model.useR }, batch.x, cfg.model.numClasses > 0 ? batch.y : null, B, this.rng);
    gpu.clear(this.grads);
    const results = runStep(this.model.be, gpuLoss(gpu), this.model, this.P, this.G, plan, this.teacher ?? undefined);
    gradNorm(gpu, this.grads, this.optStats, cfg.gradClip);
    this.step++;
    adamw(gpu, this.params, this.grads, this.m, this.v, this.optStats, this.adam, this.step, this.mask);
    emaUpdate(gpu, this.ema, this.params, cfg.emaDecay);
    // metrics row: branch stats then optimizer stats
    const row = this.pending.length;
    const base = row * this.rowFloats;
    let off = 0;
    const layout: { kind: 'fm' | 'residual'; scale: number; w: Float32Array | null; off: number }[] = [];
    for (const r of results) {
      gpu.copy(r.stats, gpu.view(this.history.buffer, base + off, [r.stats.size]));
      layout.push({ kind: r.kind, scale: r.scale, w: r.w, off });
      off += Math.ceil(r.stats.size / ROW) * ROW;
      gpu.release(r.stats);
    }
    gpu.copy(this.optStats, gpu.view(this.history.buffer, base + off, [4]));
    this.pending.push({ step: this.step, t: plan.t, optOff: off, layout });
    gpu.flush();
    if (this.pending.length === HISTORY) return this.drain();
    return [];
  }

  /** Reads back the metrics of all steps since the last drain (one map of one buffer). */
  async drain(): Promise<StepRecord[]> {
    if (this.pending.length === 0) return [];
    const all = await this.gpu.read(this.gpu.view(this.history.buffer, 0, [this.pending.length * this.rowFloats]));
    const B = this.cfg.batch;
    const out: StepRecord[] = [];
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i];
      const row = all.subarray(i * this.rowFloats, (i + 1) * this.rowFloats);
      const optOff = p.optOff;
      const res = p.layout.map((l) => ({ kind: l.kind, stats: row.subarray(l.off, l.off + (l.kind === 'fm' ? 2 : 8) * B), scale: l.scale, w: l.w }));
      const m = summarise(res, B);
      const cm = res.find((r) => r.kind === 'residual');
      const rec: StepRecord = {
        ...m,
        step: p.step,
        gradNorm: row[optOff],
        nonFinite: row[optOff + 2] !== 0,
        t: p.t,
        clampByT: cm ? Float32Array.from({ length: B }, (_, b) => cm.stats[8 * b + 4]) : null,
        rmsGByT: cm ? Float32Array.from({ length: B }, (_, b) => Math.sqrt(cm.stats[8 * b + 3])) : null,
      };
      out.push(rec);
      if (!this.collapse) {
        // The first non-finite quantity, in the order they are computed: branch losses, then the gradient.
        const checks: [string, number][] = [];
        if (res.some((r) => r.kind === 'fm')) checks.push(['L_FM', m.lossFM]);
        if (cm) checks.push(['L_CM', m.lossCM]);
        checks.push(['grad norm', rec.nonFinite ? NaN : rec.gradNorm]);
        const bad = checks.find(([, x]) => !Number.isFinite(x));
        if (bad) this.collapse = { step: p.step, quantity: bad[0] };
      }
    }
    this.pending = [];
    return out;
  }

  async readParams(which: 'params' | 'ema' = 'params'): Promise<Float32Array> {
    return (await this.gpu.read(which === 'ema' ? this.ema : this.params)).slice();
  }

  async readOptimizer(): Promise<{ m: Float32Array; v: Float32Array }> {
    return { m: (await this.gpu.read(this.m)).slice(), v: (await this.gpu.read(this.v)).slice() };
  }

  /** Restores optimizer state and step count (checkpoint resume). */
  loadState(s: { params: Float32Array; ema?: Float32Array; m?: Float32Array; v?: Float32Array; step: number }): void {
    this.gpu.write(this.params, s.params);
    this.gpu.write(this.ema, s.ema ?? s.params);
    if (s.m) this.gpu.write(this.m, s.m);
    if (s.v) this.gpu.write(this.v, s.v);
    this.step = s.step;
  }

  /** Parameter views for sampling with the online or EMA weights. */
  weights(which: 'params' | 'ema'): Params<Tensor> {
    return which === 'ema' ? this.E : this.P;
  }
}
