// How far a 2-D run's samples are from its data, per sampler: NFE 1, NFE 2 (consistency jumps)
// and the FM branch's Euler ODE, each as the sliced W2 distance to the data, read against the
// held-out and noise figures at the same number of points (src/metrics/dist2d.ts).

import type { Backend } from '../ops/backend';
import type { DiT, Params } from '../model/dit';
import { makePoints } from '../data/points2d';
import { sampleConsistency, sampleEuler } from '../objectives/samplers';
import { Rng } from '../util/rng';
import { coverage, pointScale, slicedWasserstein, type PointScale } from './dist2d';

export interface PointReference extends PointScale {
  /** Class (mode) of each reference point, and how many classes the set has. */
  labels: Uint8Array;
  classes: number;
  /** Radius within which a sample counts as on the data (coverage). */
  radius: number;
}

/** Samples within this distance of a data point count towards its mode (≈ 2σ of an eight-Gaussians mode). */
export const COVER_RADIUS = 0.3;

/**
 * The reference of set `name` drawn from `seed`: `refs` points of the training stream, and the
 * held-out / noise figures at `n` points.
 */
export function pointReference(name: string, seed: number, n = 4096, refs = 8192): PointReference {
  const data = makePoints(name, refs, seed);
  const held = makePoints(name, n, seed, 'heldout');
  return { ...pointScale(data.images, held.images, n, seed), labels: data.labels, classes: data.numClasses, radius: COVER_RADIUS };
}

export interface SamplerScore {
  /** Sliced W2 to the data. */
  sw: number;
  /** Classes with their share of samples (≥ 1/4 of it) within the radius, of `classes`. */
  covered: number;
  /** Fraction of samples within the radius of a data point. */
  near: number;
}

export interface PointEval {
  n: number;
  heldOut: number;
  noise: number;
  classes: number;
  nfe1: SamplerScore;
  nfe2: SamplerScore;
  /** The FM branch's Euler ODE with `eulerSteps` steps (null when not asked for). */
  euler: SamplerScore | null;
  eulerSteps: number;
  /** The samples themselves ((n, 2) each), for plots. */
  points: { nfe1: Float32Array; nfe2: Float32Array; euler: Float32Array | null; z: Float32Array };
}

export interface PointEvalOptions {
  /** Euler steps of the FM branch (0: skip). */
  euler?: number;
  /** MeanFlow model: jumps take (t, r). */
  meanflow?: boolean;
  /** Seed of the fixed noise (the same noise at every evaluation). */
  seed?: number;
}

/** Draws `ref.n` points with each sampler from the same fixed noise and scores them. */
export async function evaluatePoints<T>(be: Backend<T>, model: DiT<T>, P: Params<T>, ref: PointReference, opts: PointEvalOptions = {}): Promise<PointEval> {
  const { n } = ref;
  const seed = opts.seed ?? 0;
  const z = new Rng(seed ^ 0xe7a1).normals(2 * n);
  const score = (pts: Float32Array): SamplerScore => {
    const c = coverage(pts, ref.refs, ref.labels, ref.classes, ref.radius);
    return { sw: slicedWasserstein(pts, ref.refs), covered: c.covered, near: c.nearFraction };
  };
  const nfe1 = await sampleConsistency(be, model, P, z, n, 1, new Rng(seed ^ 0x1), { meanflow: opts.meanflow });
  const nfe2 = await sampleConsistency(be, model, P, z, n, 2, new Rng(seed ^ 0x2), { meanflow: opts.meanflow });
  const eulerSteps = opts.euler ?? 16;
  const euler = eulerSteps > 0 && !opts.meanflow ? await sampleEuler(be, model, P, z, n, eulerSteps, { branch: 'fm' }) : null;
  return {
    n,
    heldOut: ref.heldOut,
    noise: ref.noise,
    classes: ref.classes,
    nfe1: score(nfe1),
    nfe2: score(nfe2),
    euler: euler ? score(euler) : null,
    eulerSteps,
    points: { nfe1, nfe2, euler, z },
  };
}

/** One line for logs: each sampler's distance as a multiple of the held-out figure, and its coverage. */
export function describeEval(e: PointEval): string {
  const f = (s: SamplerScore) => `${s.sw.toFixed(4)} (${(s.sw / e.heldOut).toFixed(2)}×, ${s.covered}/${e.classes} modes)`;
  return `SW2 NFE1 ${f(e.nfe1)}  NFE2 ${f(e.nfe2)}${e.euler ? `  Euler${e.eulerSteps} ${f(e.euler)}` : ''}  [held-out ${e.heldOut.toFixed(4)}, noise ${e.noise.toFixed(4)}]`;
}
