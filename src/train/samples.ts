// Sample grids and how far they are from the data: the playground's samples panel (src/worker) and
// the CLI's `sample` read the same figures. Fixed noise per seed, so frames of one run, and runs
// with one seed, are comparable; distances are read against held-out real images (the floor) and
// the input noise itself (where a model that learned nothing stays), src/data/nearest.ts.

import type { Dataset } from '../data/dataset';
import { nearestDistance, referenceSplit } from '../data/nearest';
import type { DiT, Params } from '../model/dit';
import { sampleConsistency, sampleEuler } from '../objectives/samplers';
import { Rng } from '../util/rng';

/** Images per playground grid (4 × 4). */
export const SAMPLE_COUNT = 16;
/** Dataset images a grid's nearest-image distance is measured against. */
export const NEAREST_REFS = 1024;
const NOISE_SEED = 0x5a3b1e;
export const RENOISE_SEED = 0x2e2e;

/** The noise a run's grids start from: (n, C, H, W) standard normals, fixed by the run's seed. */
export function sampleNoise(seed: number, shape: { C: number; H: number; W: number }, n = SAMPLE_COUNT): Float32Array {
  return new Rng(seed ^ NOISE_SEED).normals(n * shape.C * shape.H * shape.W);
}

/** What a distance is read against: the reference images, and the figures of held-out real images and of the noise. */
export interface DistanceScale {
  refs: Float32Array;
  m: number;
  /** Held-out real images' mean distance to the references. */
  floor: number;
  /** The input noise's. */
  noise: number;
}

export function distanceScale(ds: Dataset, z: Float32Array, n: number): DistanceScale {
  const ref = referenceSplit(ds, NEAREST_REFS, n);
  return { ...ref, noise: nearestDistance(z, n, ref.refs, ref.m).mean };
}

/** Mean RMS-per-pixel distance of n images to their nearest reference image. */
export function distanceTo(x: Float32Array, n: number, scale: DistanceScale): number {
  return nearestDistance(x, n, scale.refs, scale.m).mean;
}

export interface Grids {
  oneStep: Float32Array;
  twoStep: Float32Array;
  /** The FM anchor integrated with Euler (when asked for). */
  euler: Float32Array | null;
  nearest: { oneStep: number; twoStep: number; euler: number | null; real: number; noise: number };
}

/**
 * One- and two-step consistency samples of the noise z (n images), the anchor's Euler samples when
 * `euler` > 0 and a branch is given, and their distances to the data.
 */
export async function sampleGrids<T>(
  model: DiT<T>,
  P: Params<T>,
  z: Float32Array,
  n: number,
  opts: { seed: number; y: Float32Array | null; meanflow: boolean; euler: number; branch: 'fm' | 'cm-time' | null },
  scale: DistanceScale,
): Promise<Grids> {
  const be = model.be;
  const so = { y: opts.y, meanflow: opts.meanflow };
  const oneStep = await sampleConsistency(be, model, P, z, n, 1, new Rng(opts.seed ^ RENOISE_SEED), so);
  const twoStep = await sampleConsistency(be, model, P, z, n, 2, new Rng(opts.seed ^ RENOISE_SEED), so);
  const euler = opts.branch && opts.euler > 0 ? await sampleEuler(be, model, P, z, n, opts.euler, { y: opts.y, branch: opts.branch }) : null;
  const d = (x: Float32Array) => distanceTo(x, n, scale);
  return { oneStep, twoStep, euler, nearest: { oneStep: d(oneStep), twoStep: d(twoStep), euler: euler ? d(euler) : null, real: scale.floor, noise: scale.noise } };
}
