import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eigSym, frechetDistance, matmulSquare, meanCov, sqrtmPsd, traceSqrtProduct } from '../../src/metrics/linalg';
import { expectClose } from '../helpers/close';
import { Rng } from '../../src/util/rng';

/** A random symmetric positive-definite n × n matrix: A·Aᵀ + eps·I. */
function spd(n: number, rng: Rng, eps = 0.1): Float64Array {
  const a = Float64Array.from(rng.normals(n * n));
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let v = i === j ? eps : 0;
    for (let l = 0; l < n; l++) v += a[i * n + l] * a[j * n + l];
    s[i * n + j] = v;
  }
  return s;
}

test('eigSym: A·V = V·Λ, VᵀV = I, values sorted, on random symmetric matrices (incl. indefinite and repeated)', () => {
  const rng = new Rng(1);
  for (const n of [1, 2, 5, 40]) {
    const a = spd(n, rng);
    for (let i = 0; i < n; i++) a[i * n + i] -= 3; // indefinite
    const { values, vectors } = eigSym(a, n);
    const av = matmulSquare(a, vectors, n);
    const vl = vectors.map((x, i) => x * values[i % n]);
    expectClose(`A·V (n=${n})`, av, vl, { atol: 1e-9 });
    const vtv = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let l = 0; l < n; l++) vtv[i * n + j] += vectors[l * n + i] * vectors[l * n + j];
    expectClose(`VᵀV (n=${n})`, vtv, Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)), { atol: 1e-12 });
    for (let i = 1; i < n; i++) assert.ok(values[i - 1] >= values[i]);
  }
  // repeated eigenvalues: 2·I has eigenvalue 2 five times
  const two = Float64Array.from({ length: 25 }, (_, i) => (i % 6 === 0 ? 2 : 0));
  expectClose('eig(2I)', eigSym(two, 5).values, [2, 2, 2, 2, 2], { atol: 1e-15 });
  // a known 2 × 2: [[2, 1], [1, 2]] has eigenvalues 3 and 1
  expectClose('eig [[2,1],[1,2]]', eigSym(Float64Array.of(2, 1, 1, 2), 2).values, [3, 1], { atol: 1e-14 });
  assert.throws(() => eigSym(Float64Array.of(1, 2, 0, 1), 2), /not symmetric at \(0, 1\)/);
  assert.throws(() => eigSym(Float64Array.of(1, NaN, NaN, 1), 2), /non-finite/);
});

test('sqrtmPsd: S·S = A for SPD A, diag known, a singular PSD matrix handled', () => {
  const rng = new Rng(2);
  const a = spd(12, rng);
  const s = sqrtmPsd(a, 12);
  expectClose('S·S', matmulSquare(s, s, 12), a, { rtol: 1e-10 });
  expectClose('sqrt diag', sqrtmPsd(Float64Array.of(4, 0, 0, 9), 2), [2, 0, 0, 3], { atol: 1e-15 });
  // rank 1: v·vᵀ with |v|² = 25 → sqrt = v·vᵀ / 5
  const v = [3, 4];
  const r1 = Float64Array.from({ length: 4 }, (_, i) => v[i >> 1] * v[i & 1]);
  expectClose('sqrt rank 1', sqrtmPsd(r1, 2), r1.map((x) => x / 5), { atol: 1e-12 });
});

test('traceSqrtProduct against the closed form for 2 × 2: tr √M = √(tr M + 2√det M)', () => {
  const rng = new Rng(3);
  for (let rep = 0; rep < 5; rep++) {
    const a = spd(2, rng);
    const b = spd(2, rng);
    const m = matmulSquare(a, b, 2); // not symmetric: the two do not commute
    const det = m[0] * m[3] - m[1] * m[2];
    const want = Math.sqrt(m[0] + m[3] + 2 * Math.sqrt(det));
    const got = traceSqrtProduct(a, b, 2);
    assert.ok(Math.abs(got - want) < 1e-12 * want, `tr √(AB) ${got} vs closed form ${want}`);
  }
});

test('frechetDistance: 0 for the same Gaussian; isotropic and diagonal closed forms; symmetric; ≥ 0', () => {
  const rng = new Rng(4);
  const k = 16;
  const s = spd(k, rng);
  const mu = Float64Array.from(rng.normals(k));
  assert.ok(frechetDistance({ mu, sigma: s }, { mu, sigma: s }) < 1e-9, 'same Gaussian');
  // N(μ1, a²I) vs N(μ2, b²I): |μ1 − μ2|² + k(a − b)²
  const eye = (c: number) => Float64Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? c : 0));
  const mu2 = mu.map((x) => x + 0.5);
  const iso = frechetDistance({ mu, sigma: eye(0.3 ** 2) }, { mu: mu2, sigma: eye(1.7 ** 2) });
  assert.ok(Math.abs(iso - (k * 0.25 + k * 1.4 ** 2)) < 1e-10, `isotropic ${iso}`);
  // diagonal: Σ (√a_i − √b_i)²
  const da = Float64Array.from({ length: k }, (_, i) => 0.1 + i);
  const db = Float64Array.from({ length: k }, (_, i) => 2 + 0.5 * i);
  const diag = (d: Float64Array) => Float64Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? d[i / (k + 1)] : 0));
  const want = da.reduce((s2, x, i) => s2 + (Math.sqrt(x) - Math.sqrt(db[i])) ** 2, 0);
  const got = frechetDistance({ mu, sigma: diag(da) }, { mu, sigma: diag(db) });
  assert.ok(Math.abs(got - want) < 1e-10, `diagonal ${got} vs ${want}`);
  // non-commuting: symmetric in its arguments
  const t = spd(k, rng);
  const ab = frechetDistance({ mu, sigma: s }, { mu: mu2, sigma: t });
  const ba = frechetDistance({ mu: mu2, sigma: t }, { mu, sigma: s });
  assert.ok(ab > 0 && Math.abs(ab - ba) < 1e-9 * ab, `FD(a, b) ${ab} vs FD(b, a) ${ba}`);
  assert.throws(() => frechetDistance({ mu, sigma: s }, { mu: new Float64Array(3), sigma: new Float64Array(9) }), /different dimensions/);
});

test('meanCov: numpy.cov conventions (unbiased), known data', () => {
  // rows (1, 2), (3, 6), (5, 10): mean (3, 6), cov [[4, 8], [8, 16]]
  const { mu, sigma } = meanCov(Float64Array.of(1, 2, 3, 6, 5, 10), 3, 2);
  expectClose('mu', mu, [3, 6], { atol: 1e-15 });
  expectClose('sigma', sigma, [4, 8, 8, 16], { atol: 1e-14 });
  assert.throws(() => meanCov(new Float64Array(2), 1, 2), /≥ 2 rows/);
});
