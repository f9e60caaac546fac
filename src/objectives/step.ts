// Executes a StepPlan on any Backend: the model's forward / JVP with a tape, the branch losses and
// the backward into the gradient buffers. The CPU backend makes this the whole-step f64 reference.

import type { Backend } from '../ops/backend';
import type { LossDims, LossOps } from '../ops/loss';
import type { DiT, Params } from '../model/dit';
import type { ResidualBranch, StepPlan } from './objectives';

export interface BranchResult<T> {
  kind: 'fm' | 'residual';
  stats: T; // (B, 2) or (B, 8)
  scale: number;
  w: Float32Array | null;
  /** With `keepOutputs`: the branch's F (and, for a residual branch, its tangent dF/dt), the caller's to read and release. */
  F?: T;
  tF?: T;
}

export interface Teacher<T> {
  model: DiT<T>;
  P: Params<T>;
}

/**
 * Runs one step's forward, losses and backward. Gradients accumulate into G (zero it first).
 * Returns each branch's per-sample stats (owned by the caller: read, then release), and with
 * `keepOutputs` the model outputs the losses saw (the CLI's `dump` writes these).
 */
export function runStep<T>(be: Backend<T>, loss: LossOps<T>, model: DiT<T>, P: Params<T>, G: Params<T>, plan: StepPlan, teacher?: Teacher<T>, keepOutputs = false): BranchResult<T>[] {
  const { C, H, W } = model.cfg;
  const { B } = plan;
  const shape = [B, C, H, W];
  const d: LossDims = { B, C, HW: H * W };
  const xt = be.fromArray(plan.xt, shape);
  const y = plan.y ? be.fromArray(plan.y, [B]) : null;
  const v = teacher ? teacherVelocity(be, teacher, plan, xt) : be.fromArray(plan.v, shape);

  // Every branch's arrays go up before the first kernel: on the GPU one run of copies, and then the
  // kernels in one compute pass (an upload between kernels would end it).
  const up = (a: Float32Array | null) => (a ? be.fromArray(a, [B]) : null);
  const ins = plan.branches.map((br) =>
    br.kind === 'fm'
      ? { c: up(br.c)!, r: up(br.r), w: up(br.w)!, tC: null, tR: null, S: null }
      : { c: up(br.c)!, r: up(br.r), w: null, tC: up(br.tC)!, tR: up(br.tR), S: be.fromArray(residualScalars(br), [B, 4]) },
  );
  const out: BranchResult<T>[] = [];
  plan.branches.forEach((br, i) => {
    const { c, r, w, tC, tR, S } = ins[i];
    const inp = { x: xt, c, y, r };
    if (br.kind === 'fm') {
      const run = model.run(P, inp, B, null, true);
      const { stats, dF } = loss.fm(run.F, v, w!, br.scale, d);
      model.backward(P, G, run.tape!, dF);
      model.releaseTape(run.tape!);
      be.release(w, dF);
      if (!keepOutputs) be.release(run.F);
      out.push({ kind: 'fm', stats, scale: br.scale, w: br.w, ...(keepOutputs && { F: run.F }) });
    } else {
      // F and dF/dt = ∂F/∂x·v + ∂F/∂c (+ ∂F/∂r·0) in one forward-mode pass; the tape serves the backward.
      const run = model.run(P, inp, B, { tX: v, tC: tC!, tR }, true);
      const { stats, dF } = loss.residual(run.F, v, run.tF!, S!, br.mode, br.scale, d);
      model.backward(P, G, run.tape!, dF);
      model.releaseTape(run.tape!);
      be.release(S, dF, tC, tR);
      if (!keepOutputs) be.release(run.F, run.tF);
      out.push({ kind: 'residual', stats, scale: br.scale, w: null, ...(keepOutputs && { F: run.F, tF: run.tF! }) });
    }
    be.release(c, r);
  });
  be.release(xt, y, v);
  return out;
}

const packedScalars = new WeakMap<ResidualBranch, Float64Array>();

/** A residual branch's per-sample scalars as the (B, 4) rows runStep uploads: k, a, λ, c (one array per branch; f64, for the CPU reference). */
export function residualScalars(br: ResidualBranch): Float64Array {
  let S = packedScalars.get(br);
  if (!S) packedScalars.set(br, (S = Float64Array.from(br.S.flatMap((s) => [s.k, s.a, s.lambda, s.c]))));
  return S;
}

/**
 * What a recorded step depends on besides its arrays (see Gpu.capture): everything of the plan
 * that sets a uniform, a shape or a branch of runStep without a teacher. Steps with equal keys
 * record the same kernels with the same uniforms; only `stepInputs` differ.
 */
export function stepKey(plan: StepPlan): string {
  const brs = plan.branches.map((b) => (b.kind === 'fm' ? `fm ${b.scale} ${!!b.r}` : `res ${JSON.stringify(b.mode)} ${b.scale} ${!!b.r} ${!!b.tR}`));
  return `${plan.B} ${!!plan.y} ${brs.join(', ')}`;
}

/** The arrays runStep (without a teacher) uploads, each the object it passes to fromArray. */
export function stepInputs(plan: StepPlan): (Float32Array | Float64Array)[] {
  const out: (Float32Array | Float64Array)[] = [plan.xt, plan.v];
  if (plan.y) out.push(plan.y);
  for (const br of plan.branches) {
    out.push(br.c);
    if (br.r) out.push(br.r);
    if (br.kind === 'fm') out.push(br.w);
    else {
      out.push(br.tC, residualScalars(br));
      if (br.tR) out.push(br.tR);
    }
  }
  return out;
}

/**
 * Distillation's v (no gradient): the frozen teacher at (x_t, c = t, the batch's labels), or with
 * guidance v_u + w·(v_c − v_u), both passes as one forward of 2B rows (docs/math.md, "Teacher and
 * student"). `xt` is the plan's x_t on the backend (B, C, H, W); the caller releases the result.
 */
export function teacherVelocity<T>(be: Backend<T>, teacher: Teacher<T>, plan: StepPlan, xt: T): T {
  const { C, H, W, useR } = teacher.model.cfg;
  const { B } = plan;
  const labels = teacher.model.cfg.numClasses > 0 ? plan.teacherY : null;
  const g = labels ? plan.guidance : null;
  const rows = g ? 2 * B : B;
  const two = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    const out = new Float32Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const x = g ? be.fromArray(two(plan.xt, plan.xt), [rows, C, H, W]) : xt;
  const c = be.fromArray(g ? two(plan.teacherC, plan.teacherC) : plan.teacherC, [rows]);
  const y = labels ? be.fromArray(g ? two(labels, g.yU) : labels, [rows]) : null;
  const r = useR ? be.zeros([rows]) : null;
  const F = teacher.model.forward(teacher.P, { x, c, y, r }, rows);
  be.release(c, y, r);
  if (!g) return F;
  const v = be.ops.guide.forward(F, g.w, B * C * H * W);
  be.release(x, F);
  return v;
}

/** Per-step scalars from the branch stats read back to the CPU. */
export interface StepMetrics {
  loss: number;
  lossFM: number;
  lossCM: number;
  clampFrac: number;
  rmsG: number;
  rmsDFdt: number;
  rmsV: number;
  rmsKdFdt: number;
}

export function summarise(results: { kind: 'fm' | 'residual'; stats: ArrayLike<number>; scale: number; w: Float32Array | null }[], B: number): StepMetrics {
  const m: StepMetrics = { loss: 0, lossFM: 0, lossCM: 0, clampFrac: NaN, rmsG: NaN, rmsDFdt: NaN, rmsV: NaN, rmsKdFdt: NaN };
  for (const r of results) {
    if (r.kind === 'fm') {
      let s = 0;
      for (let b = 0; b < B; b++) s += r.w![b] * (r.stats[2 * b] + r.stats[2 * b + 1]);
      m.lossFM = s / B;
      m.loss += r.scale * s;
    } else {
      const mean = (j: number) => {
        let s = 0;
        for (let b = 0; b < B; b++) s += r.stats[8 * b + j];
        return s / B;
      };
      m.lossCM = mean(1);
      m.loss += r.scale * B * m.lossCM;
      m.clampFrac = mean(4);
      m.rmsG = Math.sqrt(mean(3));
      m.rmsDFdt = Math.sqrt(mean(5));
      m.rmsV = Math.sqrt(mean(6));
      m.rmsKdFdt = Math.sqrt(mean(7));
    }
  }
  return m;
}
