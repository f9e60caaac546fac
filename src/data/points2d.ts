// Built-in 2-D point sets: each point is a (C = 2, H = 1, W = 1) "image", so the DiT (one token),
// the objectives, samplers, trainer and kernels of the image path train on them unchanged.
//
// Every set is drawn from a seed; the held-out split comes from a second stream of the same seed, so
// it never shares a point with the training set. Raw shapes are rescaled by one constant per set
// (its mean and RMS over a fixed large draw, not the seed's), so every seed's data sits at about
// zero mean and unit variance per coordinate: the scale the noise ε ~ N(0, I) has.

import { Rng } from '../util/rng';
import { makeDataset, type Dataset } from './dataset';

type Draw = (rng: Rng) => [number, number, number]; // x, y, class label

interface PointSpec {
  description: string;
  classes: string[];
  draw: Draw;
}

const TAU = 2 * Math.PI;

const SPECS = {
  'eight-gaussians': {
    description: '2-D: eight Gaussians on a circle (std 0.1 of the radius); class = mode',
    classes: Array.from({ length: 8 }, (_, k) => `mode ${k}`),
    draw: (rng) => {
      const k = rng.int(8);
      const a = (k * TAU) / 8;
      return [Math.cos(a) + 0.1 * rng.normal(), Math.sin(a) + 0.1 * rng.normal(), k];
    },
  },
  'two-moons': {
    description: '2-D: two interleaved half circles (noise 0.08); class = moon',
    classes: ['upper', 'lower'],
    draw: (rng) => {
      const k = rng.int(2);
      const a = rng.uniform(0, Math.PI);
      const [x, y] = k === 0 ? [Math.cos(a), Math.sin(a)] : [1 - Math.cos(a), 0.5 - Math.sin(a)];
      return [x + 0.08 * rng.normal(), y + 0.08 * rng.normal(), k];
    },
  },
  checkerboard: {
    description: '2-D: uniform on the 8 dark squares of a 4×4 checkerboard; class = square',
    classes: Array.from({ length: 8 }, (_, k) => `square ${k}`),
    draw: (rng) => {
      const k = rng.int(8);
      const row = Math.floor(k / 2);
      const col = 2 * (k % 2) + (row % 2); // dark squares: row + col even
      return [col - 2 + rng.next(), row - 2 + rng.next(), k];
    },
  },
  spiral: {
    description: '2-D: two interleaved spiral arms (noise 0.05 of the outer radius); class = arm',
    classes: ['arm 0', 'arm 1'],
    draw: (rng) => {
      const k = rng.int(2);
      const s = Math.sqrt(rng.next()); // uniform along the arm's area, not its angle
      const a = s * 1.75 * TAU;
      const r = s;
      const sign = k === 0 ? 1 : -1;
      return [sign * r * Math.cos(a) + 0.05 * rng.normal(), sign * r * Math.sin(a) + 0.05 * rng.normal(), k];
    },
  },
  'swiss-roll': {
    description: '2-D: the Swiss roll (t·cos t, t·sin t), t ∈ [1.5π, 4.5π], noise 0.3; one class',
    classes: ['roll'],
    draw: (rng) => {
      const t = 1.5 * Math.PI * (1 + 2 * rng.next());
      return [t * Math.cos(t) + 0.3 * rng.normal(), t * Math.sin(t) + 0.3 * rng.normal(), 0];
    },
  },
} satisfies Record<string, PointSpec>;

export type PointSetName = keyof typeof SPECS;
export const POINT_SETS = Object.keys(SPECS) as PointSetName[];

/** Largest |coordinate| a normalised point may take (the Dataset's value bound); far past any drawn point. */
export const POINT_BOUND = 16;

export function isPointSet(name: string): name is PointSetName {
  return Object.prototype.hasOwnProperty.call(SPECS, name);
}

/** A model or dataset shape that holds 2-D points: C = 2, H = W = 1. */
export function isPointShape(s: { C: number; H: number; W: number }): boolean {
  return s.C === 2 && s.H === 1 && s.W === 1;
}

const NORM_DRAW = 20000;
const normCache = new Map<PointSetName, { mx: number; my: number; scale: number }>();

/** Mean and the common RMS of both coordinates over a fixed draw (seed-independent). */
function normaliser(name: PointSetName): { mx: number; my: number; scale: number } {
  let n = normCache.get(name);
  if (n) return n;
  const rng = new Rng(0x2d2d);
  const xs = new Float64Array(NORM_DRAW);
  const ys = new Float64Array(NORM_DRAW);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < NORM_DRAW; i++) {
    [xs[i], ys[i]] = SPECS[name].draw(rng);
    mx += xs[i];
    my += ys[i];
  }
  mx /= NORM_DRAW;
  my /= NORM_DRAW;
  let v = 0;
  for (let i = 0; i < NORM_DRAW; i++) v += (xs[i] - mx) ** 2 + (ys[i] - my) ** 2;
  n = { mx, my, scale: 1 / Math.sqrt(v / (2 * NORM_DRAW)) };
  normCache.set(name, n);
  return n;
}

export type PointSplit = 'train' | 'heldout';

/**
 * `count` points of set `name` from `seed`, normalised (zero mean, unit variance per coordinate on
 * average). 'train' and 'heldout' are independent streams of the same seed.
 */
export function makePoints(name: string, count: number, seed: number, split: PointSplit = 'train'): Dataset {
  if (!isPointSet(name)) throw new Error(`unknown 2-D point set '${name}' (have ${POINT_SETS.join(', ')})`);
  if (!Number.isInteger(count) || count < 1) throw new Error(`makePoints: count must be a positive integer, got ${count}`);
  if (split !== 'train' && split !== 'heldout') throw new Error(`makePoints: split must be 'train' or 'heldout', got '${String(split)}'`);
  const spec: PointSpec = SPECS[name];
  const { mx, my, scale } = normaliser(name);
  const rng = new Rng(split === 'train' ? seed : (seed ^ 0x4e1d07) >>> 0);
  const images = new Float32Array(2 * count); // (count, C = 2, 1, 1)
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const [x, y, k] = spec.draw(rng);
    images[2 * i] = (x - mx) * scale;
    images[2 * i + 1] = (y - my) * scale;
    labels[i] = k;
  }
  return makeDataset({
    name: split === 'train' ? name : `${name}:heldout`,
    C: 2,
    H: 1,
    W: 1,
    numClasses: spec.classes.length,
    classNames: [...spec.classes],
    images,
    labels,
    bound: POINT_BOUND,
  });
}

export function pointSetDescription(name: PointSetName): string {
  return SPECS[name].description;
}
