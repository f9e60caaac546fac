// LayerNorm family (no affine parameters, eps 1e-6, biased variance as in PyTorch): y = (x − μ)·ρ
// over the last dimension. Its Jacobian is symmetric, so jvp (on tX) and backward (on dY) apply the
// same local derivative ρ·(g − mean(g) − x̂·mean(g·x̂)); statistics are recomputed from x each time.

import code from '../../shaders/layernorm.wgsl?raw';
import { P, type Gpu, type KernelModule, type Tensor } from '../gpu/runtime';

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

// ------------------------------------------------------------------ GPU

export const layernormKernel: KernelModule<'forward' | 'jvp' | 'backward'> = {
  name: 'layernorm',
  code,
  entries: {
    forward: ['uniform', 'read', 'rw'],
    jvp: ['uniform', 'read', 'read', 'rw', 'rw'],
    backward: ['uniform', 'read', 'read', 'rw'],
  },
};

const MAX_GRID = 65535;

/** One workgroup per row; rows beyond the per-dimension limit spill into grid y. */
const rowGrid = (rows: number): [number, number] => [Math.min(rows, MAX_GRID), Math.ceil(rows / MAX_GRID)];

export function layernormGpu(gpu: Gpu): LayerNormOps<Tensor> {
  const params = ({ rows, D }: RowDims) => P().u(rows, D).f(LN_EPS);
  return {
    forward(x, d) {
      const y = gpu.alloc([d.rows, d.D], 'layernorm.y');
      gpu.dispatch(layernormKernel, 'forward', params(d), [x, y], rowGrid(d.rows));
      return y;
    },
    jvp(x, tX, d) {
      const y = gpu.alloc([d.rows, d.D], 'layernorm.y');
      const tY = gpu.alloc([d.rows, d.D], 'layernorm.tY');
      gpu.dispatch(layernormKernel, 'jvp', params(d), [x, tX, y, tY], rowGrid(d.rows));
      return [y, tY];
    },
    backward(x, dY, d) {
      const dX = gpu.alloc([d.rows, d.D], 'layernorm.dX');
      gpu.dispatch(layernormKernel, 'backward', params(d), [x, dY, dX], rowGrid(d.rows));
      return dX;
    },
  };
}
