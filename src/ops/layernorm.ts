// LayerNorm family (no affine parameters, eps 1e-6, biased variance as in PyTorch): y = (x − μ)·ρ
// over the last dimension. Its Jacobian is symmetric, so jvp (on tX) and backward (on dY) apply the
// same local derivative ρ·(g − mean(g) − x̂·mean(g·x̂)); statistics are recomputed from x each time.
//
// lnModulate fuses the adaLN modulate that follows LayerNorm in the DiT (y = x̂·(1 + scale) + shift,
// the modulate family's layout and semantics) into one launch per forward / jvp, two per backward.

import code from '../../shaders/layernorm.wgsl?raw';
import type { Gpu, KernelModule, Tensor, Uniforms } from '../gpu/runtime';
import { modulateCpu, type ModDims, type ModulateOps } from './modulate';

export const LN_EPS = 1e-6;

/** x (rows, D), normalised over D. */
export interface RowDims {
  rows: number;
  D: number;
}

export interface LayerNormOps<T> {
  forward(x: T, d: RowDims): T;
  jvp(x: T, tX: T, d: RowDims): [T, T];
  /** Returns dX (new); recomputes mean/rstd from x. */
  backward(x: T, dY: T, d: RowDims): T;
}

// ------------------------------------------------------------------ f64 reference

/** x̂ (rows, D) and ρ (rows) of x. */
function normalizeRef(x: Float64Array, { rows, D }: RowDims): { xhat: Float64Array; rstd: Float64Array } {
  const xhat = new Float64Array(rows * D);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < D; i++) s += x[r * D + i];
    const mean = s / D;
    let q = 0;
    for (let i = 0; i < D; i++) q += (x[r * D + i] - mean) ** 2;
    rstd[r] = 1 / Math.sqrt(q / D + LN_EPS);
    for (let i = 0; i < D; i++) xhat[r * D + i] = (x[r * D + i] - mean) * rstd[r];
  }
  return { xhat, rstd };
}

/** The local derivative, shared by jvp (g = tX) and backward (g = dY): ρ·(g − mean(g) − x̂·mean(g·x̂)). */
function lnLocalRef(xhat: Float64Array, rstd: Float64Array, g: Float64Array, { rows, D }: RowDims): Float64Array {
  const out = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    let mg = 0;
    let mgx = 0;
    for (let i = 0; i < D; i++) {
      mg += g[r * D + i];
      mgx += g[r * D + i] * xhat[r * D + i];
    }
    mg /= D;
    mgx /= D;
    for (let i = 0; i < D; i++) out[r * D + i] = rstd[r] * (g[r * D + i] - mg - xhat[r * D + i] * mgx);
  }
  return out;
}

export const layernormCpu: LayerNormOps<Float64Array> = {
  forward: (x, d) => normalizeRef(x, d).xhat,
  jvp(x, tX, d) {
    const { xhat, rstd } = normalizeRef(x, d);
    return [xhat, lnLocalRef(xhat, rstd, tX, d)];
  },
  backward(x, dY, d) {
    const { xhat, rstd } = normalizeRef(x, d);
    return lnLocalRef(xhat, rstd, dY, d);
  },
};

/**
 * LayerNorm then modulate, x (B·T, D): the same signatures as ModulateOps (x is the LayerNorm's
 * input, not its output). backward returns dX (new) and overwrites the shift and scale chunks of
 * dMod (B, chunks·D), leaving other chunks untouched; with `res` (B·T, D) it returns dX + res (the
 * residual stream's gradient around the block, summed in the same launch).
 */
export interface LnModulateOps<T> extends ModulateOps<T> {
  backward(x: T, mod: T, dY: T, d: ModDims, dMod: T, res?: T | null): T;
}

const rowsOf = ({ B, T, D }: ModDims): RowDims => ({ rows: B * T, D });

/** The f64 reference: the two tested references composed (the fused kernels must match their composition). */
export const lnModulateCpu: LnModulateOps<Float64Array> = {
  forward: (x, mod, d) => modulateCpu.forward(layernormCpu.forward(x, rowsOf(d)), mod, d),
  jvp(x, tX, mod, tMod, d) {
    const [n, tN] = layernormCpu.jvp(x, tX, rowsOf(d));
    return modulateCpu.jvp(n, tN, mod, tMod, d);
  },
  backward(x, mod, dY, d, dMod, res) {
    const dN = modulateCpu.backward(layernormCpu.forward(x, rowsOf(d)), mod, dY, d, dMod);
    const dX = layernormCpu.backward(x, dN, rowsOf(d));
    if (res) for (let i = 0; i < dX.length; i++) dX[i] += res[i];
    return dX;
  },
};

// ------------------------------------------------------------------ GPU

type LnEntry = 'forward' | 'jvp' | 'backward';
type LnModEntry = 'lnmod_forward' | 'lnmod_jvp' | 'lnmod_backward';

export const layernormKernel: KernelModule<LnEntry | `${LnEntry}_row` | LnModEntry | `${LnModEntry}_row` | 'lnmod_backward_mod'> = {
  name: 'layernorm',
  code,
  entries: {
    forward: ['dims', 'x', 'y'],
    jvp: ['dims', 'x', 'g', 'yJ', 'tY'],
    backward: ['dims', 'x', 'g', 'dX'],
    forward_row: ['dims', 'x', 'y'],
    jvp_row: ['dims', 'x', 'g', 'yJ', 'tY'],
    backward_row: ['dims', 'x', 'g', 'dX'],
    lnmod_forward: ['dims', 'x', 'lmMod', 'lmY'],
    lnmod_jvp: ['dims', 'x', 'lmMod', 'lmTX', 'lmTMod', 'lmYJ', 'lmTY'],
    lnmod_backward: ['dims', 'x', 'lmMod', 'lmDY', 'lmDX', 'lmStats', 'lmRes'],
    lnmod_forward_row: ['dims', 'x', 'lmMod', 'lmY'],
    lnmod_jvp_row: ['dims', 'x', 'lmMod', 'lmTX', 'lmTMod', 'lmYJ', 'lmTY'],
    lnmod_backward_row: ['dims', 'x', 'lmMod', 'lmDY', 'lmDX', 'lmStats', 'lmRes'],
    lnmod_backward_mod: ['dims', 'x', 'lmStatsIn', 'lmDY', 'lmDMod'],
  },
};

const MAX_GRID = 65535;

/** 'group': one 64-thread workgroup per row; 'row': one thread per row. */
export type LayerNormVariant = 'group' | 'row';

/**
 * One thread per row on CPU-like adapters (no barriers) and for narrow rows (D ≤ 64, where a
 * 64-thread group per row would idle most of its threads); a workgroup per row otherwise.
 */
export function chooseLayerNorm(gpu: Gpu, d: RowDims): LayerNormVariant {
  return gpu.cpuLike || d.D <= 64 ? 'row' : 'group';
}

/** 64 threads per group, halved (to 16) until there are ≥ 8 groups. */
function rowWorkgroup(rows: number): number {
  let wg = 64;
  while (wg > 16 && Math.ceil(rows / wg) < 8) wg /= 2;
  return wg;
}

/** Dispatches `entry` (one of the per-row entries) in the layout `force` or chooseLayerNorm picks. */
function runRows(gpu: Gpu, force: LayerNormVariant | undefined, entry: LnEntry | LnModEntry, params: Uniforms, d: RowDims, bindings: Tensor[], constants: Record<string, number> = {}): void {
  if ((force ?? chooseLayerNorm(gpu, d)) === 'group') {
    gpu.dispatch(layernormKernel, entry, params, bindings, [Math.min(d.rows, MAX_GRID), Math.ceil(d.rows / MAX_GRID)], constants);
  } else {
    const wg = rowWorkgroup(d.rows);
    const groups = Math.ceil(d.rows / wg);
    gpu.dispatch(layernormKernel, `${entry}_row`, params, bindings, [Math.min(groups, MAX_GRID), Math.ceil(groups / MAX_GRID)], { RWG: wg, ...constants });
  }
}

export function layernormGpu(gpu: Gpu, force?: LayerNormVariant): LayerNormOps<Tensor> {
  // T = 1, C = k0 = k1 = 0: the lnmod fields of the shared Dims, unused here.
  const params = ({ rows, D }: RowDims) => ({ R: rows, D, eps: LN_EPS, T: 1, C: 0, k0: 0, k1: 0 });
  const run = (entry: LnEntry, d: RowDims, bindings: Tensor[]) => runRows(gpu, force, entry, params(d), d, bindings);
  return {
    forward(x, d) {
      const y = gpu.alloc([d.rows, d.D], 'layernorm.y');
      run('forward', d, [x, y]);
      return y;
    },
    jvp(x, tX, d) {
      const y = gpu.alloc([d.rows, d.D], 'layernorm.y');
      const tY = gpu.alloc([d.rows, d.D], 'layernorm.tY');
      run('jvp', d, [x, tX, y, tY]);
      return [y, tY];
    },
    backward(x, dY, d) {
      const dX = gpu.alloc([d.rows, d.D], 'layernorm.dX');
      run('backward', d, [x, dY, dX]);
      return dX;
    },
  };
}

/** Fused LayerNorm + modulate; `force` pins the per-row layout (tests), as for layernormGpu. */
export function lnModulateGpu(gpu: Gpu, force?: LayerNormVariant): LnModulateOps<Tensor> {
  const params = ({ B, T, D, chunks, shift, scale }: ModDims) => ({ R: B * T, D, eps: LN_EPS, T, C: chunks, k0: shift, k1: scale });
  return {
    forward(x, mod, d) {
      const y = gpu.alloc([d.B * d.T, d.D], 'lnModulate.y');
      runRows(gpu, force, 'lnmod_forward', params(d), rowsOf(d), [x, mod, y]);
      return y;
    },
    jvp(x, tX, mod, tMod, d) {
      const y = gpu.alloc([d.B * d.T, d.D], 'lnModulate.y');
      const tY = gpu.alloc([d.B * d.T, d.D], 'lnModulate.tY');
      runRows(gpu, force, 'lnmod_jvp', params(d), rowsOf(d), [x, mod, tX, tMod, y, tY]);
      return [y, tY];
    },
    backward(x, mod, dY, d, dMod, res) {
      if (res && res.size !== d.B * d.T * d.D) throw new Error(`lnModulate.backward: res has ${res.size} elements, dX ${d.B * d.T}×${d.D}`);
      const dX = gpu.alloc([d.B * d.T, d.D], 'lnModulate.dX');
      const stats = gpu.alloc([d.B * d.T, 3], 'lnModulate.stats'); // (shift, mean, ρ) per row
      runRows(gpu, force, 'lnmod_backward', params(d), rowsOf(d), [x, mod, dY, dX, stats, res ?? gpu.dummy], { ADD_RES: res ? 1 : 0 });
      gpu.dispatch(layernormKernel, 'lnmod_backward_mod', params(d), [x, stats, dY, dMod], [Math.ceil((d.B * d.D) / 256)]);
      gpu.release(stats);
      return dX;
    },
  };
}
