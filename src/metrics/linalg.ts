// The f64 linear algebra behind the Fréchet distance: mean and covariance of feature rows, a
// symmetric eigen-decomposition (cyclic Jacobi: slow for large n, but unconditionally stable and
// accurate to rounding, which is what a metric needs; our matrices are k × k with k ≤ 64), the
// square root of a symmetric positive semi-definite matrix, and FD itself.
//
// Dimensions: n rows (images), k features. Matrices are row-major Float64Array.

/** Column means (k) and unbiased covariance (k × k, divided by n − 1, as numpy.cov) of `x` (n, k). */
export function meanCov(x: Float64Array, n: number, k: number): { mu: Float64Array; sigma: Float64Array } {
  if (n < 2 || x.length !== n * k) throw new Error(`meanCov: need ≥ 2 rows of ${k} features, got ${x.length} values for ${n} rows`);
  const mu = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let a = 0; a < k; a++) mu[a] += x[i * k + a];
  for (let a = 0; a < k; a++) mu[a] /= n;
  const sigma = new Float64Array(k * k);
  const d = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < k; a++) d[a] = x[i * k + a] - mu[a];
    for (let a = 0; a < k; a++) {
      const da = d[a];
      for (let b = a; b < k; b++) sigma[a * k + b] += da * d[b];
    }
  }
  for (let a = 0; a < k; a++)
    for (let b = a; b < k; b++) {
      const v = sigma[a * k + b] / (n - 1);
      sigma[a * k + b] = v;
      sigma[b * k + a] = v;
    }
  return { mu, sigma };
}

/**
 * Eigen-decomposition of a symmetric n × n matrix by cyclic Jacobi rotations: A = V·diag(values)·Vᵀ,
 * V orthogonal (its columns are the eigenvectors), values sorted descending. `a` is not modified;
 * an asymmetric input is refused (the caller has the wrong matrix).
 */
export function eigSym(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== n * n) throw new Error(`eigSym: ${a.length} values for a ${n} × ${n} matrix`);
  let scale = 0;
  for (let i = 0; i < n * n; i++) {
    if (!Number.isFinite(a[i])) throw new Error(`eigSym: non-finite entry ${a[i]} at (${Math.floor(i / n)}, ${i % n})`);
    scale = Math.max(scale, Math.abs(a[i]));
  }
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++)
      if (Math.abs(a[i * n + j] - a[j * n + i]) > 1e-9 * (scale || 1)) throw new Error(`eigSym: the matrix is not symmetric at (${i}, ${j}): ${a[i * n + j]} vs ${a[j * n + i]}`);
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] ** 2;
    if (off <= 1e-30 * scale * scale) break; // off-diagonal norm ≤ 1e-15 of the largest entry
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        // The rotation that zeroes (p, q): t = tan θ, the smaller root of t² + 2τt − 1 = 0 (stable form).
        const tau = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          // columns p, q of M·J
          const mrp = m[r * n + p];
          const mrq = m[r * n + q];
          m[r * n + p] = c * mrp - s * mrq;
          m[r * n + q] = s * mrp + c * mrq;
        }
        for (let r = 0; r < n; r++) {
          // rows p, q of Jᵀ·M
          const mpr = m[p * n + r];
          const mqr = m[q * n + r];
          m[p * n + r] = c * mpr - s * mqr;
          m[q * n + r] = s * mpr + c * mqr;
        }
        m[p * n + q] = 0;
        m[q * n + p] = 0;
        for (let r = 0; r < n; r++) {
          const vrp = v[r * n + p];
          const vrq = v[r * n + q];
          v[r * n + p] = c * vrp - s * vrq;
          v[r * n + q] = s * vrp + c * vrq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j] - m[i * n + i]);
  const values = Float64Array.from(order, (i) => m[i * n + i]);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) vectors[r * n + c] = v[r * n + order[c]];
  return { values, vectors };
}

/** V·diag(f(λ))·Vᵀ for a symmetric matrix A = V·diag(λ)·Vᵀ. */
function spectralMap(a: Float64Array, n: number, f: (x: number) => number): Float64Array {
  const { values, vectors } = eigSym(a, n);
  const out = new Float64Array(n * n);
  for (let e = 0; e < n; e++) {
    const fe = f(values[e]);
    if (fe === 0) continue;
    for (let i = 0; i < n; i++) {
      const vi = vectors[i * n + e] * fe;
      for (let j = 0; j < n; j++) out[i * n + j] += vi * vectors[j * n + e];
    }
  }
  return out;
}

/**
 * The symmetric square root of a symmetric positive semi-definite matrix. Eigenvalues that rounding
 * made slightly negative are taken as 0 (a covariance of fewer rows than features is singular).
 */
export function sqrtmPsd(a: Float64Array, n: number): Float64Array {
  return spectralMap(a, n, (x) => Math.sqrt(Math.max(0, x)));
}

/** C (n, m) = A (n, k) · B (k, m), row-major, in f64 (zeros in A skipped: covariances of flat images have many). */
export function matmulF64(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let l = 0; l < k; l++) {
      const ail = a[i * k + l];
      if (ail === 0) continue;
      for (let j = 0; j < m; j++) c[i * m + j] += ail * b[l * m + j];
    }
  return c;
}

/** C = A·B for n × n matrices. */
export const matmulSquare = (a: Float64Array, b: Float64Array, n: number): Float64Array => matmulF64(a, b, n, n, n);

/**
 * tr((Σ1·Σ2)^{1/2}) computed as tr((S·Σ2·S)^{1/2}) with S = Σ1^{1/2}: S·Σ2·S is symmetric PSD and
 * similar to Σ1·Σ2, so the two traces agree, and only symmetric decompositions are needed (no
 * complex parts from rounding, unlike scipy's general sqrtm).
 */
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, k: number): number {
  const s = sqrtmPsd(s1, k);
  const m = matmulSquare(matmulSquare(s, s2, k), s, k);
  // Symmetrise away the rounding of the two products.
  for (let i = 0; i < k; i++)
    for (let j = i + 1; j < k; j++) {
      const v = 0.5 * (m[i * k + j] + m[j * k + i]);
      m[i * k + j] = v;
      m[j * k + i] = v;
    }
  const { values } = eigSym(m, k);
  let tr = 0;
  for (const x of values) tr += Math.sqrt(Math.max(0, x));
  return tr;
}

export interface Gaussian {
  mu: Float64Array;
  sigma: Float64Array;
}

/**
 * Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2) (the squared 2-Wasserstein distance, as FID
 * reports it): |μ1 − μ2|² + tr Σ1 + tr Σ2 − 2·tr((Σ1·Σ2)^{1/2}). Never negative (rounding is clipped).
 */
export function frechetDistance(a: Gaussian, b: Gaussian): number {
  const k = a.mu.length;
  if (b.mu.length !== k || a.sigma.length !== k * k || b.sigma.length !== k * k) {
    throw new Error(`frechetDistance: the two Gaussians have different dimensions (${a.mu.length} and ${b.mu.length})`);
  }
  let d2 = 0;
  let tr = 0;
  for (let i = 0; i < k; i++) {
    d2 += (a.mu[i] - b.mu[i]) ** 2;
    tr += a.sigma[i * k + i] + b.sigma[i * k + i];
  }
  const fd = d2 + tr - 2 * traceSqrtProduct(a.sigma, b.sigma, k);
  return Math.max(0, fd);
}
