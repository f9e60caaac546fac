// The playground's per-run quality figure: every `qualityEvery` steps, FD / precision / recall of
// `qualitySamples` one- and two-step samples (src/metrics), next to the same figures for held-out
// real images and the input noise, measured once per build. Its own module so the run's session
// calls it from one place (after a sample refresh) and knows nothing of features or references.

import type { Dataset } from '../data/dataset';
import { resizeDataset } from '../data/dataset';
import type { Gpu } from '../gpu/runtime';
import type { DiTConfig } from '../model/config';
import { featuresGpu } from '../metrics/features';
import { featureSpaceOf, measureQuality, noiseImages, qualityReference, type Project, type Quality, type QualityReference } from '../metrics/quality';
import { referenceSets } from '../metrics/sets';
import { Rng } from '../util/rng';
import type { RunQuality } from './protocol';

const QUALITY_NOISE_SEED = 0x9a11; // the same noise at every measurement: a run's figures over steps are comparable

/** Draws `n` images from noise `z` with `nfe` network calls (the session's sampler, current weights). */
export type Sampler = (z: Float32Array, n: number, nfe: number) => Promise<Float32Array>;

export class QualityMeter {
  private constructor(
    private readonly ref: QualityReference,
    private readonly project: Project,
    private readonly z: Float32Array,
    readonly n: number,
    private readonly real: Quality,
    private readonly noise: Quality,
  ) {}

  /** The reference for a run on data set `name` (`ds`: its images as the model sees them), with the held-out and noise figures. */
  static async create(gpu: Gpu, name: string, ds: Dataset, model: DiTConfig, n: number, shippedHeldOut: (name: string) => Promise<Dataset>): Promise<QualityMeter> {
    const fit = (d: Dataset) => (d.C === model.C && d.H === model.H && d.W === model.W ? d : resizeDataset(d, model.H, model.W, { C: model.C }));
    const sets = await referenceSets(name, () => ds, n, fit, shippedHeldOut);
    const space = featureSpaceOf(sets.train);
    const project: Project = (x, m) => featuresGpu(gpu, space, x, m);
    const ref = await qualityReference(sets.train, project);
    const D = space.D;
    const nh = Math.min(n, sets.heldOut.count);
    const real = await measureQuality(ref, project, sets.heldOut.images.subarray(0, nh * D), nh);
    const noise = await measureQuality(ref, project, noiseImages(n, D), n);
    return new QualityMeter(ref, project, new Rng(QUALITY_NOISE_SEED).normals(n * D), n, real, noise);
  }

  /** `euler`: also the FM branch's Euler samples, with that many steps (objectives that train an anchor). */
  async measure(step: number, sample: Sampler, euler?: { steps: number; sample: (z: Float32Array, n: number) => Promise<Float32Array> }): Promise<RunQuality> {
    const one = await this.figures((z, n) => sample(z, n, 1));
    const two = await this.figures((z, n) => sample(z, n, 2));
    const e = euler && euler.steps > 0 ? { ...(await this.figures(euler.sample)), steps: euler.steps } : undefined;
    return { step, n: this.n, oneStep: one, twoStep: two, ...(e && { euler: e }), real: this.real, noise: this.noise };
  }

  /** FD / precision / recall of the images a sampler draws from the meter's fixed noise (the teacher's Euler-N too). */
  async figures(sample: (z: Float32Array, n: number) => Promise<Float32Array>): Promise<Quality> {
    return measureQuality(this.ref, this.project, await sample(this.z, this.n), this.n);
  }
}
