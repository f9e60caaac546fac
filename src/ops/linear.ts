// Linear family: y = x·Wᵀ + b with PyTorch's [out, in] weights, its JVP (linear in x: the forward
// kernel on the tangent) and backward (dX = dY·W, dW += dYᵀ·x, db += colsum dY). One matmul with
// transpose overrides serves all three, as in tfjs's "matmul backward = matmul forward"; it has
// kernel variants (workgroup tiles of 64² or 32², or registers only) that `chooseMatmul` picks per
// shape and adapter.
//
// linearGelu (y = gelu(x·Wᵀ + b), the DiT's fc1 + GELU) runs GELU in the matmul's epilogue: the
// forward writes the pre-activation (kept for jvp/backward) and the activation in one launch, the
// JVP tangent is tX·Wᵀ ⊙ gelu'(pre) in one launch, and linear.backward's `geluPre` gives the next
// layer's dX already multiplied by gelu'(pre) (fc2's backward hands fc1 its pre-activation cotangent).

import linearCode from '../../shaders/linear.wgsl?raw';
import geluCode from '../../shaders/gelu.wgsl?raw';
import type { Gpu, KernelModule, Tensor } from '../gpu/runtime';
import { geluCpu, geluGpu, geluGrad } from './elementwise';

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
  /**
   * Returns dX (new); accumulates dW += dYᵀ·x and db += colsum(dY) where given. With `geluPre`
   * (x = gelu(geluPre), e.g. fc2 after fc1's GELU) it returns dX ⊙ gelu'(geluPre) instead: the
   * cotangent of the pre-activation, in the same launch. With `dxInto` (rows, inF) it adds dX into
   * that tensor and returns it (no geluPre then): a sum of two layers' dX without an add kernel.
   */
  backward(x: T, w: T, dy: T, d: LinearDims, dW: T | null, db: T | null, geluPre?: T | null, dxInto?: T | null): T;
}

/** y = gelu(x·Wᵀ + b) with the pre-activation kept: the fc1 + GELU of the DiT's MLP. */
export interface LinearGeluOps<T> {
  /** [pre, y]: pre = x·Wᵀ + b (for jvp/backward), y = gelu(pre). */
  forward(x: T, w: T, b: T | null, d: LinearDims): [T, T];
  /** [pre, y, tY]: tY = gelu'(pre) ⊙ (tX·Wᵀ) (parameters carry no tangent). */
  jvp(x: T, tx: T, w: T, b: T | null, d: LinearDims): [T, T, T];
  /** Returns dX (new) from dY (the cotangent of y) and pre; accumulates dW, db as linear does. */
  backward(x: T, w: T, pre: T, dy: T, d: LinearDims, dW: T | null, db: T | null): T;
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
  backward(x, w, dy, { rows, inF, outF }, dW, db, geluPre, dxInto) {
    if (geluPre && dxInto) throw new Error('linear.backward: dxInto takes no geluPre');
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
    if (geluPre) for (let i = 0; i < rows * inF; i++) dx[i] *= geluGrad(geluPre[i]);
    if (dxInto) {
      for (let i = 0; i < rows * inF; i++) dxInto[i] += dx[i];
      return dxInto;
    }
    return dx;
  },
};

/** The reference: linear then GELU, composed from the two tested references. */
export const linearGeluCpu: LinearGeluOps<Float64Array> = {
  forward(x, w, b, d) {
    const pre = linearCpu.forward(x, w, b, d);
    return [pre, geluCpu.forward(pre, d.rows * d.outF)];
  },
  jvp(x, tx, w, b, d) {
    const [pre, tPre] = linearCpu.jvp(x, tx, w, b, d);
    const [y, tY] = geluCpu.jvp(pre, tPre, d.rows * d.outF);
    return [pre, y, tY];
  },
  backward: (x, w, pre, dy, d, dW, db) => linearCpu.backward(x, w, geluCpu.backward(pre, dy, d.rows * d.outF), d, dW, db),
};

// ------------------------------------------------------------------ GPU

export const linearKernel: KernelModule<'matmul' | 'matmul_reg' | 'matmul_reg8' | 'matmul_el' | 'colsum'> = {
  name: 'linear',
  code: `${geluCode}\n${linearCode}`,
  entries: {
    matmul: ['dims', 'A', 'B', 'bias', 'C', 'Aux'],
    matmul_reg: ['dims', 'A4', 'B4', 'bias', 'C', 'Aux'],
    matmul_reg8: ['dims', 'A4', 'B4', 'bias', 'C', 'Aux'],
    matmul_el: ['dims', 'A', 'B', 'bias', 'C', 'Aux'],
    colsum: ['dims', 'X', 'colOut'],
  },
};

const BIAS = 1;
const ACC = 2;
const MAX_GRID = 65535;
const EL_WG = 64;

/**
 * The matmul kernels (shaders/linear.wgsl): `tile` with a (4·tt)² tile of C per workgroup of tt²
 * threads through workgroup memory, or `reg`: one thread per 4×4 block of C straight from storage
 * (vec4 loads, no workgroup memory, no barrier) in workgroups of `wg` threads; `reg8`: the same with
 * an 8×8 block per thread (twice the multiply-adds per load); or `el`: one thread per element of C,
 * a plain loop over K (any shape; for the thinnest ones, e.g. K or N = 2).
 */
export type MatmulVariant = { kind: 'tile'; tt: 16 | 8 } | { kind: 'reg'; wg: number } | { kind: 'reg8'; wg: number } | { kind: 'el' };

export interface MatmulOpts {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor | null;
  accumulate?: boolean;
  /**
   * Epilogue (shaders/linear.wgsl EPI): 'gelu' also writes gelu(C) into `aux`; 'geluGrad'
   * multiplies C by gelu'(aux) (no bias, no accumulate), `aux` (M, N); 'biasGrad' adds op(A)'s row
   * sums into `aux` (M): a dW matmul's db += colsum(dY) in the same launch.
   */
  epilogue?: { kind: 'gelu' | 'geluGrad' | 'biasGrad'; aux: Tensor };
  /** Force a kernel (tests and the bench); by default `chooseMatmul` picks one. */
  variant?: MatmulVariant;
}

/** A variant's short name: tile64, tile32, reg16, reg32, reg64, reg8w16, reg8w64, el. */
export const variantKey = (v: MatmulVariant): string => (v.kind === 'tile' ? `tile${4 * v.tt}` : v.kind === 'reg' ? `reg${v.wg}` : v.kind === 'reg8' ? `reg8w${v.wg}` : 'el');

/** Thin enough for the one-thread-per-element kernel: a dimension under 8 (the 2-D mode's K or N of 2). */
export const elFits = (M: number, N: number, K: number): boolean => Math.min(M, N, K) < 8;

/** Can `reg` serve this shape? Its vec4-indexed dimensions must be multiples of 4. */
export function regFits(M: number, N: number, K: number, transA: boolean, transB: boolean): boolean {
  if (transA && transB) return false;
  if (transB) return K % 4 === 0;
  if (transA) return M % 4 === 0 && N % 4 === 0;
  return K % 4 === 0 && N % 4 === 0;
}

/** Workgroup size for `reg` (block 4) or `reg8` (block 8): 64 threads, halved (to 16) until there are ≥ 8 workgroups to spread over cores. */
function regWorkgroup(M: number, N: number, block = 4): number {
  const threads = Math.ceil(M / block) * Math.ceil(N / block);
  let wg = 64;
  while (wg > 16 && Math.ceil(threads / wg) < 8) wg /= 2;
  return wg;
}

/** Per-Gpu matmul choices from autotuning (src/ops/tune.ts), by matShapeKey. */
const matmulChoices = new WeakMap<Gpu, Map<string, MatmulVariant>>();

export function setMatmulChoices(gpu: Gpu, choices: Map<string, MatmulVariant>): void {
  matmulChoices.set(gpu, choices);
}

/** Whether chooseMatmul's pick for this shape comes from autotuning. */
export function isTunedShape(gpu: Gpu, M: number, N: number, K: number, transA: boolean, transB: boolean): boolean {
  return matmulChoices.get(gpu)?.has(matShapeKey(M, N, K, transA, transB)) ?? false;
}

/** A matmul shape for people (profile labels, the tuning table, errors): M×N×K with Aᵀ / Bᵀ where transposed. */
export const matShapeLabel = (M: number, N: number, K: number, transA: boolean, transB: boolean): string => `${M}×${N}×${K}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''}`;

export const matShapeKey = (M: number, N: number, K: number, transA: boolean, transB: boolean): string => `${M}x${N}x${K}${transA ? 'At' : ''}${transB ? 'Bt' : ''}`;

/**
 * Per shape and adapter: the autotuned choice where there is one (src/ops/tune.ts), else a rule.
 * On a CPU-like adapter (SwiftShader) the register kernel wins on every
 * shape it fits (measured with `npm run bench`: barriers and workgroup memory cost more than they
 * save there), and the per-element kernel on the thin shapes it does not (the 2-D mode's K or N of
 * 2: a 64×64 tile spent 30× the time of the per-element kernel on 128×64×2). On a GPU the 64×64 tile for shapes with enough 64×64 tiles to fill it, the register
 * kernel for thin ones (few rows or columns, e.g. a dW of a small layer), the 32×32 tile otherwise.
 */
export function chooseMatmul(gpu: Gpu, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulVariant {
  const tuned = matmulChoices.get(gpu)?.get(matShapeKey(M, N, K, transA, transB));
  if (tuned && ((tuned.kind !== 'reg' && tuned.kind !== 'reg8') || regFits(M, N, K, transA, transB))) return tuned;
  return ruleOfThumb(gpu, M, N, K, transA, transB);
}

/** The untuned rule (see chooseMatmul). */
export function ruleOfThumb(gpu: Gpu, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulVariant {
  const reg = regFits(M, N, K, transA, transB);
  if (!reg && elFits(M, N, K)) return { kind: 'el' };
  if (gpu.cpuLike) {
    if (!reg) return { kind: 'tile', tt: M <= 32 || N <= 32 ? 8 : 16 };
    return M >= 8 && N >= 8 ? { kind: 'reg8', wg: regWorkgroup(M, N, 8) } : { kind: 'reg', wg: regWorkgroup(M, N) };
  }
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
  const epi = opts.epilogue;
  if (epi && epi.aux.size < (epi.kind === 'biasGrad' ? M : M * N)) throw new Error(`matmul: the ${epi.kind} epilogue's tensor is smaller than ${epi.kind === 'biasGrad' ? M : `${M}×${N}`}`);
  if (epi?.kind === 'geluGrad' && flags) throw new Error('matmul: the geluGrad epilogue takes no bias and no accumulate');
  const v = opts.variant ?? chooseMatmul(gpu, M, N, K, transA, transB);
  const params = { M, N, K, flags };
  const bindings = [A, B, opts.bias ?? gpu.dummy, C, epi?.aux ?? auxDummy(gpu)];
  const trans = { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0, EPI: epi ? EPILOGUES[epi.kind] : 0 };
  // In a profile, each matmul is labelled with its variant and shape (the profile panel and bench --profile show them).
  const detail = gpu.profilingOn ? `${variantKey(v)} ${matShapeLabel(M, N, K, transA, transB)}` : undefined;
  if (v.kind === 'reg' || v.kind === 'reg8') {
    if (!regFits(M, N, K, transA, transB)) throw new Error(`matmul: the register kernel does not fit ${matShapeLabel(M, N, K, transA, transB)}`);
    const block = v.kind === 'reg' ? 4 : 8;
    const groups = Math.ceil((Math.ceil(M / block) * Math.ceil(N / block)) / v.wg);
    gpu.dispatch(linearKernel, v.kind === 'reg' ? 'matmul_reg' : 'matmul_reg8', params, bindings, [Math.min(groups, MAX_GRID), Math.ceil(groups / MAX_GRID)], { ...trans, RWG: v.wg }, detail);
  } else if (v.kind === 'el') {
    const groups = Math.ceil((M * N) / EL_WG);
    gpu.dispatch(linearKernel, 'matmul_el', params, bindings, [Math.min(groups, MAX_GRID), Math.ceil(groups / MAX_GRID)], { ...trans, RWG: EL_WG }, detail);
  } else {
    const tile = 4 * v.tt;
    gpu.dispatch(linearKernel, 'matmul', params, bindings, [Math.ceil(N / tile), Math.ceil(M / tile)], { ...trans, TT: v.tt }, detail);
  }
}

const EPILOGUES = { gelu: 1, geluGrad: 2, biasGrad: 3 } as const;

const auxDummies = new WeakMap<Gpu, Tensor>();
/** Bound as Aux when there is no epilogue: its own buffer (gpu.dummy may be bound read-only as the bias, and a buffer bound writable may not alias another binding). */
function auxDummy(gpu: Gpu): Tensor {
  let t = auxDummies.get(gpu);
  if (!t) auxDummies.set(gpu, (t = gpu.view(gpu.persistent(64, 'linear.aux-dummy'), 0, [64])));
  return t;
}

/** out (N) (+)= Σ_m X (M, N). */
export function colsum(gpu: Gpu, X: Tensor, out: Tensor, M: number, N: number, accumulate: boolean): void {
  gpu.dispatch(linearKernel, 'colsum', { M, N, K: 0, flags: accumulate ? ACC : 0 }, [X, out], [Math.ceil(N / 64)]);
}

/**
 * `force` pins one kernel (tests): every matmul uses it where it fits, chooseMatmul's pick otherwise.
 */
export function linearGpu(gpu: Gpu, force?: MatmulVariant): LinearOps<Tensor> {
  const mm = (A: Tensor, B: Tensor, C: Tensor, M: number, N: number, K: number, o: MatmulOpts) => {
    const fits = force && ((force.kind !== 'reg' && force.kind !== 'reg8') || regFits(M, N, K, !!o.transA, !!o.transB));
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
    backward(x, w, dy, { rows, inF, outF }, dW, db, geluPre, dxInto) {
      if (geluPre && dxInto) throw new Error('linear.backward: dxInto takes no geluPre');
      if (dxInto && dxInto.size !== rows * inF) throw new Error(`linear.backward: dxInto has ${dxInto.size} elements, dX ${rows}×${inF}`);
      const dx = dxInto ?? gpu.alloc([rows, inF], 'linear.dX');
      mm(dy, w, dx, rows, inF, outF, geluPre ? { epilogue: { kind: 'geluGrad', aux: geluPre } } : { accumulate: !!dxInto });
      // db += colsum(dY) rides on the dW matmul (its rows of dYᵀ summed); alone, a colsum.
      if (dW) mm(dy, x, dW, outF, inF, rows, { transA: true, accumulate: true, ...(db && { epilogue: { kind: 'biasGrad', aux: db } }) });
      else if (db) colsum(gpu, dy, db, rows, outF, true);
      return dx;
    },
  };
}

/** linearGelu on the GPU; `force` pins the matmul kernel as for linearGpu. */
export function linearGeluGpu(gpu: Gpu, force?: MatmulVariant): LinearGeluOps<Tensor> {
  const mm = (A: Tensor, B: Tensor, C: Tensor, M: number, N: number, K: number, o: MatmulOpts) => {
    const fits = force && ((force.kind !== 'reg' && force.kind !== 'reg8') || regFits(M, N, K, !!o.transA, !!o.transB));
    matmul(gpu, A, B, C, M, N, K, fits ? { ...o, variant: force } : o);
  };
  const lin = linearGpu(gpu, force);
  const gelu = geluGpu(gpu);
  const fwd = (x: Tensor, w: Tensor, b: Tensor | null, { rows, inF, outF }: LinearDims): [Tensor, Tensor] => {
    const pre = gpu.alloc([rows, outF], 'linearGelu.pre');
    const y = gpu.alloc([rows, outF], 'linearGelu.y');
    mm(x, w, pre, rows, outF, inF, { transB: true, bias: b, epilogue: { kind: 'gelu', aux: y } });
    return [pre, y];
  };
  return {
    forward: fwd,
    jvp(x, tx, w, b, d) {
      const [pre, y] = fwd(x, w, b, d);
      const tY = gpu.alloc([d.rows, d.outF], 'linearGelu.tY');
      mm(tx, w, tY, d.rows, d.outF, d.inF, { transB: true, epilogue: { kind: 'geluGrad', aux: pre } });
      return [pre, y, tY];
    },
    backward(x, w, pre, dy, d, dW, db) {
      const dPre = gelu.backward(pre, dy, d.rows * d.outF);
      const dx = lin.backward(x, w, dPre, d, dW, db);
      gpu.release(dPre);
      return dx;
    },
  };
}
