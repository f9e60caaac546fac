// FACM and its baselines as pure descriptions of one training step (docs/math.md).
//
// `planStep` turns a data batch and a seeded RNG into everything sampled on the CPU: t (and r),
// x_t, v, the model condition of each branch and the per-sample scalars of the residual loss.
// `runStep` (step.ts) then executes the plan on any Backend, so the f64 CPU reference and the
// GPU run the same objective.

import type { Rng } from '../util/rng';
import type { LabelConfig, ObjectiveConfig } from '../config/keys';
import type { ResidualMode, ResidualScalars } from '../ops/loss';

/** Default t sampler of the reference: s = (2/π)·atan(exp(n·std − mean)), t = 1 − s. */
export function sampleT(rng: Rng, mean: number, std: number): number {
  const s = (2 / Math.PI) * Math.atan(Math.exp(rng.normal() * std - mean));
  return 1 - s;
}

/** One branch of a step: the model is evaluated at (x_t, c[, r]) and its output enters a loss. */
export interface FmBranch {
  kind: 'fm';
  c: Float32Array; // (B)
  r: Float32Array | null; // (B) when the model has a second condition
  /** Per-sample weight of (mse + cos); the step's gradient is scaled by `scale`. */
  w: Float32Array;
  scale: number;
}

export interface ResidualBranch {
  kind: 'residual';
  c: Float32Array;
  r: Float32Array | null;
  /** JVP tangent of the conditions: tC (B), tR (B) or null; the x tangent is v. */
  tC: Float32Array;
  tR: Float32Array | null;
  S: ResidualScalars[];
  mode: ResidualMode;
  scale: number;
}

export type Branch = FmBranch | ResidualBranch;

export interface StepPlan {
  B: number;
  t: Float32Array;
  r: Float32Array | null;
  xt: Float32Array; // (B, C, H, W)
  /** v = x − ε (from scratch); replaced by the teacher's velocity when distilling. */
  v: Float32Array;
  eps: Float32Array;
  /** The labels the trained model sees: the batch's, some replaced by the null class (label dropout). */
  y: Float32Array | null;
  branches: Branch[];
  /** Distillation: the teacher is evaluated at (x_t, c = t, the batch's own labels) to give v. */
  teacherC: Float32Array;
  teacherY: Float32Array | null;
  /**
   * Distillation from a class-conditional teacher with guidance: v = v_u + w·(v_c − v_u), v_u the
   * teacher at labels yU, the null class where t ≥ tMin and the row's own label below (so v = v_c
   * there, the reference's window). Null: v = v_c.
   */
  guidance: { w: number; yU: Float32Array } | null;
}

export interface PlanContext {
  cfg: ObjectiveConfig;
  step: number; // 0-based optimizer step (sCM warm-up)
  useR: boolean; // the model has a second time condition (MeanFlow, or the 'aux' interval)
  /** Class-conditional runs: the null class (= the model's numClasses), label dropout and the teacher's guidance. */
  labels?: LabelConfig & { numClasses: number };
}

/** The teacher's unconditional labels: the null class where guidance applies (t ≥ tMin), the row's own label below. */
export function guidanceLabels(t: Float32Array, y: Float32Array, nullClass: number, tMin: number): Float32Array {
  return y.map((yb, b) => (t[b] >= tMin ? nullClass : yb));
}

/** Samples one step: t, r, noise, x_t and v; the branches and their per-sample scalars. */
export function planStep(ctx: PlanContext, x: Float32Array, y: Float32Array | null, B: number, rng: Rng): StepPlan {
  const { cfg } = ctx;
  const N = x.length / B;
  const t = new Float32Array(B);
  let r: Float32Array | null = null;
  if (cfg.name === 'fm') for (let b = 0; b < B; b++) t[b] = rng.next();
  else if (cfg.name === 'meanflow') {
    r = new Float32Array(B);
    for (let b = 0; b < B; b++) {
      const a = sampleT(rng, cfg.tMean, cfg.tStd);
      const c = sampleT(rng, cfg.tMean, cfg.tStd);
      t[b] = Math.min(a, c);
      r[b] = rng.next() < cfg.flowRatio ? t[b] : Math.max(a, c);
    }
  } else for (let b = 0; b < B; b++) t[b] = sampleT(rng, cfg.tMean, cfg.tStd);

  const eps = rng.normals(x.length);
  const xt = new Float32Array(x.length);
  const v = new Float32Array(x.length);
  for (let b = 0; b < B; b++)
    for (let i = b * N; i < (b + 1) * N; i++) {
      xt[i] = t[b] * x[i] + (1 - t[b]) * eps[i];
      v[i] = x[i] - eps[i];
    }

  const ones = new Float32Array(B).fill(1);
  const zeros = () => new Float32Array(B);
  const rOrNull = (vals: () => Float32Array) => (ctx.useR ? vals() : null);
  const branches: Branch[] = [];
  const beta = (tb: number) => Math.cos((Math.PI * tb) / 2);
  // The CM branch of FACM / CM / sCM: F at (x_t, c = t[, r = 0]), JVP along (v, 1[, 0]).
  const consistencyAtT = (scalars: (tb: number) => ResidualScalars, mode: ResidualMode): ResidualBranch => ({
    kind: 'residual',
    c: t.slice(),
    r: rOrNull(zeros),
    tC: ones.slice(),
    tR: rOrNull(zeros),
    S: Array.from(t, scalars),
    mode,
    scale: 1 / B,
  });

  if (cfg.name === 'fm') {
    // Stage-1 teacher: half the batch at c = t (CM side), half at c = 2 − t (FM side), both vs v.
    const c = t.map((tb, b) => (b < B / 2 ? tb : 2 - tb));
    branches.push({ kind: 'fm', c, r: rOrNull(() => Float32Array.from(c, (_, b) => (b < B / 2 ? 0 : 1))), w: ones, scale: 1 / B });
  } else if (cfg.name === 'facm' || cfg.name === 'cm-no-anchor') {
    const aux = cfg.interval === 'aux';
    if (cfg.lambdaFM > 0)
      branches.push({ kind: 'fm', c: aux ? t.slice() : t.map((tb) => 2 - tb), r: rOrNull(() => (aux ? ones.slice() : zeros())), w: ones, scale: cfg.lambdaFM / B });
    branches.push(consistencyAtT((tb) => ({ k: 1 - tb, a: cfg.alpha ? 1 - Math.sqrt(tb) : 1, lambda: beta(tb), c: 0 }), { clamp: cfg.clamp, normalise: false, p: 0.5 }));
  } else if (cfg.name === 'scm') {
    const rw = cfg.scmWarmup > 0 ? Math.min(1, ctx.step / cfg.scmWarmup) : 1;
    branches.push(consistencyAtT((tb) => ({ k: (1 - tb) * rw, a: 1, lambda: 1, c: beta(tb) }), cfg.scmNormalise ? { clamp: false, normalise: true, p: 0 } : { clamp: true, normalise: false, p: 0 }));
  } else {
    // MeanFlow: F(x_t, t, r) ≈ average velocity from t to r; JVP along (v, 1, 0).
    if (!ctx.useR) throw new Error('MeanFlow needs a model with a second time condition (useR)');
    branches.push({
      kind: 'residual',
      c: t.slice(),
      r: r!.slice(),
      tC: ones.slice(),
      tR: zeros(),
      S: Array.from(t, (tb, b) => ({ k: r![b] - tb, a: 1, lambda: 1, c: 0 })),
      mode: { clamp: false, normalise: false, p: cfg.meanflowP },
      scale: 1 / B,
    });
  }
  // Label dropout, drawn last so the draws above stay those of an unconditional run: each label is
  // replaced by the null class with probability p (DiT's token_drop); the teacher keeps the batch's.
  const L = ctx.labels;
  let yIn = y;
  if (y && L && L.labelDropout > 0) yIn = y.map((yb) => (rng.next() < L.labelDropout ? L.numClasses : yb));
  const guidance = y && L && L.cfgWeight > 1 ? { w: L.cfgWeight, yU: guidanceLabels(t, y, L.numClasses, L.cfgTMin) } : null;
  return { B, t, r, xt, v, eps, y: yIn, branches, teacherC: t.slice(), teacherY: y, guidance };
}
