// What a 2-D model does at points in the plane, for the playground's 2-D panels: trajectories from
// fixed noise (the FM branch's Euler path, the consistency jump, the NFE-2 path), the fields at a
// time t on a grid (FM velocity v, CM average velocity F, and the consistency residual g computed
// with the model's JVP), and x_t. On any Backend: the GPU in the worker, the f64 reference in tests.
//
// Points are (n, 2) row-major, the (n, C = 2, 1, 1) layout of the point datasets.

import type { Backend } from '../ops/backend';
import type { DiT, Params } from '../model/dit';
import { Rng } from '../util/rng';

function checkPointModel<T>(model: DiT<T>): void {
  const { C, H, W } = model.cfg;
  if (C !== 2 || H !== 1 || W !== 1) throw new Error(`2-D probes need a point model (C 2, H 1, W 1), got ${C}×${H}×${W}`);
}

/** F(x, c[, r]) for n points at one condition (r is passed only when the model has a second condition). */
async function evalAt<T>(be: Backend<T>, model: DiT<T>, P: Params<T>, x: Float32Array, { c, r }: Cond): Promise<Float64Array> {
  const n = x.length / 2;
  const xt = be.fromArray(x, [n, 2, 1, 1]);
  const ct = be.fromArray(new Float32Array(n).fill(c), [n]);
  const rt = model.cfg.useR ? be.fromArray(new Float32Array(n).fill(r), [n]) : null;
  const F = model.forward(P, { x: xt, c: ct, r: rt }, n);
  const out = await be.toArray(F);
  be.release(xt, ct, rt, F);
  return out;
}

interface Cond {
  c: number;
  r: number;
}

/** Which conditions a model's branches take (facm-math.md): extended interval, auxiliary flag, or MeanFlow's (t, r). */
export type ProbeKind = 'extended' | 'aux' | 'meanflow';

/** The FM branch (instantaneous velocity) at time t. */
function fmCond(kind: ProbeKind, t: number): Cond {
  return kind === 'meanflow' ? { c: t, r: t } : kind === 'aux' ? { c: t, r: 1 } : { c: 2 - t, r: 0 };
}

/** The consistency branch: average velocity from t to `to` (1 except MeanFlow's intermediate jumps). */
function cmCond(kind: ProbeKind, t: number, to = 1): Cond {
  return kind === 'meanflow' ? { c: t, r: to } : { c: t, r: 0 };
}

export interface Trajectories {
  /** (n, 2): the fixed noise points. */
  z: Float32Array;
  /** (steps + 1, n, 2): the FM branch's Euler path from t = 0 to 1, every step. */
  euler: Float32Array;
  eulerSteps: number;
  /** (n, 2): the one-step jump z + F(z, 0). */
  jump: Float32Array;
  /** (n, 2) each: NFE 2: the first jump's end, the point at t = 1/2 the second jump starts from, its end. */
  nfe2: { end1: Float32Array; mid: Float32Array; end2: Float32Array };
}

/**
 * Paths from `z` ((n, 2)): Euler of the FM branch, the consistency jump, and NFE 2 (consistency
 * models re-noise the first jump's end to t = 1/2 with noise from `renoiseSeed`; MeanFlow jumps
 * 0 → 1/2 → 1).
 */
export async function trajectories<T>(
  be: Backend<T>,
  model: DiT<T>,
  P: Params<T>,
  z: Float32Array,
  opts: { kind?: ProbeKind; eulerSteps?: number; renoiseSeed?: number } = {},
): Promise<Trajectories> {
  checkPointModel(model);
  const kind = opts.kind ?? 'extended';
  const n = z.length / 2;
  const steps = opts.eulerSteps ?? 16;
  const euler = new Float32Array((steps + 1) * 2 * n);
  euler.set(z);
  const x = z.slice();
  for (let i = 0; i < steps; i++) {
    const F = await evalAt(be, model, P, x, fmCond(kind, i / steps));
    for (let j = 0; j < 2 * n; j++) x[j] += F[j] / steps;
    euler.set(x, (i + 1) * 2 * n);
  }
  const jumpFrom = async (p: Float32Array, t: number, to: number) => {
    const F = await evalAt(be, model, P, p, cmCond(kind, t, to));
    return Float32Array.from(p, (v, j) => v + (to - t) * F[j]);
  };
  const jump = await jumpFrom(z, 0, 1);
  const meanflow = kind === 'meanflow';
  const end1 = meanflow ? await jumpFrom(z, 0, 0.5) : jump;
  const rng = new Rng(opts.renoiseSeed ?? 0);
  const mid = meanflow ? end1 : Float32Array.from(end1, (v) => 0.5 * v + 0.5 * rng.normal());
  const end2 = await jumpFrom(mid, 0.5, 1);
  return { z: z.slice(), euler, eulerSteps: steps, jump, nfe2: { end1, mid, end2 } };
}

export interface Fields {
  t: number;
  /** Grid: `size` × `size` points over [−extent, extent]², row-major from (−e, −e), x fastest. */
  size: number;
  extent: number;
  /** (size², 2) each. */
  points: Float32Array;
  /** FM velocity v(x, t) = F(x, c = 2 − t). */
  v: Float32Array;
  /** CM average velocity F(x, c = t). */
  F: Float32Array;
  /** dF/dt along (v, 1): the JVP's tangent. */
  dFdt: Float32Array;
  /** Residual g = F − (v + (1 − t)·dF/dt), (size², 2). */
  g: Float32Array;
  /** (size²): max over the two components of |g|; > 1 is where FACM's clamp acts. */
  gMax: Float32Array;
}

/** Grid points over [−extent, extent]² (size × size, x fastest). */
export function grid2d(size: number, extent: number): Float32Array {
  if (!Number.isInteger(size) || size < 2) throw new Error(`grid2d: size must be an integer ≥ 2, got ${size}`);
  if (!(extent > 0)) throw new Error(`grid2d: extent must be positive, got ${extent}`);
  const out = new Float32Array(2 * size * size);
  for (let i = 0; i < size; i++)
    for (let j = 0; j < size; j++) {
      const k = i * size + j;
      out[2 * k] = -extent + (2 * extent * j) / (size - 1);
      out[2 * k + 1] = -extent + (2 * extent * i) / (size - 1);
    }
  return out;
}

/**
 * The fields at time t on a grid: the FM branch's velocity v (c = 2 − t), then F (c = t) and
 * dF/dt = ∂F/∂x·v + ∂F/∂c in one JVP along (v, 1[, 0]), and the residual g = F − (v + (1 − t)·dF/dt)
 * that the FACM loss clamps to ±1. Here v is the model's own velocity (at inference there is no data
 * point to form x − ε from): g measures how far F is from consistency with the model's own flow.
 */
export async function fields<T>(be: Backend<T>, model: DiT<T>, P: Params<T>, t: number, opts: { kind?: ProbeKind; size?: number; extent?: number } = {}): Promise<Fields> {
  checkPointModel(model);
  const kind = opts.kind ?? 'extended';
  if (!(t >= 0 && t <= 1)) throw new Error(`fields: t must be in [0, 1], got ${t}`);
  const size = opts.size ?? 17;
  const extent = opts.extent ?? 2.5;
  const pts = grid2d(size, extent);
  const n = size * size;
  const vArr = await evalAt(be, model, P, pts, fmCond(kind, t));
  const cm = cmCond(kind, t);
  const x = be.fromArray(pts, [n, 2, 1, 1]);
  const c = be.fromArray(new Float32Array(n).fill(cm.c), [n]);
  const tX = be.fromArray(vArr, [n, 2, 1, 1]);
  const tC = be.fromArray(new Float32Array(n).fill(1), [n]);
  const r = model.cfg.useR ? be.fromArray(new Float32Array(n).fill(cm.r), [n]) : null;
  const tR = model.cfg.useR ? be.fromArray(new Float32Array(n), [n]) : null;
  const out = model.run(P, { x, c, r }, n, { tX, tC, tR }, false);
  const F = await be.toArray(out.F);
  const dF = await be.toArray(out.tF!);
  be.release(x, c, tX, tC, r, tR, out.F, out.tF);
  const g = new Float32Array(2 * n);
  const gMax = new Float32Array(n);
  for (let k = 0; k < 2 * n; k++) g[k] = F[k] - (vArr[k] + (1 - t) * dF[k]);
  for (let k = 0; k < n; k++) gMax[k] = Math.max(Math.abs(g[2 * k]), Math.abs(g[2 * k + 1]));
  return { t, size, extent, points: pts, v: Float32Array.from(vArr), F: Float32Array.from(F), dFdt: Float32Array.from(dF), g, gMax };
}

/** x_t = t·x + (1 − t)·ε for data points x ((n, 2)) and fixed noise ε of the same shape: what the model is fed at t. */
export function interpolate(x: Float32Array, eps: Float32Array, t: number): Float32Array {
  if (x.length !== eps.length) throw new Error(`interpolate: ${x.length} data values vs ${eps.length} noise values`);
  return Float32Array.from(x, (xi, i) => t * xi + (1 - t) * eps[i]);
}
