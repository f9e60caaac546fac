// Linear family: y = x·Wᵀ + b with PyTorch's [out, in] weights, its JVP (linear in x: the forward
// kernel on the tangent) and backward (dX = dY·W, dW += dYᵀ·x, db += colsum dY). One matmul with
// transpose overrides serves all three, as in tfjs's "matmul backward = matmul forward"; it has
// kernel variants (workgroup tiles of 64² or 32², or registers only) that `chooseMatmul` picks per
// shape and adapter.

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

export const linearKernel: KernelModule<'matmul' | 'matmul_reg' | 'colsum'> = {
  name: 'linear',
  code,
  entries: {
    matmul: ['uniform', 'read', 'read', 'read', 'rw'],
    matmul_reg: ['uniform', 'read', 'read', 'read', 'rw'],
    colsum: ['uniform', 'read', 'rw'],
  },
};

const BIAS = 1;
const ACC = 2;
const MAX_GRID = 65535;

/**
 * The matmul kernels (shaders/linear.wgsl): `tile` with a (4·tt)² tile of C per workgroup of tt²
 * threads through workgroup memory, or `reg`: one thread per 4×4 block of C straight from storage
 * (vec4 loads, no workgroup memory, no barrier) in workgroups of `wg` threads.
 */
export type MatmulVariant = { kind: 'tile'; tt: 16 | 8 } | { kind: 'reg'; wg: number };

export interface MatmulOpts {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor | null;
  accumulate?: boolean;
  /** Force a kernel (tests and the bench); by default `chooseMatmul` picks one. */
  variant?: MatmulVariant;
}

/** Can `reg` serve this shape? Its vec4-indexed dimensions must be multiples of 4. */
export function regFits(M: number, N: number, K: number, transA: boolean, transB: boolean): boolean {
  if (transA && transB) return false;
  if (transB) return K % 4 === 0;
  if (transA) return M % 4 === 0 && N % 4 === 0;
  return K % 4 === 0 && N % 4 === 0;
}

/** Workgroup size for `reg`: 64 threads, halved (to 16) until there are ≥ 8 workgroups to spread over cores. */
function regWorkgroup(M: number, N: number): number {
  const threads = Math.ceil(M / 4) * Math.ceil(N / 4);
  let wg = 64;
  while (wg > 16 && Math.ceil(threads / wg) < 8) wg /= 2;
  return wg;
}

/**
 * Per shape and adapter. On a CPU-like adapter (SwiftShader) the register kernel wins on every
 * shape it fits (measured with `npm run bench`: barriers and workgroup memory cost more than they
 * save there). On a GPU the 64×64 tile for shapes with enough 64×64 tiles to fill it, the register
 * kernel for thin ones (few rows or columns, e.g. a dW of a small layer), the 32×32 tile otherwise.
 */
export function chooseMatmul(gpu: Gpu, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulVariant {
  const reg = regFits(M, N, K, transA, transB);
  if (gpu.cpuLike) return reg ? { kind: 'reg', wg: regWorkgroup(M, N) } : { kind: 'tile', tt: M <= 32 || N <= 32 ? 8 : 16 };
  if (M >= 64 && N >= 64 && Math.ceil(M / 64) * Math.ceil(N / 64) >= 16) return { kind: 'tile', tt: 16 };
  if (reg && (M <= 32 || N <= 32)) return { kind: 'reg', wg: regWorkgroup(M, N) };
  return { kind: 'tile', tt: 8 };
}

/**
 * Records C (M, N) = op(A)·op(B) [+ bias] [+ C]. A is (M, K) or (K, M) with transA; B is (K, N)
 * or (N, K) with transB. `bias` is read only when given; `accumulate` adds into C's contents.
 */
export function matmul(gpu: Gpu, A: Tensor, B: Tensor, C: Tensor, M: number, N: number, K: number, opts: MatmulOpts = {}): void {
  if (A.size < M * K || B.size < K * N || C.size < M * N) throw new Error(`matmul: operands too small for (${M}×${K})·(${K}×${N})`);
  const transA = !!opts.transA;
  const transB = !!opts.transB;
  const flags = (opts.bias ? BIAS : 0) | (opts.accumulate ? ACC : 0);
  const v = opts.variant ?? chooseMatmul(gpu, M, N, K, transA, transB);
  const params = P().u(M, N, K, flags);
  const bindings = [A, B, opts.bias ?? gpu.dummy, C];
  const trans = { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 };
  if (v.kind === 'reg') {
    if (!regFits(M, N, K, transA, transB)) throw new Error(`matmul: the register kernel does not fit ${M}×${N}×${K}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''}`);
    const groups = Math.ceil((Math.ceil(M / 4) * Math.ceil(N / 4)) / v.wg);
    gpu.dispatch(linearKernel, 'matmul_reg', params, bindings, [Math.min(groups, MAX_GRID), Math.ceil(groups / MAX_GRID)], { ...trans, RWG: v.wg });
  } else {
    const tile = 4 * v.tt;
    gpu.dispatch(linearKernel, 'matmul', params, bindings, [Math.ceil(N / tile), Math.ceil(M / tile)], { ...trans, TT: v.tt });
  }
}

/** out (N) (+)= Σ_m X (M, N). */
export function colsum(gpu: Gpu, X: Tensor, out: Tensor, M: number, N: number, accumulate: boolean): void {
  gpu.dispatch(linearKernel, 'colsum', P().u(M, N, 0, accumulate ? ACC : 0), [X, out], [Math.ceil(N / 64)]);
}

/**
 * `force` pins one kernel (tests): every matmul uses it where it fits, chooseMatmul's pick otherwise.
 */
export function linearGpu(gpu: Gpu, force?: MatmulVariant): LinearOps<Tensor> {
  const mm = (A: Tensor, B: Tensor, C: Tensor, M: number, N: number, K: number, o: MatmulOpts) => {
    const fits = force && (force.kind === 'tile' || regFits(M, N, K, !!o.transA, !!o.transB));
    matmul(gpu, A, B, C, M, N, K, fits ? { ...o, variant: force } : o);
  };
  const fwd = (x: Tensor, w: Tensor, b: Tensor | null, { rows, inF, outF }: LinearDims, label: string) => {
    const y = gpu.alloc([rows, outF], label);
    mm(x, w, y, rows, outF, inF, { transB: true, bias: b });
    return y;
  };
  return {
    forward: (x, w, b, d) => fwd(x, w, b, d, 'linear.y'),
    jvp: (x, tx, w, b, d) => [fwd(x, w, b, d, 'linear.y'), fwd(tx, w, null, d, 'linear.tY')],
    backward(x, w, dy, { rows, inF, outF }, dW, db) {
      const dx = gpu.alloc([rows, inF], 'linear.dX');
      mm(dy, w, dx, rows, inF, outF, {});
      if (dW) mm(dy, x, dW, outF, inF, rows, { transA: true, accumulate: true });
      if (db) colsum(gpu, dy, db, rows, outF, true);
      return dx;
    },
  };
}
