// Optimizer kernels over flat parameter buffers: the global gradient norm with clip factor and
// non-finite flag (two-stage reduction, no read-back), AdamW with the clip applied and the step
// skipped on the GPU when the gradient is non-finite, the weight EMA, and an in-place scale.
// Each has an f64 plain-loop reference here (`…Ref`). Not differentiable: not in the op table.

import code from '../../shaders/optim.wgsl?raw';
import type { Gpu, KernelModule, Tensor } from '../gpu/runtime';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** A learning-rate schedule: a linear warm-up over `lrWarmup` steps, then a cosine over `lrDecaySteps` steps to `lrFloor`·lr, held there after (absent or 0: no warm-up, no decay). */
export interface LrSchedule {
  lr: number;
  lrWarmup?: number;
  lrDecaySteps?: number;
  lrFloor?: number;
}

/**
 * The rate of optimizer step `step` (1-based, as AdamW counts): lr·step/W during a warm-up of W steps
 * (PyTorch's LinearLR from 1/W), then lr·(f + (1 − f)·(1 + cos πp)/2) with p = min(1, (step − W)/D)
 * (CosineAnnealingLR with eta_min = f·lr, but held at the floor after D steps rather than rising again).
 */
export function scheduledLr(s: LrSchedule, step: number): number {
  const W = s.lrWarmup ?? 0;
  const D = s.lrDecaySteps ?? 0;
  if (W > 0 && step < W) return (s.lr * step) / W;
  if (D <= 0) return s.lr;
  const p = Math.min(1, Math.max(0, step - W) / D);
  const f = s.lrFloor ?? 0;
  return s.lr * (f + ((1 - f) * (1 + Math.cos(Math.PI * p))) / 2);
}

// ------------------------------------------------------------------ f64 reference

/**
 * [‖g‖₂, clip, nonFinite, Σg²] — the layout `gradNorm` writes into `stats`. clip = min(1,
 * maxNorm / (‖g‖ + 1e-6)) as torch.nn.utils.clip_grad_norm_, 1 when maxNorm ≤ 0 or g is non-finite.
 */
export function gradNormRef(grad: ArrayLike<number>, maxNorm: number): Float64Array {
  let sumSq = 0;
  let nonFinite = 0;
  for (let i = 0; i < grad.length; i++) {
    const g = grad[i];
    if (Number.isFinite(g)) sumSq += g * g;
    else nonFinite = 1;
  }
  const norm = Math.sqrt(sumSq);
  const clip = maxNorm > 0 && !nonFinite ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  return Float64Array.from([norm, clip, nonFinite, sumSq]);
}

/**
 * One AdamW step in place on param, m, v (torch.optim.AdamW, decoupled decay): g = grad·clip;
 * p ← p − lr·wd·mask·p; m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
 * p ← p − lr·m̂/(√v̂ + eps), m̂ = m/(1−β1^step), v̂ = v/(1−β2^step). mask null = decay everything.
 */
export function adamwRef(
  param: Float64Array,
  grad: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  cfg: AdamWConfig,
  step: number,
  clip: number,
  mask: ArrayLike<number> | null,
): void {
  const { lr, beta1, beta2, eps, weightDecay } = cfg;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i] * clip;
    param[i] -= lr * weightDecay * (mask ? mask[i] : 1) * param[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    const mHat = m[i] / bc1;
    const vHat = v[i] / bc2;
    param[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
  }
}

/** ema ← decay·ema + (1 − decay)·param, in place. */
export function emaRef(ema: Float64Array, param: ArrayLike<number>, decay: number): void {
  for (let i = 0; i < ema.length; i++) ema[i] = decay * ema[i] + (1 - decay) * param[i];
}

/** x ← s·x, in place (s = 0 writes zeros, also over NaN/Inf, as the kernel). */
export function scaleRef(x: Float64Array, s: number): void {
  for (let i = 0; i < x.length; i++) x[i] = s === 0 ? 0 : x[i] * s;
}

// ------------------------------------------------------------------ GPU

export const optimKernel: KernelModule<'norm_partial' | 'norm_finish' | 'adamw' | 'ema' | 'scale'> = {
  name: 'optim',
  code,
  entries: {
    norm_partial: ['red', 'gradIn', 'partialOut'],
    norm_finish: ['red', 'partialIn', 'statsOut'],
    adamw: ['adam', 'param', 'grad', 'm', 'v', 'stats', 'decayMask'],
    ema: ['el', 'x', 'src'],
    scale: ['el', 'x'],
  },
};

const WG = 256;
/** Partial-sum workgroups of the norm reduction: enough to fill a large GPU, few enough for one finishing workgroup. */
const MAX_PARTIALS = 1024;

/**
 * The grid for `groups` workgroups: 1-D while it fits maxPerDim, else 2-D (x = maxPerDim,
 * y = ⌈groups / x⌉); kernels linearise (y·x + x) and drop indices ≥ n.
 */
export function elementGrid(groups: number, maxPerDim: number): [number, number] {
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  if (y > maxPerDim) throw new RangeError(`optim: ${groups} workgroups exceed a ${maxPerDim}² grid`);
  return [maxPerDim, y];
}

/** Partials of the norm reduction on a CPU-like adapter (a few per core). */
const CPU_PARTIALS = 8;

function gridFor(gpu: Gpu, n: number): [number, number] {
  return elementGrid(Math.ceil(n / WG), gpu.limits.maxComputeWorkgroupsPerDimension);
}

function sameSize(what: string, n: number, ...ts: [string, Tensor][]): void {
  for (const [name, t] of ts) if (t.size !== n) throw new Error(`${what}: ${name} has ${t.size} elements, want ${n}`);
}

/**
 * Records the global grad-norm reduction into `stats` (≥ 4 elements) without any CPU read-back:
 * stats = [‖g‖₂, clip factor, non-finite flag, Σg²] (see gradNormRef). Two stages: ≤ 1024
 * per-workgroup partials into a pooled scratch tensor, then one workgroup finishes.
 * With a non-finite gradient stats[0] and stats[3] are not meaningful; stats[1] is 1.
 */
export function gradNorm(gpu: Gpu, grad: Tensor, stats: Tensor, maxNorm: number): void {
  if (stats.size < 4) throw new Error(`gradNorm: stats has ${stats.size} elements, want ≥ 4`);
  const n = grad.size;
  // Few, long-running groups on a CPU-like adapter: each group's tree reduction pays 9 barriers,
  // which cost there far more than the grid-stride loop they save (a 50k-parameter norm: 1.1 s → ms).
  const groups = Math.max(1, Math.min(Math.ceil(n / WG), gpu.cpuLike ? CPU_PARTIALS : MAX_PARTIALS));
  const partials = gpu.alloc([groups, 2], 'optim.partials');
  gpu.dispatch(optimKernel, 'norm_partial', { n, groups, maxNorm }, [grad, partials], [groups]);
  gpu.dispatch(optimKernel, 'norm_finish', { n, groups, maxNorm }, [partials, stats], [1]);
  gpu.release(partials);
}

/**
 * One AdamW step (torch.optim.AdamW semantics) on all n elements, in place on param, m, v, with
 * the gradient multiplied by stats[1] (read on the GPU). `step` is 1-based (bias correction).
 * stats[2] ≠ 0 (non-finite gradient) skips the step on the GPU. decayMask (n, 1 decay / 0 not) or null.
 */
export function adamw(
  gpu: Gpu,
  param: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  stats: Tensor,
  cfg: AdamWConfig,
  step: number,
  decayMask: Tensor | null,
): void {
  const n = param.size;
  sameSize('adamw', n, ['grad', grad], ['m', m], ['v', v], ...(decayMask ? [['decayMask', decayMask] as [string, Tensor]] : []));
  if (stats.size < 4) throw new Error(`adamw: stats has ${stats.size} elements, want ≥ 4`);
  if (!Number.isInteger(step) || step < 1) throw new Error(`adamw: step ${step} must be a positive integer`);
  // 1 − β and the bias corrections in f64 here: in f32 they lose digits to cancellation (β2 ≈ 1).
  const bc1 = 1 - cfg.beta1 ** step;
  const bc2 = 1 - cfg.beta2 ** step;
  const params = {
    n,
    hasMask: decayMask ? 1 : 0,
    lrWd: cfg.lr * cfg.weightDecay,
    beta1: cfg.beta1,
    oneMinusBeta1: 1 - cfg.beta1,
    beta2: cfg.beta2,
    oneMinusBeta2: 1 - cfg.beta2,
    stepSize: cfg.lr / bc1,
    invSqrtBc2: 1 / Math.sqrt(bc2),
    eps: cfg.eps,
  };
  gpu.dispatch(optimKernel, 'adamw', params, [param, grad, m, v, stats, decayMask ?? gpu.dummy], gridFor(gpu, n));
}

/** ema ← decay·ema + (1 − decay)·param, elementwise, in place. */
export function emaUpdate(gpu: Gpu, ema: Tensor, param: Tensor, decay: number): void {
  sameSize('emaUpdate', ema.size, ['param', param]);
  gpu.dispatch(optimKernel, 'ema', { n: ema.size, s: 1 - decay }, [ema, param], gridFor(gpu, ema.size));
}

/** x ← s·x in place (s = 0 writes exact zeros, also over NaN/Inf: the way to zero a gradient buffer). */
export function scale(gpu: Gpu, x: Tensor, s: number): void {
  gpu.dispatch(optimKernel, 'scale', { n: x.size, s }, [x], gridFor(gpu, x.size));
}
