// Sample quality against a data set, in its feature space (features.ts): Fréchet distance to the
// training images' feature Gaussian, and k-NN precision / recall against as many training images as
// there are samples. The same figures for held-out real images (the floor a perfect generator
// reaches with that many samples) and for the sampler's input noise (where a model that learned
// nothing stays) give the scale to read a run's figure against.

import type { Dataset } from '../data/dataset';
import { Rng } from '../util/rng';
import { FIT_IMAGES, FIT_SEED, fitFeatureSpace, subsetIndices, type FeatureSpace } from './features';
import { frechetDistance, meanCov, type Gaussian } from './linalg';
import { precisionRecall } from './precision';

/** Samples per measurement unless told otherwise: two independent sets of this size agree within 5 % in FD (tests/metrics/validation.test.ts; at 500 they differ by up to 6 %). */
export const DEFAULT_SAMPLES = 1000;

/** Built-in (procedural) sets are measured against draws from this seed (held out: the next), whatever a run's own seed. */
export const REFERENCE_SEED = 0x5eed;

/** Images (n, D) → features (n, K): on the GPU (featuresGpu) or the f64 reference (featuresCpu). */
export type Project = (images: Float32Array, n: number) => Promise<Float64Array>;

export interface QualityReference {
  space: FeatureSpace;
  /** The training images' feature Gaussian (FD's reference). */
  data: Gaussian;
  /** Features of training images, in random order (precision / recall use the first n for n samples). */
  feats: Float64Array;
  count: number;
}

export interface Quality {
  /** Fréchet distance to the training features (pixel² units; Infinity for non-finite samples). */
  fd: number;
  precision: number;
  recall: number;
  n: number;
}

const spaces = new Map<string, FeatureSpace>();

/** The data set's feature space, fitted once per data set (name and shape) and kept. */
export function featureSpaceOf(train: Dataset): FeatureSpace {
  const key = `${train.name}:${train.C}x${train.H}x${train.W}:${train.count}`;
  let s = spaces.get(key);
  if (!s) spaces.set(key, (s = fitFeatureSpace(train)));
  return s;
}

/** Copies the images of `idx` out of a data set, (idx.length, C·H·W). */
export function pickImages(ds: Dataset, idx: ArrayLike<number>): Float32Array {
  const D = ds.C * ds.H * ds.W;
  const out = new Float32Array(idx.length * D);
  for (let i = 0; i < idx.length; i++) out.set(ds.images.subarray(idx[i] * D, (idx[i] + 1) * D), i * D);
  return out;
}

/** The reference a run's samples are measured against: `train`'s feature space and the features of up to `images` of its images. */
export async function qualityReference(train: Dataset, project: Project, images = FIT_IMAGES): Promise<QualityReference> {
  const space = featureSpaceOf(train);
  const idx = subsetIndices(train.count, images, FIT_SEED + 1);
  const feats = await project(pickImages(train, idx), idx.length);
  return { space, data: meanCov(feats, idx.length, space.K), feats, count: idx.length };
}

/** FD, precision and recall of sample features (n, K) against the reference. */
export function qualityOfFeatures(ref: QualityReference, feats: Float64Array, n: number): Quality {
  const K = ref.space.K;
  if (!feats.every(Number.isFinite)) return { fd: Infinity, precision: 0, recall: 0, n };
  const fd = frechetDistance(meanCov(feats, n, K), ref.data);
  const nr = Math.min(n, ref.count);
  const pr = precisionRecall(ref.feats.subarray(0, nr * K), nr, feats, n, K);
  return { fd, ...pr, n };
}

/** FD, precision and recall of `n` images (n, D) against the reference. */
export async function measureQuality(ref: QualityReference, project: Project, images: Float32Array, n: number): Promise<Quality> {
  return qualityOfFeatures(ref, await project(images, n), n);
}

/** A data set without a held-out part: its last `n` images are held out (at most half of it), the rest is the reference. */
export function heldOutSplit(ds: Dataset, n: number): { train: Dataset; heldOut: Dataset } {
  const held = Math.min(n, Math.floor(ds.count / 2));
  const D = ds.C * ds.H * ds.W;
  const cut = ds.count - held;
  const part = (from: number, to: number, name: string): Dataset => ({ ...ds, name, count: to - from, images: ds.images.subarray(from * D, to * D), labels: ds.labels.subarray(from, to) });
  return { train: part(0, cut, ds.name), heldOut: part(cut, ds.count, `${ds.name} (held out)`) };
}

/** n images of N(0, 1) noise, as the samplers draw their input (a fixed stream: the same noise for every run). */
export function noiseImages(n: number, D: number, seed = FIT_SEED + 2): Float32Array {
  return new Rng(seed).normals(n * D);
}

export const formatQuality = (q: Quality): string =>
  `FD ${Number.isFinite(q.fd) ? q.fd.toFixed(q.fd < 10 ? 3 : 1) : 'inf'}  precision ${q.precision.toFixed(3)}  recall ${q.recall.toFixed(3)}`;
