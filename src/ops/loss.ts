// Loss reductions (shaders/loss.wgsl): the flow-matching anchor and the consistency residual family,
// per sample, with their gradients w.r.t. F. f64 references first, then the GPU dispatch.
// These are scalar losses of F: their "JVP" is the gradient dotted with a direction, which the
// tests check against central differences of the reference.

import code from '../../shaders/loss.wgsl?raw';
import type { Gpu, KernelModule, Tensor } from '../gpu/runtime';

export interface LossDims {
  B: number;
  C: number;
  HW: number;
}

/** Per-sample scalars of the consistency residual (see loss.wgsl): g = F − v − k·tF, Δ = a·φ(g) or c·g/(RMS+0.1). */
export interface ResidualScalars {
  k: number;
  a: number;
  lambda: number;
  c: number;
}

export interface ResidualMode {
  clamp: boolean;
  normalise: boolean;
  /** Power of the stop-gradient denominator (e + 1e−3)^p: FACM 0.5, MeanFlow p, sCM 0. */
  p: number;
}

/** Per-sample FM statistics, as fm_stats writes them. */
export const FM_STATS = ['mse', 'cos'] as const;

/** Per-sample residual statistics, as res_stats writes them. */
export const RES_STATS = ['e', 'loss', 'phi2', 'g2', 'clampFrac', 'tF2', 'v2', 'ktF2'] as const;

// ------------------------------------------------------------------ f64 reference

/**
 * The channel cosine follows current PyTorch (≥ 2.0, aten `cosine_similarity`):
 * (a / max(‖a‖, ε)) · (b / max(‖b‖, ε)), each norm clamped under no_grad, so the clamp passes no
 * gradient and ‖a‖'s gradient is 0 at a = 0. At F = 0 (the first step from scratch, adaLN-Zero) the
 * gradient of cos w.r.t. F is v / (ε·‖v‖) per pixel. (PyTorch < 2.0 used a·b / max(‖a‖‖b‖, ε): v / ε.)
 */
export const COS_EPS = 1e-8;

/** (F·v, ‖F‖², ‖v‖²) over the channels of one pixel; `i0` indexes channel 0 of that pixel. */
function pixelDots(F: ArrayLike<number>, v: ArrayLike<number>, i0: number, C: number, HW: number): [number, number, number] {
  let d = 0, na = 0, nb = 0;
  for (let c = 0; c < C; c++) {
    const i = i0 + c * HW;
    d += F[i] * v[i];
    na += F[i] ** 2;
    nb += v[i] ** 2;
  }
  return [d, na, nb];
}

export function fmLossRef(F: ArrayLike<number>, v: ArrayLike<number>, { B, C, HW }: LossDims): { mse: Float64Array; cos: Float64Array } {
  const N = C * HW;
  const mse = new Float64Array(B);
  const cos = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) mse[b] += (F[b * N + i] - v[b * N + i]) ** 2 / N;
    for (let px = 0; px < HW; px++) {
      const [d, na, nb] = pixelDots(F, v, b * N + px, C, HW);
      cos[b] += (1 - d / (Math.max(Math.sqrt(na), COS_EPS) * Math.max(Math.sqrt(nb), COS_EPS))) / HW;
    }
  }
  return { mse, cos };
}

/** Gradient of Σ_b scale·w_b·(mse_b + cos_b) w.r.t. F. */
export function fmGradRef(F: ArrayLike<number>, v: ArrayLike<number>, w: ArrayLike<number>, scale: number, { B, C, HW }: LossDims): Float64Array {
  const N = C * HW;
  const dF = new Float64Array(B * N);
  for (let b = 0; b < B; b++)
    for (let px = 0; px < HW; px++) {
      const [d, na2, nb2] = pixelDots(F, v, b * N + px, C, HW);
      const na = Math.sqrt(na2);
      const naC = Math.max(na, COS_EPS), nbC = Math.max(Math.sqrt(nb2), COS_EPS);
      // PyTorch's autograd: the clamps are constants, ∂‖F‖/∂F = F/‖F‖ and 0 at F = 0.
      const k = na > 0 ? d / (naC * na) : 0;
      for (let c = 0; c < C; c++) {
        const i = b * N + c * HW + px;
        const dcos = (v[i] - k * F[i]) / (naC * nbC);
        dF[i] = scale * w[b] * ((2 * (F[i] - v[i])) / N - dcos / HW);
      }
    }
  return dF;
}

function delta(g: Float64Array, s: ResidualScalars, mode: ResidualMode): Float64Array {
  if (mode.normalise) {
    const rms = Math.abs(s.c) * Math.sqrt(g.reduce((a, x) => a + x * x, 0) / g.length);
    return g.map((x) => (s.c * x) / (rms + 0.1));
  }
  return g.map((x) => s.a * (mode.clamp ? Math.min(1, Math.max(-1, x)) : x));
}

/** Per sample: loss λ·e/(e+1e−3)^p, e, and the stats res_stats reports; plus dF of Σ_b scale·loss_b (denominator held constant). */
export function residualRef(
  F: ArrayLike<number>,
  v: ArrayLike<number>,
  tF: ArrayLike<number>,
  S: ResidualScalars[],
  mode: ResidualMode,
  scale: number,
  N: number,
): { stats: Float64Array; dF: Float64Array } {
  const B = S.length;
  const stats = new Float64Array(B * 8);
  const dF = new Float64Array(B * N);
  for (let b = 0; b < B; b++) {
    const s = S[b];
    const g = new Float64Array(N);
    for (let i = 0; i < N; i++) g[i] = F[b * N + i] - v[b * N + i] - s.k * tF[b * N + i];
    const D = delta(g, s, mode);
    const e = D.reduce((a, x) => a + x * x, 0) / N;
    const den = (e + 1e-3) ** mode.p;
    const st = stats.subarray(b * 8, b * 8 + 8);
    st[0] = e;
    st[1] = (s.lambda * e) / den;
    for (let i = 0; i < N; i++) {
      const phi = mode.clamp ? Math.min(1, Math.max(-1, g[i])) : g[i];
      const t = tF[b * N + i];
      st[2] += phi * phi / N;
      st[3] += g[i] * g[i] / N;
      st[4] += (Math.abs(g[i]) > 1 ? 1 : 0) / N;
      st[5] += t * t / N;
      st[6] += v[b * N + i] ** 2 / N;
      st[7] += s.k * s.k * t * t / N;
      dF[b * N + i] = (scale * s.lambda * 2 * D[i]) / (N * den);
    }
  }
  return { stats, dF };
}

// ------------------------------------------------------------------ GPU

export const lossKernel: KernelModule<'fm_stats' | 'fm_grad' | 'fm_row' | 'res_stats' | 'res_grad' | 'res_row'> = {
  name: 'loss',
  code,
  entries: {
    fm_stats: ['dims', 'F', 'V', 'stats'],
    fm_grad: ['dims', 'F', 'V', 'W', 'dF'],
    res_stats: ['dims', 'F', 'V', 'TF', 'S', 'rstats'],
    res_grad: ['dims', 'F', 'V', 'TF', 'S', 'rs', 'dFr'],
    fm_row: ['dims', 'F', 'V', 'W', 'stats', 'dF'],
    res_row: ['dims', 'F', 'V', 'TF', 'S', 'rstats', 'dFr'],
  },
};

const dimsParams = ({ B, C, HW }: LossDims, flags: number, p: number, scale: number) => ({ B, N: C * HW, C, HW, flags, p, scale });

/** stats (B, 2) ← (mean (F−v)², mean_HW (1 − cos_C)). */
export function fmStats(gpu: Gpu, F: Tensor, v: Tensor, stats: Tensor, d: LossDims): void {
  gpu.dispatch(lossKernel, 'fm_stats', dimsParams(d, 0, 0, 0), [F, v, stats], [d.B]);
}

/** dF ← ∂/∂F Σ_b scale·w_b·(mse_b + cos_b). */
export function fmGrad(gpu: Gpu, F: Tensor, v: Tensor, w: Tensor, dF: Tensor, scale: number, d: LossDims): void {
  gpu.dispatch(lossKernel, 'fm_grad', dimsParams(d, 0, 0, scale), [F, v, w, dF], [Math.ceil(d.HW / 64), d.B]);
}

/**
 * Per-sample elements up to which a loss runs as one thread per sample (stats and gradient in one
 * dispatch, no reduction): the 2-D mode's N = 2, where a 64-thread workgroup per sample spent its
 * time in the reduction's barriers (on SwiftShader 70 ms of a 1.5 s step, for 256 numbers).
 */
export const ROW_LOSS_MAX_N = 64;
const rowsFor = (d: LossDims) => d.C * d.HW <= ROW_LOSS_MAX_N;

/** fmStats + fmGrad: two dispatches, or one thread per sample when `rows` (default: N ≤ ROW_LOSS_MAX_N). */
export function fmLoss(gpu: Gpu, F: Tensor, v: Tensor, w: Tensor, stats: Tensor, dF: Tensor, scale: number, d: LossDims, rows = rowsFor(d)): void {
  if (!rows) {
    fmStats(gpu, F, v, stats, d);
    fmGrad(gpu, F, v, w, dF, scale, d);
    return;
  }
  gpu.dispatch(lossKernel, 'fm_row', dimsParams(d, 0, 0, scale), [F, v, w, stats, dF], [Math.ceil(d.B / 64)]);
}

/** stats (B, 8) ← RES_STATS per sample; dF ← ∂/∂F Σ_b scale·loss_b. S is (B, 4): k, a, λ, c. `rows` as fmLoss. */
export function residualLoss(gpu: Gpu, F: Tensor, v: Tensor, tF: Tensor, S: Tensor, stats: Tensor, dF: Tensor | null, mode: ResidualMode, scale: number, d: LossDims, rows = rowsFor(d)): void {
  const flags = (mode.clamp ? 1 : 0) | (mode.normalise ? 2 : 0);
  const prm = () => dimsParams(d, flags, mode.p, scale);
  if (rows) {
    // One thread per sample (see ROW_LOSS_MAX_N); bit 2: write dF.
    gpu.dispatch(lossKernel, 'res_row', dimsParams(d, flags | (dF ? 4 : 0), mode.p, scale), [F, v, tF, S, stats, dF ?? gpu.dummy], [Math.ceil(d.B / 64)]);
    return;
  }
  gpu.dispatch(lossKernel, 'res_stats', prm(), [F, v, tF, S, stats], [d.B]);
  if (dF) gpu.dispatch(lossKernel, 'res_grad', prm(), [F, v, tF, S, stats, dF], [Math.ceil((d.C * d.HW) / 64), d.B]);
}

// ------------------------------------------------------------------ the losses as a backend pair

export interface LossOps<T> {
  /** stats (B, 2): mse, 1 − cos per sample; dF of Σ_b scale·w_b·(mse_b + cos_b). */
  fm(F: T, v: T, w: T, scale: number, d: LossDims): { stats: T; dF: T };
  /** stats (B, 8) as RES_STATS; dF of Σ_b scale·loss_b (target held constant). */
  residual(F: T, v: T, tF: T, S: T, mode: ResidualMode, scale: number, d: LossDims): { stats: T; dF: T };
}

const scalars = (S: ArrayLike<number>): ResidualScalars[] =>
  Array.from({ length: S.length / 4 }, (_, b) => ({ k: S[4 * b], a: S[4 * b + 1], lambda: S[4 * b + 2], c: S[4 * b + 3] }));

export const cpuLoss: LossOps<Float64Array> = {
  fm(F, v, w, scale, d) {
    const { mse, cos } = fmLossRef(F, v, d);
    const stats = new Float64Array(2 * d.B);
    for (let b = 0; b < d.B; b++) [stats[2 * b], stats[2 * b + 1]] = [mse[b], cos[b]];
    return { stats, dF: fmGradRef(F, v, w, scale, d) };
  },
  residual: (F, v, tF, S, mode, scale, d) => residualRef(F, v, tF, scalars(S), mode, scale, d.C * d.HW),
};

/** The loss kernels on the GPU; `cpuLoss` is their f64 reference (runStep takes either). */
export function gpuLoss(gpu: Gpu): LossOps<Tensor> {
  return {
    fm(F, v, w, scale, d) {
      const stats = gpu.alloc([d.B, 2], 'fm.stats');
      const dF = gpu.alloc([d.B, d.C * d.HW], 'fm.dF');
      fmLoss(gpu, F, v, w, stats, dF, scale, d);
      return { stats, dF };
    },
    residual(F, v, tF, S, mode, scale, d) {
      const stats = gpu.alloc([d.B, 8], 'res.stats');
      const dF = gpu.alloc([d.B, d.C * d.HW], 'res.dF');
      residualLoss(gpu, F, v, tF, S, stats, dF, mode, scale, d);
      return { stats, dF };
    },
  };
}

