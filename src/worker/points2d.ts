// The 2-D panels' data for a run on a point set: samples from fixed noise (NFE 1, NFE 2, the FM
// branch's Euler), their sliced W2 distance to the data with the held-out and noise figures, the
// trajectories of 32 fixed noise points, the fields at the view's t (with the JVP residual) and
// x_t. Computed in the worker on the run's GPU, every `sampleEvery` steps with the samples.

import type { Trainer } from '../train/trainer';
import type { Dataset } from '../data/index';
import { makePoints } from '../data/points2d';
import { coverage, pointScale, slicedWasserstein } from '../metrics/dist2d';
import { COVER_RADIUS } from '../metrics/eval2d';
import { fields, interpolate, trajectories, type ProbeKind } from '../objectives/probe2d';
import { sampleConsistency, sampleEuler } from '../objectives/samplers';
import { needsR, objectiveSpec } from '../objectives/table';
import { objectiveOf, type Config } from '../config';
import { Rng } from '../util/rng';
import type { Points2d, SampleSet } from './protocol';

/** Points per sample cloud: enough for sliced W2 to separate a learned set from a blurred one. */
export const POINT_SAMPLES = 1024;
/** Noise points whose paths the trajectory panel draws. */
export const TRAJ_POINTS = 32;
/** Grid of the field panel (FIELD_GRID² arrows over ±FIELD_EXTENT). */
export const FIELD_GRID = 17;
export const FIELD_EXTENT = 2.5;

export interface PointState {
  z: Float32Array;
  zTraj: Float32Array;
  /** Data points drawn grey, and the noise that forms x_t from them. */
  data: Float32Array;
  eps: Float32Array;
  refs: Float32Array;
  labels: Uint8Array;
  classes: number;
  heldOut: number;
  noise: number;
}

/** The fixed noise and the reference figures of a run on point set `ds` (held-out split from the same seed). */
export function pointState(ds: Dataset, seed: number): PointState {
  const n = POINT_SAMPLES;
  const held = makePoints(ds.name, n, seed, 'heldout');
  const refs = ds.images.subarray(0, 2 * Math.min(ds.count, 4096));
  const scale = pointScale(refs, held.images, n, seed);
  return {
    z: new Rng(seed ^ 0x2d5a).normals(2 * n),
    zTraj: new Rng(seed ^ 0x7a7a).normals(2 * TRAJ_POINTS),
    data: ds.images.slice(0, 2 * n),
    eps: new Rng(seed ^ 0xe95).normals(2 * n),
    refs,
    labels: ds.labels.subarray(0, refs.length / 2),
    classes: ds.numClasses,
    heldOut: scale.heldOut,
    noise: scale.noise,
  };
}

export function probeKind(c: Config): ProbeKind {
  const o = objectiveOf(c);
  if (objectiveSpec(c.objective).oneStep === 'meanflow') return 'meanflow';
  return needsR(o) ? 'aux' : 'extended';
}

/** Samples, distances and the probes of the panels; `transfer` lists the buffers to move to the page. */
export async function pointSamples(t: Trainer, c: Config, st: PointState): Promise<{ samples: SampleSet; transfer: ArrayBuffer[] }> {
  const m = t.model;
  const P = t.weights(c.sampleWeights);
  const n = POINT_SAMPLES;
  const kind = probeKind(c);
  const meanflow = kind === 'meanflow';
  const step = t.step;
  const one = await sampleConsistency(m.be, m, P, st.z, n, 1, new Rng(c.seed ^ 0x2e2e), { meanflow });
  const two = await sampleConsistency(m.be, m, P, st.z, n, 2, new Rng(c.seed ^ 0x2e2e), { meanflow });
  const anchor = objectiveSpec(c.objective).anchor(objectiveOf(c));
  const eul = anchor && c.euler > 0 ? await sampleEuler(m.be, m, P, st.z, n, c.euler, { branch: anchor }) : null;
  const traj = await trajectories(m.be, m, P, st.zTraj, { kind, eulerSteps: Math.max(1, c.euler || 16), renoiseSeed: c.seed ^ 0x2e2f });
  const fld = await fields(m.be, m, P, c.fieldT, { kind, size: FIELD_GRID, extent: FIELD_EXTENT });
  const sw = (x: Float32Array) => slicedWasserstein(x, st.refs);
  const cov = (x: Float32Array) => coverage(x, st.refs, st.labels, st.classes, COVER_RADIUS).covered;
  const set = (pixels: Float32Array) => ({ N: n, C: 2, H: 1, W: 1, pixels });
  const points2d: Points2d = {
    data: st.data.slice(),
    classes: st.classes,
    covered: { oneStep: cov(one), twoStep: cov(two), euler: eul ? cov(eul) : null },
    trajectories: traj,
    fields: fld,
    xt: interpolate(st.data, st.eps, c.fieldT),
    anchor: anchor !== null,
  };
  const samples: SampleSet = {
    step,
    weights: c.sampleWeights,
    oneStep: set(one),
    twoStep: set(two),
    euler: eul ? { ...set(eul), steps: c.euler } : null,
    // For point sets the distance is sliced W2 (src/metrics/dist2d.ts), not the nearest-image RMS.
    nearest: { oneStep: sw(one), twoStep: sw(two), euler: eul ? sw(eul) : null, real: st.heldOut, noise: st.noise },
    points2d,
  };
  const transfer = [one, two, eul, points2d.data, points2d.xt, traj.euler, traj.jump, fld.v, fld.F, fld.g, fld.gMax, fld.points, fld.dFdt, traj.z, traj.nfe2.mid, traj.nfe2.end2]
    .filter((a): a is Float32Array => a !== null)
    .map((a) => a.buffer as ArrayBuffer);
  // end1 is `jump` for consistency models (same buffer): transfer each buffer once.
  if (traj.nfe2.end1 !== traj.jump) transfer.push(traj.nfe2.end1.buffer as ArrayBuffer);
  return { samples, transfer: [...new Set(transfer)] };
}
