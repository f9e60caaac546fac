// The op-spec harness. Each op family gives one OpSpec (how to call forward / jvp / backward on any
// Backend) and a list of cases (shapes, odd sizes, extreme inputs). For every case it checks:
//   1. forward:   GPU (f32) vs the f64 reference;
//   2. jvp:       reference tangent vs central finite differences of the reference forward;
//                 GPU primal equals GPU forward; GPU tangent vs reference tangent;
//   3. backward:  reference input cotangents vs reference JVP by ⟨J·u, w⟩ = ⟨u, Jᵀ·w⟩;
//                 reference parameter gradients vs finite differences along a random direction;
//                 GPU cotangents and gradients vs the reference (gradients are checked to accumulate);
//                 the same identity between the GPU's own backward and JVP;
//   4. extreme inputs: all of the above stay finite.

import { test } from 'node:test';
import { cpuBackend, gpuBackend, type Backend } from '../../src/ops/backend';
import type { Tensor } from '../../src/gpu/runtime';
import { Rng } from '../../src/util/rng';
import { dot, expectClose, expectFinite, expectScalarClose, type Tol } from './close';
import { gpuForFile } from './gpu';
import type { Gpu } from '../../src/gpu/runtime';

export type Shapes = Record<string, readonly number[]>;
export type Vals<T> = Record<string, T>;

export interface OpCase {
  label: string;
  /** Differentiable inputs: they get tangents (JVP) and cotangents (backward). */
  inputs: Shapes;
  /** Parameters: gradients only (accumulated by backward), no tangent. */
  params?: Shapes;
  /** Fixed non-differentiable data (e.g. class labels), made by `make`. */
  consts?: Record<string, (rng: Rng) => number[]>;
  /** Input magnitude: values are N(0, 1)·scale (extreme cases use 300). */
  scale?: number;
  /** Per-name value generators, overriding N(0, 1)·scale. */
  gen?: Record<string, (rng: Rng, i: number) => number>;
  fwdTol?: Tol;
  jvpTol?: Tol;
  bwdTol?: Tol;
  /** Finite-difference step (relative to scale); default 1e-5. */
  fdStep?: number;
  /** Relative tolerance of the f64 reference vs finite differences; default 1e-6. */
  fdTol?: number;
  /** Skip the finite-difference checks (e.g. where a kink such as a clamp makes them meaningless). */
  skipFd?: boolean;
}

export interface OpSpec<C extends OpCase = OpCase> {
  name: string;
  cases: C[];
  forward<T>(be: Backend<T>, c: C, v: Vals<T>): T[];
  jvp<T>(be: Backend<T>, c: C, v: Vals<T>, t: Vals<T>): [T[], T[]];
  /** Returns the cotangent of every input; accumulates parameter gradients into `grads`. */
  backward<T>(be: Backend<T>, c: C, v: Vals<T>, dOut: T[], grads: Vals<T>): Vals<T>;
  /** The GPU backend to check (default gpuBackend): e.g. one with a kernel variant forced. */
  gpuBackend?: (gpu: Gpu) => Backend<Tensor>;
}

/** gpuBackend with some op families replaced (a forced kernel variant). */
export function withGpuOps(gpu: Gpu, ops: (gpu: Gpu) => Partial<Backend<Tensor>['ops']>): Backend<Tensor> {
  const be = gpuBackend(gpu);
  return { ...be, ops: { ...be.ops, ...ops(gpu) } };
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function makeValues(c: OpCase, rng: Rng): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  const scale = c.scale ?? 1;
  for (const [name, shape] of [...Object.entries(c.inputs), ...Object.entries(c.params ?? {})]) {
    const a = new Float64Array(size(shape));
    const g = c.gen?.[name];
    for (let i = 0; i < a.length; i++) a[i] = g ? g(rng, i) : rng.normal() * scale;
    // Round to f32 so both backends see the same numbers.
    out[name] = Float64Array.from(Float32Array.from(a));
  }
  for (const [name, make] of Object.entries(c.consts ?? {})) out[name] = Float64Array.from(make(rng));
  return out;
}

function randomLike(shapes: Shapes, rng: Rng): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const [name, shape] of Object.entries(shapes)) out[name] = Float64Array.from(Float32Array.from({ length: size(shape) }, () => rng.normal()));
  return out;
}

function axpy(base: Record<string, Float64Array>, dir: Record<string, Float64Array>, h: number): Record<string, Float64Array> {
  const out = { ...base };
  for (const [k, d] of Object.entries(dir)) out[k] = base[k].map((x, i) => x + h * d[i]);
  return out;
}

async function toGpu(be: Backend<Tensor>, vals: Record<string, Float64Array>, shapes: Shapes): Promise<Vals<Tensor>> {
  const out: Vals<Tensor> = {};
  for (const [k, v] of Object.entries(vals)) out[k] = be.fromArray(v, shapes[k] ?? [v.length]);
  return out;
}

export async function checkCase<C extends OpCase>(gpu: Gpu, spec: OpSpec<C>, c: C): Promise<void> {
  const cpu = cpuBackend();
  const g = spec.gpuBackend?.(gpu) ?? gpuBackend(gpu);
  const rng = new Rng(0xc0ffee ^ c.label.length);
  const shapes: Shapes = { ...c.inputs, ...(c.params ?? {}) };
  const vals = makeValues(c, rng);
  const scale = c.scale ?? 1;
  const tag = `${spec.name} [${c.label}]`;

  // 1. forward
  const refOut = spec.forward(cpu, c, vals);
  const gv = await toGpu(g, vals, shapes);
  const gOutT = spec.forward(g, c, gv);
  const gOut = await Promise.all(gOutT.map((t) => g.toArray(t)));
  refOut.forEach((r, i) => {
    expectFinite(`${tag} forward out${i} (ref)`, r);
    expectClose(`${tag} forward out${i}`, gOut[i], r, c.fwdTol);
  });

  // 2. jvp
  const u = randomLike(c.inputs, rng);
  const [refP, refT] = spec.jvp(cpu, c, vals, u);
  refP.forEach((p, i) => expectClose(`${tag} jvp primal out${i} (ref)`, p, refOut[i], { rtol: 1e-12, atol: 1e-12 }));
  if (!c.skipFd) {
    const h = (c.fdStep ?? 1e-5) * scale;
    const plus = spec.forward(cpu, c, axpy(vals, u, h));
    const minus = spec.forward(cpu, c, axpy(vals, u, -h));
    refT.forEach((t, i) => {
      const fd = plus[i].map((p, j) => (p - minus[i][j]) / (2 * h));
      expectClose(`${tag} jvp tangent out${i} (ref vs central differences)`, t, fd, { rtol: c.fdTol ?? 1e-6 });
    });
  }
  const gu = await toGpu(g, u, c.inputs);
  const [gPT, gTT] = spec.jvp(g, c, gv, gu);
  const gP = await Promise.all(gPT.map((t) => g.toArray(t)));
  const gT = await Promise.all(gTT.map((t) => g.toArray(t)));
  gP.forEach((p, i) => expectClose(`${tag} jvp primal out${i} vs GPU forward`, p, gOut[i], { rtol: 1e-6, atol: 1e-6 * Math.max(1, scale) }));
  gT.forEach((t, i) => {
    expectFinite(`${tag} jvp tangent out${i} (GPU)`, t);
    expectClose(`${tag} jvp tangent out${i}`, t, refT[i], c.jvpTol);
  });

  // 3. backward
  const w = refOut.map((r) => Float64Array.from(Float32Array.from({ length: r.length }, () => rng.normal())));
  const grads0 = randomLike(c.params ?? {}, rng);
  const refGrads: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(grads0)) refGrads[k] = v.slice();
  const refD = spec.backward(cpu, c, vals, w, refGrads);
  // ⟨u, Jᵀw⟩ = ⟨Ju, w⟩ on the reference
  const lhs = Object.keys(c.inputs).reduce((s, k) => s + dot(u[k], refD[k]), 0);
  const rhs = refT.reduce((s, t, i) => s + dot(t, w[i]), 0);
  expectScalarClose(`${tag} backward identity (ref): ⟨u, Jᵀw⟩ vs ⟨Ju, w⟩`, lhs, rhs, 1e-9, 1e-9);
  const refDParams: Record<string, Float64Array> = {};
  for (const k of Object.keys(grads0)) refDParams[k] = refGrads[k].map((x, i) => x - grads0[k][i]);
  if (c.params && Object.keys(c.params).length && !c.skipFd) {
    const U = randomLike(c.params, rng);
    const h = c.fdStep ?? 1e-5;
    const plus = spec.forward(cpu, c, axpy(vals, U, h));
    const minus = spec.forward(cpu, c, axpy(vals, U, -h));
    const fd = plus.reduce((s, p, i) => s + p.reduce((a, x, j) => a + ((x - minus[i][j]) / (2 * h)) * w[i][j], 0), 0);
    const an = Object.keys(c.params).reduce((s, k) => s + dot(U[k], refDParams[k]), 0);
    expectScalarClose(`${tag} parameter gradients (ref) vs central differences`, an, fd, c.fdTol ?? 1e-6, 1e-9);
  }
  const gw = w.map((x, i) => g.fromArray(x, [x.length]));
  const gGrads = await toGpu(g, grads0, c.params ?? {});
  const gD = spec.backward(g, c, gv, gw, gGrads);
  for (const k of Object.keys(c.inputs)) {
    const got = await g.toArray(gD[k]);
    expectFinite(`${tag} backward d${k} (GPU)`, got);
    expectClose(`${tag} backward d${k}`, got, refD[k], c.bwdTol, c.inputs[k]);
  }
  for (const k of Object.keys(c.params ?? {})) {
    const got = await g.toArray(gGrads[k]);
    const delta = got.map((x, i) => x - grads0[k][i]);
    expectFinite(`${tag} backward grad ${k} (GPU)`, delta);
    // Compare the accumulated increment: proves `+=` and the gradient at once.
    expectClose(`${tag} backward grad ${k} (accumulated)`, delta, refDParams[k], c.bwdTol, c.params![k]);
  }
  // The GPU's own backward against its own JVP.
  let gl = 0;
  for (const k of Object.keys(c.inputs)) gl += dot(u[k], await g.toArray(gD[k]));
  const gr = gT.reduce((s, t, i) => s + dot(t, w[i]), 0);
  expectScalarClose(`${tag} backward identity (GPU): ⟨u, Jᵀw⟩ vs ⟨Ju, w⟩`, gl, gr, 2e-3, 1e-3 * Math.sqrt(Math.abs(rhs) + 1));

  const all = [...gOutT, ...gPT, ...gTT, ...gw, ...Object.values(gD), ...Object.values(gv), ...Object.values(gu), ...Object.values(gGrads)];
  gpu.release(...new Set(all));
  gpu.checkErrors();
}

/** Registers one node:test test per case of the spec. */
export function opTests<C extends OpCase>(spec: OpSpec<C>): void {
  const gpu = gpuForFile();
  for (const c of spec.cases) test(`${spec.name}: ${c.label}`, async () => checkCase(await gpu(), spec, c));
}
