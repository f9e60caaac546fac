// Embedding family: the sinusoidal time embedding of the condition c (docs/math.md: 256 dims,
// cos first, c used raw) and the class-label embedding table (a gather whose gradient is a
// deterministic scatter-add).

import code from '../../shaders/embed.wgsl?raw';
import type { Gpu, KernelModule, Tensor } from '../gpu/runtime';
import { grid } from './elementwise';

/** docs/math.md: freqs[i] = exp(−ln(10000)·i/128), i = 0..127; emb = [cos(c·freqs), sin(c·freqs)], cos first; c raw (no ×1000). */
export const TIME_DIM = 256;
const H = TIME_DIM / 2;

export interface TimeEmbedOps<T> {
  /** c (B) → emb (B, 256). */
  forward(c: T, B: number): T;
  /** tEmb = tC·[−sin(c·f)·f, cos(c·f)·f]. */
  jvp(c: T, tC: T, B: number): [T, T];
  /** dC (B) (new). */
  backward(c: T, dY: T, B: number): T;
}

export interface LabelEmbedDims {
  B: number;
  D: number;
  rows: number;
}

/** y (B) class ids stored as f32 integers; table (rows, D) a parameter. */
export interface LabelEmbedOps<T> {
  /** (B, D) gather. */
  forward(table: T, y: T, d: LabelEmbedDims): T;
  /** The tangent is zero (parameters carry none). */
  jvp(table: T, y: T, d: LabelEmbedDims): [T, T];
  /** dTable += scatter-add of dY rows; one thread per (row, d) looping over b: deterministic, no atomics. */
  backward(y: T, dY: T, d: LabelEmbedDims, dTable: T): void;
}

// ------------------------------------------------------------------ f64 reference

/** The H = 128 frequencies in f64; the GPU gets them rounded to f32 once. */
export const timeFreqs: Float64Array = Float64Array.from({ length: H }, (_, i) => Math.exp((-Math.log(10000) * i) / H));

/** d/dc [cos(c·f), sin(c·f)] = f·[−sin(c·f), cos(c·f)]: the local derivative of jvp and backward. */
function timeGrad(c: number, f: number): [number, number] {
  const a = c * f;
  return [-f * Math.sin(a), f * Math.cos(a)];
}

function timeEmbedRef(c: Float64Array, B: number): Float64Array {
  const emb = new Float64Array(B * TIME_DIM);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < H; i++) {
      const a = c[b] * timeFreqs[i];
      emb[b * TIME_DIM + i] = Math.cos(a);
      emb[b * TIME_DIM + H + i] = Math.sin(a);
    }
  return emb;
}

export const timeEmbedCpu: TimeEmbedOps<Float64Array> = {
  forward: timeEmbedRef,
  jvp(c, tC, B) {
    const tEmb = new Float64Array(B * TIME_DIM);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < H; i++) {
        const [gc, gs] = timeGrad(c[b], timeFreqs[i]);
        tEmb[b * TIME_DIM + i] = tC[b] * gc;
        tEmb[b * TIME_DIM + H + i] = tC[b] * gs;
      }
    return [timeEmbedRef(c, B), tEmb];
  },
  backward(c, dY, B) {
    const dC = new Float64Array(B);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < H; i++) {
        const [gc, gs] = timeGrad(c[b], timeFreqs[i]);
        dC[b] += gc * dY[b * TIME_DIM + i] + gs * dY[b * TIME_DIM + H + i];
      }
    return dC;
  },
};

function labelRow(y: Float64Array, b: number, rows: number): number {
  const l = y[b];
  if (!Number.isInteger(l) || l < 0 || l >= rows) throw new Error(`labelEmbed: label ${l} at b = ${b} is not an integer in [0, ${rows})`);
  return l;
}

function labelEmbedRef(table: Float64Array, y: Float64Array, { B, D, rows }: LabelEmbedDims): Float64Array {
  const emb = new Float64Array(B * D);
  for (let b = 0; b < B; b++) {
    const r = labelRow(y, b, rows);
    for (let d = 0; d < D; d++) emb[b * D + d] = table[r * D + d];
  }
  return emb;
}

export const labelEmbedCpu: LabelEmbedOps<Float64Array> = {
  forward: labelEmbedRef,
  jvp: (table, y, d) => [labelEmbedRef(table, y, d), new Float64Array(d.B * d.D)],
  backward(y, dY, { B, D, rows }, dTable) {
    for (let b = 0; b < B; b++) {
      const r = labelRow(y, b, rows);
      for (let d = 0; d < D; d++) dTable[r * D + d] += dY[b * D + d];
    }
  },
};

// ------------------------------------------------------------------ GPU

export const embedKernel: KernelModule<'time_forward' | 'time_jvp' | 'time_backward' | 'label_forward' | 'label_backward'> = {
  name: 'embed',
  code,
  entries: {
    time_forward: ['dims', 'emb', 'c', 'freqs'],
    time_jvp: ['dims', 'emb', 'c', 'freqs', 'tEmb', 'tC'],
    time_backward: ['dims', 'dC', 'c', 'freqs', 'dY'],
    label_forward: ['dims', 'emb', 'labels', 'table'],
    label_backward: ['dims', 'dTable', 'labels', 'dYLabel'],
  },
};

/** Threads per workgroup of the label kernels (the shader's WG override); time kernels use H. */
const WG = 256;

/** One f32 copy of the frequencies per device, made on first use. */
const freqBuffers = new WeakMap<Gpu, Tensor>();
function freqsOn(gpu: Gpu): Tensor {
  let t = freqBuffers.get(gpu);
  if (!t) {
    t = gpu.view(gpu.persistent(H, 'embed.freqs'), 0, [H]);
    gpu.write(t, timeFreqs);
    freqBuffers.set(gpu, t);
  }
  return t;
}

function need(op: string, t: Tensor, n: number): void {
  if (t.size < n) throw new Error(`${op}: tensor of ${t.size} elements, need ${n}`);
}

export function timeEmbedGpu(gpu: Gpu): TimeEmbedOps<Tensor> {
  const freqs = freqsOn(gpu);
  const params = (B: number) => ({ B, D: 0, rows: 0 });
  return {
    forward(c, B) {
      need('timeEmbed', c, B);
      const emb = gpu.alloc([B, TIME_DIM], 'timeEmbed.emb');
      gpu.dispatch(embedKernel, 'time_forward', params(B), [emb, c, freqs], grid(gpu, B));
      return emb;
    },
    jvp(c, tC, B) {
      need('timeEmbed', c, B);
      need('timeEmbed', tC, B);
      const emb = gpu.alloc([B, TIME_DIM], 'timeEmbed.emb');
      const tEmb = gpu.alloc([B, TIME_DIM], 'timeEmbed.tEmb');
      gpu.dispatch(embedKernel, 'time_jvp', params(B), [emb, c, freqs, tEmb, tC], grid(gpu, B));
      return [emb, tEmb];
    },
    backward(c, dY, B) {
      need('timeEmbed', c, B);
      need('timeEmbed', dY, B * TIME_DIM);
      const dC = gpu.alloc([B], 'timeEmbed.dC');
      gpu.dispatch(embedKernel, 'time_backward', params(B), [dC, c, freqs, dY], grid(gpu, B));
      return dC;
    },
  };
}

export function labelEmbedGpu(gpu: Gpu): LabelEmbedOps<Tensor> {
  const fwd = (table: Tensor, y: Tensor, { B, D, rows }: LabelEmbedDims) => {
    need('labelEmbed', table, rows * D);
    need('labelEmbed', y, B);
    const emb = gpu.alloc([B, D], 'labelEmbed.emb');
    gpu.dispatch(embedKernel, 'label_forward', { B, D, rows }, [emb, y, table], grid(gpu, Math.ceil((B * D) / WG)), { WG });
    return emb;
  };
  return {
    forward: fwd,
    jvp: (table, y, d) => [fwd(table, y, d), gpu.zeros([d.B, d.D], 'labelEmbed.tEmb')],
    backward(y, dY, { B, D, rows }, dTable) {
      need('labelEmbed', y, B);
      need('labelEmbed', dY, B * D);
      need('labelEmbed', dTable, rows * D);
      gpu.dispatch(embedKernel, 'label_backward', { B, D, rows }, [dTable, y, dY], grid(gpu, Math.ceil((rows * D) / WG)), { WG });
    },
  };
}
