// Sample grids and how far they are from the data: the playground's samples panel (src/worker) and
// the CLI's `sample` read the same figures. Fixed noise per seed, so frames of one run, and runs
// with one seed, are comparable; distances are read against held-out real images (the floor) and
// the input noise itself (where a model that learned nothing stays), src/data/nearest.ts.

import type { Dataset } from '../data/dataset';
import type { DiTConfig } from '../model/config';
import { objectiveOf, type Config } from '../config';
import { objectiveSpec } from '../objectives/table';
import type { Trainer } from './trainer';
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

/** A run's fixed grid inputs (made once per build): the noise, labels cycling through the data's classes, the distance scale. */
export interface GridState {
  z: Float32Array;
  y: Float32Array | null;
  scale: DistanceScale;
}

export function gridState(ds: Dataset, seed: number, model: DiTConfig): GridState {
  const z = sampleNoise(seed, model);
  const k = model.numClasses;
  const y = k > 0 ? Float32Array.from({ length: SAMPLE_COUNT }, (_, i) => i % Math.min(k, ds.numClasses || k)) : null;
  return { z, y, scale: distanceScale(ds, z, SAMPLE_COUNT) };
}

/** The grids of the run's current weights as the samples panel shows them ((N, C, H, W) image sets), and the buffers to transfer. */
export async function gridSamples(t: Trainer, c: Config, st: GridState) {
  const m = t.model;
  const { C, H, W } = m.cfg;
  const step = t.step;
  const spec = objectiveSpec(c.objective);
  const opts = { seed: c.seed, y: st.y, meanflow: spec.oneStep === 'meanflow', euler: c.euler, branch: spec.anchor(objectiveOf(c)) };
  const g = await sampleGrids(m, t.weights(c.sampleWeights), st.z, SAMPLE_COUNT, opts, st.scale);
  const set = (pixels: Float32Array) => ({ N: SAMPLE_COUNT, C, H, W, pixels });
  return {
    samples: { step, weights: c.sampleWeights, oneStep: set(g.oneStep), twoStep: set(g.twoStep), euler: g.euler ? { ...set(g.euler), steps: c.euler } : null, nearest: g.nearest },
    transfer: [g.oneStep.buffer, g.twoStep.buffer, ...(g.euler ? [g.euler.buffer] : [])] as ArrayBuffer[],
  };
}

/** The run's FM-branch Euler sampler for the quality meter (`euler` steps), or undefined for an objective without an anchor. */
export function eulerSampler(t: Trainer, c: Config): { steps: number; sample: (z: Float32Array, n: number) => Promise<Float32Array> } | undefined {
  const branch = objectiveSpec(c.objective).anchor(objectiveOf(c));
  if (!branch || c.euler <= 0) return undefined;
  const m = t.model;
  const P = t.weights(c.sampleWeights);
  const k = m.cfg.numClasses;
  return { steps: c.euler, sample: (z, n) => sampleEuler(m.be, m, P, z, n, c.euler, { y: k > 0 ? Float32Array.from({ length: n }, (_, i) => i % k) : null, branch }) };
}

/** The run's consistency sampler (current weights; labels cycle through the classes): `nfe` network calls for n images of noise z. */
export function consistencySampler(t: Trainer, c: Config): (z: Float32Array, n: number, nfe: number) => Promise<Float32Array> {
  const m = t.model;
  const P = t.weights(c.sampleWeights);
  const k = m.cfg.numClasses;
  const meanflow = objectiveSpec(c.objective).oneStep === 'meanflow';
  return (z, n, nfe) => {
    const y = k > 0 ? Float32Array.from({ length: n }, (_, i) => i % k) : null;
    return sampleConsistency(m.be, m, P, z, n, nfe, new Rng(c.seed ^ RENOISE_SEED), { y, meanflow });
  };
}
