// How far generated images are from the data: for each sample, the RMS-per-pixel distance to its
// nearest image in a reference set. A model that has collapsed to a trivial solution (the CM
// objective without its anchor can be satisfied by an output that ignores the data) keeps producing
// images as far from the data as its input noise is; a model that learns moves its samples toward
// the data. The same figure for held-out real images gives the floor to read it against.
//
// Cheap on the CPU at playground scale (16 samples × 1024 references × 192 pixels ≈ 3 M multiply-adds).

import type { Dataset } from './dataset';

export interface NearestStats {
  /** Mean over samples of the nearest reference's RMS distance per pixel (pixels in [−1, 1]). */
  mean: number;
  /** Per sample, the index of the nearest reference image. */
  nearest: Int32Array;
}

/**
 * RMS-per-pixel distance from each of `n` images (`samples`, (n, dim)) to its nearest image among
 * `refs` ((m, dim)). Non-finite samples count as infinitely far (a collapse must not read as close).
 */
export function nearestDistance(samples: Float32Array, n: number, refs: Float32Array, m: number): NearestStats {
  if (n <= 0 || m <= 0) throw new Error(`nearestDistance needs at least one sample and one reference (got ${n} and ${m})`);
  const dim = samples.length / n;
  if (!Number.isInteger(dim) || refs.length !== m * dim) {
    throw new Error(`nearestDistance: ${samples.length} sample values for ${n} images and ${refs.length} reference values for ${m} do not share one image size`);
  }
  const nearest = new Int32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const a = i * dim;
    let best = Infinity;
    for (let j = 0; j < m; j++) {
      const b = j * dim;
      let d = 0;
      for (let k = 0; k < dim && d < best; k++) {
        const e = samples[a + k] - refs[b + k];
        d += e * e;
      }
      if (d < best) {
        best = d;
        nearest[i] = j;
      }
    }
    sum += Number.isFinite(best) ? Math.sqrt(best / dim) : Infinity;
  }
  return { mean: sum / n, nearest };
}

/**
 * Splits a dataset into a reference set (the first `m` images) and `n` held-out images after it,
 * and returns the held-out images' own nearest-reference distance: the floor a perfect generator
 * would reach with that many references.
 */
export function referenceSplit(ds: Dataset, m: number, n: number): { refs: Float32Array; m: number; floor: number } {
  const dim = ds.C * ds.H * ds.W;
  const mm = Math.max(1, Math.min(m, ds.count - 1));
  const nn = Math.max(0, Math.min(n, ds.count - mm));
  const refs = ds.images.subarray(0, mm * dim);
  const floor = nn > 0 ? nearestDistance(ds.images.subarray(mm * dim, (mm + nn) * dim), nn, refs, mm).mean : NaN;
  return { refs, m: mm, floor };
}

/** Steps before a run's samples are judged: at step 0 (adaLN-Zero) every one-step sample is its noise. */
export const NOISE_LIKE_AFTER = 100;
/** Fraction of the input noise's distance above which one-step samples count as noise-like. */
export const NOISE_LIKE_FRACTION = 0.6;

/**
 * A heuristic, labelled as such where shown: after NOISE_LIKE_AFTER steps, one-step samples still
 * more than NOISE_LIKE_FRACTION of the noise's distance from the data. On the tiny preset, learning
 * runs sit at 0.2–0.35 of it by step 300; collapsed CM-without-anchor runs at 0.64–0.84.
 */
export function noiseLike(step: number, samples: number, noise: number): boolean {
  return step >= NOISE_LIKE_AFTER && !(samples <= NOISE_LIKE_FRACTION * noise);
}
