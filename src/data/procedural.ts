// Built-in datasets drawn from a seed, so the playground and tests run without downloads.
// Scenes are sampled in continuous [0, 1]² coordinates before rasterising, so one seed gives the same
// scenes at 8, 16 and 32 pixels; edges are anti-aliased by supersampling.

import { Rng } from '../util/rng';
import { makeDataset, type Dataset } from './dataset';
import { POINT_SETS, makePoints, pointSetDescription } from './points2d';

export const SHAPE_CLASSES = ['disc', 'square', 'triangle', 'ring', 'cross'] as const;

type Rgb = [number, number, number];

/** HSV in [0, 1] → RGB in [0, 1]. */
function hsv(h: number, s: number, v: number): Rgb {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return v - v * s * Math.max(0, Math.min(k, 4 - k, 1));
  };
  return [f(5), f(3), f(1)];
}

/** Is the point (u, v), relative to the shape centre in units of its radius and unrotated, inside? */
function inside(cls: number, u: number, v: number): boolean {
  switch (cls) {
    case 0: // disc
      return u * u + v * v <= 1;
    case 1: // square, inscribed-ish so its area is close to the disc's
      return Math.abs(u) <= 0.82 && Math.abs(v) <= 0.82;
    case 2: {
      // equilateral triangle, circumradius 1: inside all three edges at distance 1/2 (the inradius)
      const c = Math.sqrt(3) / 2;
      return v <= 0.5 && -c * u - 0.5 * v <= 0.5 && c * u - 0.5 * v <= 0.5;
    }
    case 3: {
      const r2 = u * u + v * v;
      return r2 <= 1 && r2 >= 0.55 * 0.55;
    }
    case 4: {
      const au = Math.abs(u);
      const av = Math.abs(v);
      return (au <= 0.3 && av <= 1) || (av <= 0.3 && au <= 1);
    }
    default:
      throw new Error(`unknown shape class ${cls}`);
  }
}

interface Scene {
  cls: number;
  cx: number;
  cy: number;
  r: number;
  cosA: number;
  sinA: number;
  fg: Rgb;
  bg0: Rgb;
  bg1: Rgb;
  /** Gradient direction (unit vector). */
  gx: number;
  gy: number;
}

function sampleScene(rng: Rng): Scene {
  const cls = rng.int(SHAPE_CLASSES.length);
  const r = rng.uniform(0.2, 0.34);
  const cx = rng.uniform(r, 1 - r);
  const cy = rng.uniform(r, 1 - r);
  const a = rng.uniform(0, 2 * Math.PI);
  // Bright saturated shape on a dim, low-saturation gradient: always visible, colour varies.
  const fg = hsv(rng.next(), rng.uniform(0.55, 1), rng.uniform(0.75, 1));
  const bgHue = rng.next();
  const bg0 = hsv(bgHue, rng.uniform(0, 0.5), rng.uniform(0.05, 0.35));
  const bg1 = hsv((bgHue + rng.uniform(-0.15, 0.15) + 1) % 1, rng.uniform(0, 0.5), rng.uniform(0.05, 0.35));
  const g = rng.uniform(0, 2 * Math.PI);
  return { cls, cx, cy, r, cosA: Math.cos(a), sinA: Math.sin(a), fg, bg0, bg1, gx: Math.cos(g), gy: Math.sin(g) };
}

/** Rasterises a scene into (3, size, size) at `out`, in [-1, 1]. */
function drawScene(sc: Scene, size: number, out: Float32Array, offset: number): void {
  const ss = size <= 8 ? 6 : size <= 16 ? 4 : 3; // supersamples per axis
  const plane = size * size;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let hits = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const x = (px + (sx + 0.5) / ss) / size - sc.cx;
          const y = (py + (sy + 0.5) / ss) / size - sc.cy;
          const u = (sc.cosA * x + sc.sinA * y) / sc.r;
          const v = (-sc.sinA * x + sc.cosA * y) / sc.r;
          if (inside(sc.cls, u, v)) hits++;
        }
      }
      const cov = hits / (ss * ss);
      // Gradient parameter in [0, 1] along (gx, gy) across the unit square.
      const t = 0.5 + 0.5 * (((px + 0.5) / size - 0.5) * sc.gx + ((py + 0.5) / size - 0.5) * sc.gy) * Math.SQRT2;
      for (let c = 0; c < 3; c++) {
        const bg = sc.bg0[c] + (sc.bg1[c] - sc.bg0[c]) * t;
        const v01 = bg + (sc.fg[c] - bg) * cov;
        out[offset + c * plane + py * size + px] = Math.min(1, Math.max(-1, v01 * 2 - 1));
      }
    }
  }
}

/** `count` RGB images of coloured shapes (classes SHAPE_CLASSES) at size × size, deterministic per seed. */
export function makeShapes(count: number, size: number, seed: number): Dataset {
  if (!Number.isInteger(count) || count < 0) throw new Error(`makeShapes: count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(size) || size < 4) throw new Error(`makeShapes: size must be an integer ≥ 4, got ${size}`);
  const rng = new Rng(seed);
  const per = 3 * size * size;
  const images = new Float32Array(count * per);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const sc = sampleScene(rng);
    labels[n] = sc.cls;
    drawScene(sc, size, images, n * per);
  }
  return makeDataset({
    name: `shapes${size}`,
    C: 3,
    H: size,
    W: size,
    numClasses: SHAPE_CLASSES.length,
    classNames: [...SHAPE_CLASSES],
    images,
    labels,
  });
}

export const BLOB_CLASSES = ['top-left', 'top-right', 'bottom-left', 'bottom-right'];

/**
 * Tiny test set: one coloured Gaussian blob on a dark background; class = the quadrant of its centre.
 * Centres keep a pixel's margin from the midlines so the class is never ambiguous.
 */
export function makeBlobs(count: number, seed: number, size = 8): Dataset {
  if (!Number.isInteger(count) || count < 0) throw new Error(`makeBlobs: count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(size) || size < 4 || size % 2 !== 0) throw new Error(`makeBlobs: size must be an even integer ≥ 4, got ${size}`);
  const rng = new Rng(seed);
  const plane = size * size;
  const per = 3 * plane;
  const half = size / 2;
  const images = new Float32Array(count * per);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const right = rng.int(2);
    const bottom = rng.int(2);
    const cx = right * half + rng.uniform(0.5, half - 1); // pixel-centre coordinates
    const cy = bottom * half + rng.uniform(0.5, half - 1);
    const sigma = rng.uniform(0.7, 1.3) * (size / 8);
    const amp = rng.uniform(0.7, 1);
    const col = hsv(rng.next(), rng.uniform(0.3, 1), 1);
    const bg = rng.uniform(0, 0.1);
    labels[n] = bottom * 2 + right;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const g = amp * Math.exp(-((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2) / (2 * sigma * sigma));
        for (let c = 0; c < 3; c++) {
          const v01 = bg + (col[c] - bg) * g;
          images[n * per + c * plane + y * size + x] = v01 * 2 - 1;
        }
      }
    }
  }
  return makeDataset({ name: `blobs${size}`, C: 3, H: size, W: size, numClasses: 4, classNames: [...BLOB_CLASSES], images, labels });
}

export interface BuiltinDataset {
  description: string;
  make(seed: number, count?: number): Dataset;
}

export const BUILTIN: Record<string, BuiltinDataset> = {
  shapes32: {
    description: '32×32 RGB coloured shapes (disc, square, triangle, ring, cross) on gradients; 5 classes',
    make: (seed, count = 10000) => makeShapes(count, 32, seed),
  },
  shapes16: {
    description: '16×16 RGB coloured shapes; same scenes as shapes32 for the same seed',
    make: (seed, count = 10000) => makeShapes(count, 16, seed),
  },
  shapes8: {
    description: '8×8 RGB coloured shapes; coarse, for the tiny preset',
    make: (seed, count = 10000) => makeShapes(count, 8, seed),
  },
  blobs8: {
    description: '8×8 RGB Gaussian blob on a dark background; class = quadrant (4 classes); for tests',
    make: (seed, count = 1024) => makeBlobs(count, seed, 8),
  },
  // 2-D point sets (C = 2, H = W = 1) for the `points` preset.
  ...Object.fromEntries(
    POINT_SETS.map((name) => [name, { description: pointSetDescription(name), make: (seed: number, count = 8192) => makePoints(name, count, seed) }]),
  ),
};
