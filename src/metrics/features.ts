// The feature space the quality metrics are computed in: pixels projected on the top K principal
// components of the data set's training images. Why this space (and not a classifier's): it needs
// no trained network, so it exists for any data the playground can load (procedural sets, a user's
// IDX or CIFAR files) and is the same in the browser and in Node; it is fitted once per data set,
// deterministically, so figures from different runs are comparable; and K = 32 components keep the
// 32 × 32 covariances well estimated from a few hundred samples (FD's bias grows with K / n).
// Unwhitened, so distances stay in pixel units (pixels in [−1, 1]) and the components that carry
// most of the data's variance (shape, brightness layout) weigh most, as they do to an eye.
//
// Dimensions: n images, D = C·H·W pixels, K components. The basis is (K, D), orthonormal rows.
// Features are (x − mean)·basisᵀ: one matmul on the GPU (src/ops/linear.ts) with the bias −basis·mean.

import type { Dataset } from '../data/dataset';
import { matmul } from '../ops/linear';
import { linearCpu } from '../ops/linear';
import type { Gpu } from '../gpu/runtime';
import { Rng } from '../util/rng';
import { eigSym, matmulF64 } from './linalg';

/** Principal components kept. */
export const FEATURE_COMPONENTS = 32;
/** Training images the PCA is fitted on (a seeded random subset when the set is larger). */
export const FIT_IMAGES = 2048;
/** The subset and the iteration's start are drawn from this seed: the space depends on the data only. */
export const FIT_SEED = 0x5eed;

export interface FeatureSpace {
  /** What it was fitted on (data set name and shape). */
  key: string;
  D: number;
  K: number;
  /** (D) pixel means of the fitting images. */
  mean: Float64Array;
  /** (K, D) orthonormal rows, by decreasing variance. */
  basis: Float64Array;
  /** (K) variance of the fitting images along each component. */
  variance: Float64Array;
}

export const spaceKey = (ds: Pick<Dataset, 'name' | 'C' | 'H' | 'W'>) => `${ds.name}:${ds.C}x${ds.H}x${ds.W}`;

/** The indices of `m` of `count` images: all of them in order when m ≥ count, else a seeded random subset in random order. */
export function subsetIndices(count: number, m: number, seed: number): Uint32Array {
  if (m >= count) return Uint32Array.from({ length: count }, (_, i) => i);
  const perm = Uint32Array.from({ length: count }, (_, i) => i);
  const rng = new Rng(seed);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(count - i);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm.slice(0, m);
}

/** Modified Gram–Schmidt on the columns of q (D, m), in place. */
function orthonormalise(q: Float64Array, D: number, m: number): void {
  for (let c = 0; c < m; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let i = 0; i < D; i++) dot += q[i * m + c] * q[i * m + p];
      for (let i = 0; i < D; i++) q[i * m + c] -= dot * q[i * m + p];
    }
    let norm = 0;
    for (let i = 0; i < D; i++) norm += q[i * m + c] ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 1e-300)) throw new Error('fitFeatureSpace: the data has fewer independent directions than components asked for');
    for (let i = 0; i < D; i++) q[i * m + c] /= norm;
  }
}


/**
 * Fits the top-K principal components of `ds`'s images (up to FIT_IMAGES of them, a seeded subset):
 * the f64 covariance, then subspace iteration with K + 16 vectors and a Rayleigh–Ritz step (Jacobi
 * on the small projected matrix). Deterministic: the same data gives the same basis, each vector's
 * sign fixed so its largest entry is positive.
 */
export function fitFeatureSpace(ds: Dataset, K = FEATURE_COMPONENTS, opts: { images?: number; iterations?: number } = {}): FeatureSpace {
  const D = ds.C * ds.H * ds.W;
  const idx = subsetIndices(ds.count, opts.images ?? FIT_IMAGES, FIT_SEED);
  const n = idx.length;
  if (n < 2) throw new Error(`fitFeatureSpace: '${ds.name}' has ${ds.count} image(s); the feature space needs at least 2`);
  if (!(Number.isInteger(K) && K >= 1 && K <= Math.min(D, n - 1))) {
    throw new Error(`fitFeatureSpace: ${K} components asked of '${ds.name}' (${D} pixels, ${n} images): between 1 and ${Math.min(D, n - 1)}`);
  }
  const mean = new Float64Array(D);
  for (const j of idx) for (let i = 0; i < D; i++) mean[i] += ds.images[j * D + i];
  for (let i = 0; i < D; i++) mean[i] /= n;
  // Covariance, upper triangle then mirrored.
  const cov = new Float64Array(D * D);
  const d = new Float64Array(D);
  for (const j of idx) {
    for (let i = 0; i < D; i++) d[i] = ds.images[j * D + i] - mean[i];
    for (let a = 0; a < D; a++) {
      const da = d[a];
      if (da === 0) continue;
      const row = a * D;
      for (let b = a; b < D; b++) cov[row + b] += da * d[b];
    }
  }
  for (let a = 0; a < D; a++)
    for (let b = a; b < D; b++) {
      const v = cov[a * D + b] / (n - 1);
      cov[a * D + b] = v;
      cov[b * D + a] = v;
    }
  // Subspace iteration on cov with m = K + 16 vectors (the extra ones speed convergence of the K-th).
  const m = Math.min(D, K + 16);
  let q: Float64Array = new Float64Array(D * m);
  const rng = new Rng(FIT_SEED);
  for (let i = 0; i < q.length; i++) q[i] = rng.normal();
  orthonormalise(q, D, m);
  for (let it = 0; it < (opts.iterations ?? 40); it++) {
    q = matmulF64(cov, q, D, D, m);
    orthonormalise(q, D, m);
  }
  // Rayleigh–Ritz: the eigenvectors of qᵀ·cov·q (m, m) rotate q onto the components.
  const cq = matmulF64(cov, q, D, D, m);
  const small = new Float64Array(m * m);
  for (let a = 0; a < m; a++)
    for (let b = a; b < m; b++) {
      let s = 0;
      for (let i = 0; i < D; i++) s += q[i * m + a] * cq[i * m + b];
      small[a * m + b] = s;
      small[b * m + a] = s;
    }
  const { values, vectors } = eigSym(small, m);
  const basis = new Float64Array(K * D);
  for (let k = 0; k < K; k++) {
    let big = 0;
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let a = 0; a < m; a++) s += q[i * m + a] * vectors[a * m + k];
      basis[k * D + i] = s;
      if (Math.abs(s) > Math.abs(big)) big = s;
    }
    if (big < 0) for (let i = 0; i < D; i++) basis[k * D + i] = -basis[k * D + i];
  }
  return { key: spaceKey(ds), D, K, mean, basis, variance: values.slice(0, K) };
}

/** −basis·mean (K): the bias that makes x·basisᵀ + bias = (x − mean)·basisᵀ. */
function centringBias(s: FeatureSpace): Float64Array {
  return linearCpu.forward(s.mean, s.basis, null, { rows: 1, inF: s.D, outF: s.K }).map((v) => -v);
}

/** The f64 reference: features (n, K) of `images` (n, D). */
export function featuresCpu(s: FeatureSpace, images: ArrayLike<number>, n: number): Float64Array {
  if (images.length !== n * s.D) throw new Error(`features: ${images.length} values for ${n} images of ${s.D} pixels (space ${s.key})`);
  return linearCpu.forward(Float64Array.from(images), s.basis, centringBias(s), { rows: n, inF: s.D, outF: s.K });
}

/** Rows per GPU launch: keeps each buffer far under a binding limit (4096 × 3072 pixels × 4 B = 48 MiB). */
const CHUNK = 4096;

/**
 * Features (n, K) of `images` (n, D) on the GPU: one matmul (n, D)·(K, D)ᵀ + bias per chunk of rows,
 * in f32, returned as f64 for the statistics.
 */
export async function featuresGpu(gpu: Gpu, s: FeatureSpace, images: Float32Array, n: number): Promise<Float64Array> {
  if (images.length !== n * s.D) throw new Error(`features: ${images.length} values for ${n} images of ${s.D} pixels (space ${s.key})`);
  const basis = gpu.upload(Float32Array.from(s.basis), [s.K, s.D], 'features.basis');
  const bias = gpu.upload(Float32Array.from(centringBias(s)), [s.K], 'features.bias');
  const out = new Float64Array(n * s.K);
  try {
    for (let r0 = 0; r0 < n; r0 += CHUNK) {
      const rows = Math.min(CHUNK, n - r0);
      const x = gpu.upload(images.subarray(r0 * s.D, (r0 + rows) * s.D), [rows, s.D], 'features.x');
      const y = gpu.alloc([rows, s.K], 'features.y');
      matmul(gpu, x, basis, y, rows, s.K, s.D, { transB: true, bias });
      const got = await gpu.read(y);
      gpu.release(x, y);
      out.set(got, r0 * s.K);
    }
  } finally {
    gpu.release(basis, bias);
  }
  return out;
}
