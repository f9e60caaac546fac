// Distances between 2-D point clouds that a 2-D user can trust: the sliced Wasserstein-2 distance
// (mean over fixed projection directions of the 1-D W2² between sorted projections, square-rooted)
// and the energy distance. Both are zero only when the two distributions agree, and both see mass
// in the wrong place, not only points off the support (as a nearest-point distance does): a model
// that covers one of eight modes scores far from the data even though each of its points sits on it.
//
// Read a figure against two others computed the same way with the same number of points:
// held-out real points (the floor a perfect generator reaches at this sample size) and the input
// noise N(0, I) (where a model that learned nothing stays).
//
// Points are (n, 2) row-major Float32Arrays (the (n, C = 2, 1, 1) layout of the point datasets).

import { Rng } from '../util/rng';

/** Projection directions: evenly spaced angles in [0, π) (deterministic, no variance from random slices). */
export const SLICES = 64;

function checkCloud(what: string, a: Float32Array | Float64Array): number {
  if (a.length % 2 !== 0 || a.length === 0) throw new Error(`${what}: expected (n, 2) points, got ${a.length} values`);
  return a.length / 2;
}

/** Value of the sorted sample `s` at quantile level u ∈ (0, 1) (linear between order statistics). */
function quantile(s: Float64Array, u: number): number {
  const x = u * s.length - 0.5;
  if (x <= 0) return s[0];
  if (x >= s.length - 1) return s[s.length - 1];
  const i = Math.floor(x);
  return s[i] + (x - i) * (s[i + 1] - s[i]);
}

/**
 * Sliced Wasserstein-2 distance between clouds `a` (n points) and `b` (m points). Unequal sizes are
 * compared through their quantile functions at max(n, m) levels. A non-finite point makes it Infinity
 * (a collapse must never read as close).
 */
export function slicedWasserstein(a: Float32Array | Float64Array, b: Float32Array | Float64Array, slices = SLICES): number {
  const n = checkCloud('slicedWasserstein a', a);
  const m = checkCloud('slicedWasserstein b', b);
  for (const c of [a, b]) for (let i = 0; i < c.length; i++) if (!Number.isFinite(c[i])) return Infinity;
  const pa = new Float64Array(n);
  const pb = new Float64Array(m);
  const K = Math.max(n, m);
  let sum = 0;
  for (let s = 0; s < slices; s++) {
    const th = (Math.PI * s) / slices;
    const cx = Math.cos(th);
    const cy = Math.sin(th);
    for (let i = 0; i < n; i++) pa[i] = cx * a[2 * i] + cy * a[2 * i + 1];
    for (let i = 0; i < m; i++) pb[i] = cx * b[2 * i] + cy * b[2 * i + 1];
    pa.sort();
    pb.sort();
    let w = 0;
    if (n === m) for (let i = 0; i < n; i++) w += (pa[i] - pb[i]) ** 2;
    else for (let k = 0; k < K; k++) w += (quantile(pa, (k + 0.5) / K) - quantile(pb, (k + 0.5) / K)) ** 2;
    sum += w / K;
  }
  return Math.sqrt(sum / slices);
}

/**
 * Energy distance 2·E|X − Y| − E|X − X'| − E|Y − Y'| (≥ 0, zero iff the distributions agree),
 * square-rooted so it has the units of a length. O(n·m); a non-finite point gives Infinity.
 */
export function energyDistance(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  const n = checkCloud('energyDistance a', a);
  const m = checkCloud('energyDistance b', b);
  for (const c of [a, b]) for (let i = 0; i < c.length; i++) if (!Number.isFinite(c[i])) return Infinity;
  const meanDist = (p: Float32Array | Float64Array, np: number, q: Float32Array | Float64Array, nq: number, self: boolean) => {
    let s = 0;
    for (let i = 0; i < np; i++) {
      const x = p[2 * i];
      const y = p[2 * i + 1];
      for (let j = self ? i + 1 : 0; j < nq; j++) s += Math.hypot(x - q[2 * j], y - q[2 * j + 1]);
    }
    return self ? (2 * s) / (np * (np - 1) || 1) : s / (np * nq);
  };
  const e = 2 * meanDist(a, n, b, m, false) - meanDist(a, n, a, n, true) - meanDist(b, m, b, m, true);
  return Math.sqrt(Math.max(0, e));
}

export interface PointScale {
  /** The reference cloud every distance is measured to ((m, 2) data points). */
  refs: Float32Array;
  /** Held-out real points vs refs: the floor at `n` points. */
  heldOut: number;
  /** N(0, I) noise vs refs: the ceiling at `n` points. */
  noise: number;
  n: number;
}

/**
 * The scale a sample's distance is read against: `n` held-out points and `n` noise points (drawn
 * from `seed`), each vs the reference data.
 */
export function pointScale(refs: Float32Array, heldOut: Float32Array, n: number, seed = 0): PointScale {
  checkCloud('pointScale refs', refs);
  const h = checkCloud('pointScale heldOut', heldOut);
  if (!Number.isInteger(n) || n < 2 || n > h) throw new Error(`pointScale: n must be an integer in [2, ${h}] (the held-out points), got ${n}`);
  const noise = new Rng(seed ^ 0x0153).normals(2 * n);
  return { refs, heldOut: slicedWasserstein(heldOut.subarray(0, 2 * n), refs), noise: slicedWasserstein(noise, refs), n };
}

export interface Coverage {
  /** Classes (modes) with at least a quarter of their expected share of samples near them. */
  covered: number;
  classes: number;
  /** Fraction of samples within the near radius of some reference point. */
  nearFraction: number;
}

/**
 * Mode coverage: each sample takes the class of its nearest reference point if it lies within
 * `radius` of it; a class counts as covered when it gets ≥ 1/4 of its share among the references.
 */
export function coverage(samples: Float32Array, refs: Float32Array, refLabels: ArrayLike<number>, classes: number, radius: number): Coverage {
  const n = checkCloud('coverage samples', samples);
  const m = checkCloud('coverage refs', refs);
  if (refLabels.length !== m) throw new Error(`coverage: ${refLabels.length} labels for ${m} reference points`);
  const got = new Float64Array(classes);
  const share = new Float64Array(classes);
  for (let j = 0; j < m; j++) share[refLabels[j]] += 1 / m;
  let near = 0;
  const r2 = radius * radius;
  for (let i = 0; i < n; i++) {
    const x = samples[2 * i];
    const y = samples[2 * i + 1];
    let best = Infinity;
    let lab = -1;
    for (let j = 0; j < m; j++) {
      const d = (x - refs[2 * j]) ** 2 + (y - refs[2 * j + 1]) ** 2;
      if (d < best) {
        best = d;
        lab = refLabels[j];
      }
    }
    if (best <= r2) {
      near++;
      got[lab] += 1 / n;
    }
  }
  let covered = 0;
  for (let k = 0; k < classes; k++) if (share[k] > 0 && got[k] >= share[k] / 4) covered++;
  return { covered, classes: Array.from(share).filter((s) => s > 0).length, nearFraction: near / n };
}
