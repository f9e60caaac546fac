// A start-up smoke check: one real kernel (the tiled matmul of the linear family) on a small input
// whose shape is not a multiple of the 64×64 tile, against a plain-loop f64 reference.

import type { Gpu } from '../../gpu/runtime';
import { matmul } from '../../ops/linear';

export interface SmokeResult {
  ok: boolean;
  maxDiff: number;
  /** M, N, K of the product checked. */
  dims: [number, number, number];
  ms: number;
}

const TOL = 1e-4;

/** Deterministic inputs in [-1, 1): no RNG, so a failure reproduces exactly. */
function pattern(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (((i * 37 + seed * 101) % 97) / 97) * 2 - 1;
  return a;
}

/** C (M, N) = A (M, K) · B (K, N), plain loops in f64. */
export function matmulRef(A: ArrayLike<number>, B: ArrayLike<number>, M: number, N: number, K: number): Float64Array {
  const C = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[m * K + k] * B[k * N + n];
      C[m * N + n] = s;
    }
  return C;
}

export async function runMatmulSmoke(gpu: Gpu, M = 37, N = 70, K = 19): Promise<SmokeResult> {
  const t0 = performance.now();
  const a = pattern(M * K, 1);
  const b = pattern(K * N, 2);
  const A = gpu.upload(a, [M, K], 'smoke.A');
  const B = gpu.upload(b, [K, N], 'smoke.B');
  const C = gpu.alloc([M, N], 'smoke.C');
  matmul(gpu, A, B, C, M, N, K);
  const got = await gpu.read(C);
  gpu.release(A, B, C);
  const want = matmulRef(a, b, M, N, K);
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
  return { ok: Number.isFinite(maxDiff) && maxDiff < TOL, maxDiff, dims: [M, N, K], ms: performance.now() - t0 };
}

export function describeSmoke(r: SmokeResult): string {
  const [M, N, K] = r.dims;
  return `matmul ${r.ok ? 'OK' : 'FAILED'} (max diff ${r.maxDiff.toExponential(2)}, ${M}×${K}·${K}×${N}, ${r.ms.toFixed(0)} ms)`;
}
