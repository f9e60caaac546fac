// Elementwise family: SiLU and GELU (tanh form) activations, y = a + b, and the broadcast add of a
// fixed row (the position embedding). Activations have a local derivative written once per backend
// (siluGrad/geluGrad here, silu_grad/gelu_grad in the shader) shared by jvp and backward; add and
// broadcast add are linear, so their tangents and cotangents are the forward kernel or copies.

import elementwiseCode from '../../shaders/elementwise.wgsl?raw';
import geluCode from '../../shaders/gelu.wgsl?raw';
import type { Gpu, KernelModule, Tensor } from '../gpu/runtime';

/** y = f(x) elementwise over n elements. */
export interface ActivationOps<T> {
  forward(x: T, n: number): T;
  jvp(x: T, tX: T, n: number): [T, T];
  /** dX (new). */
  backward(x: T, dY: T, n: number): T;
}

/** y = a + b (same shape, n elements). */
export interface AddOps<T> {
  forward(a: T, b: T, n: number): T;
  jvp(a: T, tA: T, b: T, tB: T, n: number): [T, T];
  /** [dA, dB]: both copies of dY (new tensors). */
  backward(dY: T, n: number): [T, T];
}

/** y[b, r] = x[b, r] + p[r]; x (B, R), p (R) a constant (the fixed position embedding: no tangent, no gradient). */
export interface BroadcastAddOps<T> {
  forward(x: T, p: T, d: { B: number; R: number }): T;
  /** tY = tX (a copy). */
  jvp(x: T, tX: T, p: T, d: { B: number; R: number }): [T, T];
  /** dX = dY (a copy). */
  backward(dY: T, d: { B: number; R: number }): T;
}

// ------------------------------------------------------------------ f64 reference

const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** σ(x) with exp of a non-positive argument only. */
function sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}
const silu = (x: number) => x * sigmoid(x);
/** d/dx x·σ(x). */
function siluGrad(x: number): number {
  const s = sigmoid(x);
  return s * (1 + x * (1 - s));
}

// The reference needs no clamp: Math.tanh saturates cleanly, and the shader's clamp at ±15 is exact in f32.
const geluInner = (x: number) => GELU_K * (x + GELU_C * x * x * x);
const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(geluInner(x)));
/** d/dx gelu = ½(1 + t) + ½x(1 − t²)·K(1 + 3C·x²), t = tanh(K(x + C·x³)). */
export function geluGrad(x: number): number {
  const t = Math.tanh(geluInner(x));
  const sech2 = 1 - t * t;
  return 0.5 * (1 + t) + (sech2 === 0 ? 0 : 0.5 * x * sech2 * GELU_K * (1 + 3 * GELU_C * x * x));
}

function activationCpu(f: (x: number) => number, grad: (x: number) => number): ActivationOps<Float64Array> {
  const map = (x: Float64Array, n: number) => {
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = f(x[i]);
    return y;
  };
  return {
    forward: map,
    jvp(x, tX, n) {
      const tY = new Float64Array(n);
      for (let i = 0; i < n; i++) tY[i] = grad(x[i]) * tX[i];
      return [map(x, n), tY];
    },
    backward(x, dY, n) {
      const dX = new Float64Array(n);
      for (let i = 0; i < n; i++) dX[i] = grad(x[i]) * dY[i];
      return dX;
    },
  };
}

export const siluCpu = activationCpu(silu, siluGrad);
export const geluCpu = activationCpu(gelu, geluGrad);

function addRef(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = a[i] + b[i];
  return y;
}

export const addCpu: AddOps<Float64Array> = {
  forward: addRef,
  jvp: (a, tA, b, tB, n) => [addRef(a, b, n), addRef(tA, tB, n)],
  backward: (dY, n) => [dY.slice(0, n), dY.slice(0, n)],
};

function broadcastAddRef(x: Float64Array, p: Float64Array, { B, R }: { B: number; R: number }): Float64Array {
  const y = new Float64Array(B * R);
  for (let b = 0; b < B; b++) for (let r = 0; r < R; r++) y[b * R + r] = x[b * R + r] + p[r];
  return y;
}

export const broadcastAddCpu: BroadcastAddOps<Float64Array> = {
  forward: broadcastAddRef,
  jvp: (x, tX, p, d) => [broadcastAddRef(x, p, d), tX.slice(0, d.B * d.R)],
  backward: (dY, d) => dY.slice(0, d.B * d.R),
};

// ------------------------------------------------------------------ GPU

type Entry =
  | 'silu_forward'
  | 'silu_jvp'
  | 'silu_backward'
  | 'gelu_forward'
  | 'gelu_jvp'
  | 'gelu_backward'
  | 'add'
  | 'broadcast_add';

export const elementwiseKernel: KernelModule<Entry> = {
  name: 'elementwise',
  code: `${geluCode}\n${elementwiseCode}`,
  entries: {
    silu_forward: ['dims', 'y', 'x'],
    silu_jvp: ['dims', 'y', 'x', 'tY', 'tX'],
    silu_backward: ['dims', 'dX', 'x', 'dY'],
    gelu_forward: ['dims', 'y', 'x'],
    gelu_jvp: ['dims', 'y', 'x', 'tY', 'tX'],
    gelu_backward: ['dims', 'dX', 'x', 'dY'],
    add: ['dims', 'y', 'a', 'b'],
    broadcast_add: ['dims', 'y', 'x', 'p'],
  },
};

/** Threads per workgroup (the shader's WG override). */
const WG = 256;

/**
 * A grid of `groups` workgroups laid out (x, y) within maxComputeWorkgroupsPerDimension; kernels
 * recover the flat workgroup index as wid.y·nwg.x + wid.x and guard the tail.
 */
export function grid(gpu: Gpu, groups: number): [number, number] {
  if (groups === 0) return [0, 1];
  const x = Math.min(groups, gpu.limits.maxComputeWorkgroupsPerDimension);
  return [x, Math.ceil(groups / x)];
}

const shapeOf = (t: Tensor, n: number): readonly number[] => (t.size === n ? t.shape : [n]);

function checkSize(op: string, n: number, ...ts: Tensor[]): void {
  for (const t of ts) if (t.size < n) throw new Error(`${op}: tensor of ${t.size} elements for n = ${n}`);
}

/** A new tensor holding a copy of t's first n elements. */
function dup(gpu: Gpu, t: Tensor, n: number, label: string): Tensor {
  const out = gpu.alloc(shapeOf(t, n), label);
  gpu.copy(t.size === n ? t : gpu.view(t.buffer, t.offset / 4, [n]), out);
  return out;
}

function activationGpu(gpu: Gpu, name: 'silu' | 'gelu'): ActivationOps<Tensor> {
  const run = (entry: Entry, n: number, bindings: Tensor[]) => gpu.dispatch(elementwiseKernel, entry, { n, R: 0 }, bindings, grid(gpu, Math.ceil(n / WG)), { WG });
  return {
    forward(x, n) {
      checkSize(name, n, x);
      const y = gpu.alloc(shapeOf(x, n), `${name}.y`);
      run(`${name}_forward`, n, [y, x]);
      return y;
    },
    jvp(x, tX, n) {
      checkSize(name, n, x, tX);
      const y = gpu.alloc(shapeOf(x, n), `${name}.y`);
      const tY = gpu.alloc(shapeOf(x, n), `${name}.tY`);
      run(`${name}_jvp`, n, [y, x, tY, tX]);
      return [y, tY];
    },
    backward(x, dY, n) {
      checkSize(name, n, x, dY);
      const dX = gpu.alloc(shapeOf(x, n), `${name}.dX`);
      run(`${name}_backward`, n, [dX, x, dY]);
      return dX;
    },
  };
}

export const siluGpu = (gpu: Gpu): ActivationOps<Tensor> => activationGpu(gpu, 'silu');
export const geluGpu = (gpu: Gpu): ActivationOps<Tensor> => activationGpu(gpu, 'gelu');

export function addGpu(gpu: Gpu): AddOps<Tensor> {
  const sum = (a: Tensor, b: Tensor, n: number, label: string) => {
    checkSize('add', n, a, b);
    const y = gpu.alloc(shapeOf(a, n), label);
    gpu.dispatch(elementwiseKernel, 'add', { n, R: 0 }, [y, a, b], grid(gpu, Math.ceil(n / WG)), { WG });
    return y;
  };
  return {
    forward: (a, b, n) => sum(a, b, n, 'add.y'),
    jvp: (a, tA, b, tB, n) => [sum(a, b, n, 'add.y'), sum(tA, tB, n, 'add.tY')],
    backward: (dY, n) => [dup(gpu, dY, n, 'add.dA'), dup(gpu, dY, n, 'add.dB')],
  };
}

export function broadcastAddGpu(gpu: Gpu): BroadcastAddOps<Tensor> {
  const fwd = (x: Tensor, p: Tensor, { B, R }: { B: number; R: number }) => {
    const n = B * R;
    checkSize('broadcastAdd', n, x);
    checkSize('broadcastAdd', R, p);
    const y = gpu.alloc(shapeOf(x, n), 'broadcastAdd.y');
    gpu.dispatch(elementwiseKernel, 'broadcast_add', { n, R }, [y, x, p], grid(gpu, Math.ceil(n / WG)), { WG });
    return y;
  };
  return {
    forward: fwd,
    jvp: (x, tX, p, d) => [fwd(x, p, d), dup(gpu, tX, d.B * d.R, 'broadcastAdd.tY')],
    backward: (dY, d) => dup(gpu, dY, d.B * d.R, 'broadcastAdd.dX'),
  };
}
