// Linear family: y = x·Wᵀ + b with PyTorch's [out, in] weights, its JVP (linear in x: the forward
// kernel on the tangent) and backward (dX = dY·W, dW += dYᵀ·x, db += colsum dY). One tiled matmul
// kernel with transpose overrides serves all three, as in tfjs's "matmul backward = matmul forward".

import code from '../../shaders/linear.wgsl?raw';
import { P, type Gpu, type KernelModule, type Tensor } from '../gpu/runtime';

/** x (rows, inF) · W (outF, inF)ᵀ + b (outF) → y (rows, outF). */
export interface LinearDims {
  rows: number;
  inF: number;
  outF: number;
}

export interface LinearOps<T> {
  forward(x: T, w: T, b: T | null, d: LinearDims): T;
  /** Tangent w.r.t. x only: parameters carry no tangent. */
  jvp(x: T, tx: T, w: T, b: T | null, d: LinearDims): [T, T];
  /** Returns dX (new); accumulates dW += dYᵀ·x and db += colsum(dY) where given. */
  backward(x: T, w: T, dy: T, d: LinearDims, dW: T | null, db: T | null): T;
}

// ------------------------------------------------------------------ f64 reference

function matmulRef(x: Float64Array, w: Float64Array, b: Float64Array | null, { rows, inF, outF }: LinearDims): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  return y;
}

export const linearCpu: LinearOps<Float64Array> = {
  forward: matmulRef,
  jvp: (x, tx, w, b, d) => [matmulRef(x, w, b, d), matmulRef(tx, w, null, d)],
  backward(x, w, dy, { rows, inF, outF }, dW, db) {
    const dx = new Float64Array(rows * inF);
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < outF; o++) {
        const g = dy[r * outF + o];
        if (db) db[o] += g;
        for (let i = 0; i < inF; i++) {
          dx[r * inF + i] += g * w[o * inF + i];
          if (dW) dW[o * inF + i] += g * x[r * inF + i];
        }
      }
    return dx;
  },
};

// ------------------------------------------------------------------ GPU

export const linearKernel: KernelModule<'matmul' | 'colsum'> = {
  name: 'linear',
  code,
  entries: {
    matmul: ['uniform', 'read', 'read', 'read', 'rw'],
    colsum: ['uniform', 'read', 'rw'],
  },
};

const BIAS = 1;
const ACC = 2;

/**
 * Records C (M, N) = op(A)·op(B) [+ bias] [+ C]. A is (M, K) or (K, M) with transA; B is (K, N)
 * or (N, K) with transB. `bias` is read only when given; `accumulate` adds into C's contents.
 */
export function matmul(
  gpu: Gpu,
  A: Tensor,
  B: Tensor,
  C: Tensor,
  M: number,
  N: number,
  K: number,
  opts: { transA?: boolean; transB?: boolean; bias?: Tensor | null; accumulate?: boolean } = {},
): void {
  if (A.size < M * K || B.size < K * N || C.size < M * N) throw new Error(`matmul: operands too small for (${M}×${K})·(${K}×${N})`);
  const flags = (opts.bias ? BIAS : 0) | (opts.accumulate ? ACC : 0);
  gpu.dispatch(
    linearKernel,
    'matmul',
    P().u(M, N, K, flags),
    [A, B, opts.bias ?? gpu.dummy, C],
    [Math.ceil(N / 64), Math.ceil(M / 64)],
    { TRANS_A: opts.transA ? 1 : 0, TRANS_B: opts.transB ? 1 : 0 },
  );
}

/** out (N) (+)= Σ_m X (M, N). */
export function colsum(gpu: Gpu, X: Tensor, out: Tensor, M: number, N: number, accumulate: boolean): void {
  gpu.dispatch(linearKernel, 'colsum', P().u(M, N, 0, accumulate ? ACC : 0), [X, out], [Math.ceil(N / 64)]);
}

export function linearGpu(gpu: Gpu): LinearOps<Tensor> {
  const fwd = (x: Tensor, w: Tensor, b: Tensor | null, { rows, inF, outF }: LinearDims, label: string) => {
    const y = gpu.alloc([rows, outF], label);
    matmul(gpu, x, w, y, rows, outF, inF, { transB: true, bias: b });
    return y;
  };
  return {
    forward: (x, w, b, d) => fwd(x, w, b, d, 'linear.y'),
    jvp: (x, tx, w, b, d) => [fwd(x, w, b, d, 'linear.y'), fwd(tx, w, null, d, 'linear.tY')],
    backward(x, w, dy, { rows, inF, outF }, dW, db) {
      const dx = gpu.alloc([rows, inF], 'linear.dX');
      matmul(gpu, dy, w, dx, rows, inF, outF);
      if (dW) matmul(gpu, dy, x, dW, outF, inF, rows, { transA: true, accumulate: true });
      if (db) colsum(gpu, dy, db, rows, outF, true);
      return dx;
    },
  };
}
