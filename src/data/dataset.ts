// In-memory image datasets and the seeded batch sampler that feeds training.
// Dimensions: N images in the set, B batch, C channels, H × W pixels. Layout is (N, C, H, W),
// channel-planar like CIFAR's binary format and the model's patch embedding.

import { Rng, type RngState } from '../util/rng';

export interface Dataset {
  name: string;
  C: number;
  H: number;
  W: number;
  numClasses: number;
  classNames?: string[];
  count: number;
  /** pixels in [-1, 1], (count, C, H, W) */
  images: Float32Array;
  /** (count), each < numClasses */
  labels: Uint8Array;
}

export interface DatasetInit {
  name: string;
  C: number;
  H: number;
  W: number;
  numClasses: number;
  classNames?: string[];
  /** (count, C, H, W) in [-1, 1] */
  images: Float32Array;
  /** (count) */
  labels: Uint8Array;
  /** Values must lie in [−bound, bound] (default 1: pixels; 2-D point sets are unit-variance coordinates). */
  bound?: number;
}

const isPosInt = (v: number) => Number.isInteger(v) && v > 0;

/** Builds a Dataset, checking that shapes, labels and pixel range agree; count comes from labels. */
export function makeDataset(init: DatasetInit): Dataset {
  const { name, C, H, W, numClasses, classNames, images, labels } = init;
  const bound = init.bound ?? 1;
  if (!(bound > 0)) throw new Error(`dataset '${name}': bound must be positive, got ${bound}`);
  const what = `dataset '${name}'`;
  for (const [k, v] of [['C', C], ['H', H], ['W', W], ['numClasses', numClasses]] as const) {
    if (!isPosInt(v)) throw new Error(`${what}: ${k} must be a positive integer, got ${v}`);
  }
  const count = labels.length;
  const per = C * H * W;
  if (images.length !== count * per) {
    throw new Error(
      `${what}: images has ${images.length} values but ${count} labels × C·H·W = ${count} × ${C}·${H}·${W} needs ${count * per}`,
    );
  }
  if (classNames && classNames.length !== numClasses) {
    throw new Error(`${what}: ${classNames.length} class names for numClasses = ${numClasses}`);
  }
  for (let i = 0; i < count; i++) {
    if (labels[i] >= numClasses) throw new Error(`${what}: label ${labels[i]} of image ${i} is ≥ numClasses = ${numClasses}`);
  }
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    // Negated test so NaN fails too.
    if (!(v >= -bound && v <= bound)) {
      throw new Error(`${what}: value ${v} of item ${Math.floor(i / per)} (flat index ${i}) is outside [-${bound}, ${bound}]`);
    }
  }
  return { name, C, H, W, numClasses, classNames, count, images, labels };
}

/** [0, 255] bytes → [-1, 1] floats: x / 127.5 − 1. */
export function bytesToUnit(pixels: Uint8Array, out = new Float32Array(pixels.length)): Float32Array {
  if (out.length !== pixels.length) throw new Error(`bytesToUnit: out has ${out.length} values for ${pixels.length} pixels`);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 127.5 - 1;
  return out;
}

/** Joins datasets of one shape (e.g. CIFAR's five training batches). Metadata comes from the first. */
export function concatDatasets(parts: Dataset[], name = parts[0]?.name ?? 'dataset'): Dataset {
  if (parts.length === 0) throw new Error('concatDatasets: no datasets given');
  const a = parts[0];
  for (const p of parts) {
    if (p.C !== a.C || p.H !== a.H || p.W !== a.W) {
      throw new Error(`concatDatasets: '${p.name}' is ${p.C}×${p.H}×${p.W} but '${a.name}' is ${a.C}×${a.H}×${a.W}`);
    }
  }
  if (parts.length === 1) return { ...a, name };
  const count = parts.reduce((s, p) => s + p.count, 0);
  const images = new Float32Array(count * a.C * a.H * a.W);
  const labels = new Uint8Array(count);
  let n = 0;
  for (const p of parts) {
    images.set(p.images, n * a.C * a.H * a.W);
    labels.set(p.labels, n);
    n += p.count;
  }
  const numClasses = Math.max(...parts.map((p) => p.numClasses));
  const classNames = parts.find((p) => p.classNames?.length === numClasses)?.classNames;
  return { name, C: a.C, H: a.H, W: a.W, numClasses, classNames, count, images, labels };
}

export interface Batch {
  /** (B, C, H, W) in [-1, 1] */
  x: Float32Array;
  /** (B) class labels as f32 */
  y: Float32Array;
  /** (B) dataset index of each row */
  indices: Uint32Array;
  /** (B) 1 where the row was flipped horizontally */
  flips: Uint8Array;
}

/** A Batcher's position: its generator now and at the last shuffle (the permutation is redrawn from it). */
export interface BatcherState {
  count: number;
  batch: number;
  rng: RngState;
  shuffleRng: RngState | null;
  pos: number;
  shuffled: boolean;
  epoch: number;
}

/**
 * Deterministic batch sampler: seed → the same sequence of (indices, flips).
 * Sampling is without replacement within an epoch (a fresh seeded permutation per epoch), so every
 * image is seen once per epoch; a batch may straddle two epochs. Horizontal flip with probability flipProb.
 */
export class Batcher {
  readonly batch: number;
  private readonly rng: Rng;
  private readonly perm: Uint32Array;
  private pos: number;
  private shuffled = false;
  /** Completed passes over the data. */
  epoch = 0;

  constructor(
    readonly ds: Dataset,
    batch: number,
    seed: number,
    readonly flipProb = 0.5,
  ) {
    if (!isPosInt(batch)) throw new Error(`Batcher: batch must be a positive integer, got ${batch}`);
    if (ds.count === 0) throw new Error(`Batcher: dataset '${ds.name}' is empty`);
    if (!(flipProb >= 0 && flipProb <= 1)) throw new Error(`Batcher: flipProb must be in [0, 1], got ${flipProb}`);
    this.batch = batch;
    this.rng = new Rng(seed);
    this.perm = new Uint32Array(ds.count);
    this.pos = ds.count; // forces a shuffle on the first draw
  }

  /** The batch stream's position (for checkpoints): `restore` continues with the same batches. */
  getState(): BatcherState {
    return { count: this.ds.count, batch: this.batch, rng: this.rng.getState(), shuffleRng: this.shuffleRng, pos: this.pos, shuffled: this.shuffled, epoch: this.epoch };
  }

  restore(st: BatcherState): void {
    if (st.count !== this.ds.count || st.batch !== this.batch)
      throw new Error(`Batcher state is for ${st.count} images in batches of ${st.batch}, this sampler has ${this.ds.count} in batches of ${this.batch}`);
    if (!Number.isInteger(st.pos) || st.pos < 0 || st.pos > this.ds.count) throw new Error(`Batcher state: position ${st.pos} is outside the data`);
    // The permutation is not stored: redraw it from the generator's state at the last shuffle.
    if (st.shuffleRng) {
      this.rng.setState(st.shuffleRng);
      this.shuffle();
    }
    this.rng.setState(st.rng);
    this.pos = st.pos;
    this.shuffled = st.shuffled;
    this.epoch = st.epoch;
  }

  private shuffleRng: RngState | null = null;

  private shuffle(): void {
    this.shuffleRng = this.rng.getState();
    const p = this.perm;
    for (let i = 0; i < p.length; i++) p[i] = i;
    for (let i = p.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    this.pos = 0;
  }

  next(): Batch {
    const { ds, batch: B } = this;
    const { C, H, W } = ds;
    const per = C * H * W;
    const x = new Float32Array(B * per);
    const y = new Float32Array(B);
    const indices = new Uint32Array(B);
    const flips = new Uint8Array(B);
    for (let b = 0; b < B; b++) {
      if (this.pos >= this.perm.length) {
        if (this.shuffled) this.epoch++;
        this.shuffle();
        this.shuffled = true;
      }
      const i = this.perm[this.pos++];
      indices[b] = i;
      y[b] = ds.labels[i];
      // Draw the flip for every row (not only when flipProb > 0) so the index stream does not
      // depend on flipProb.
      const flip = this.rng.next() < this.flipProb;
      flips[b] = flip ? 1 : 0;
      const src = i * per;
      const dst = b * per;
      if (!flip) {
        x.set(ds.images.subarray(src, src + per), dst);
      } else {
        for (let r = 0; r < C * H; r++) {
          const s = src + r * W;
          const d = dst + r * W;
          for (let c = 0; c < W; c++) x[d + c] = ds.images[s + W - 1 - c];
        }
      }
    }
    return { x, y, indices, flips };
  }
}

/** 1-D resampling weights (out × taps): area averaging when shrinking, bilinear when growing. */
function resampleWeights(nIn: number, nOut: number): { start: Int32Array; taps: number; w: Float32Array } {
  if (nOut < nIn) {
    // Output pixel o covers input interval [o·s, (o+1)·s); each input pixel weighs by its overlap.
    const s = nIn / nOut;
    const taps = Math.ceil(s) + 1;
    const start = new Int32Array(nOut);
    const w = new Float32Array(nOut * taps);
    for (let o = 0; o < nOut; o++) {
      const lo = o * s;
      const hi = lo + s;
      const i0 = Math.floor(lo);
      start[o] = i0;
      for (let k = 0; k < taps; k++) {
        const i = i0 + k;
        if (i >= nIn) break;
        const overlap = Math.min(hi, i + 1) - Math.max(lo, i);
        if (overlap > 0) w[o * taps + k] = overlap / s;
      }
    }
    return { start, taps, w };
  }
  // Bilinear with pixel centres aligned (align_corners = false), edges clamped.
  const s = nIn / nOut;
  const taps = 2;
  const start = new Int32Array(nOut);
  const w = new Float32Array(nOut * taps);
  for (let o = 0; o < nOut; o++) {
    const src = Math.min(Math.max((o + 0.5) * s - 0.5, 0), nIn - 1);
    const i0 = Math.min(Math.floor(src), nIn - 2 < 0 ? 0 : nIn - 2);
    const f = nIn === 1 ? 0 : src - i0;
    start[o] = i0;
    w[o * taps] = 1 - f;
    w[o * taps + 1] = f;
  }
  return { start, taps, w };
}

export interface ResizeOptions {
  /** Output channels: 1 → 3 replicates grey; 3 → 1 takes luma (Rec. 601). Default: unchanged. */
  C?: number;
  name?: string;
}

/**
 * Resamples every image to H × W (area average when shrinking, e.g. 28 → 8; bilinear when growing),
 * optionally converting channels. Output stays in [-1, 1] since both filters are convex combinations.
 */
export function resizeDataset(ds: Dataset, H: number, W: number, opts: ResizeOptions = {}): Dataset {
  if (!isPosInt(H) || !isPosInt(W)) throw new Error(`resizeDataset: size must be positive integers, got ${H}×${W}`);
  const Cout = opts.C ?? ds.C;
  if (Cout !== ds.C && !((ds.C === 1 && Cout === 3) || (ds.C === 3 && Cout === 1))) {
    throw new Error(`resizeDataset: cannot convert ${ds.C} channels to ${Cout} (only 1 → 3 and 3 → 1)`);
  }
  const name = opts.name ?? (H === ds.H && W === ds.W && Cout === ds.C ? ds.name : `${ds.name}@${Cout}x${H}x${W}`);
  const { C: Cin, H: Hin, W: Win, count } = ds;
  const rows = resampleWeights(Hin, H);
  const cols = resampleWeights(Win, W);
  const same = H === Hin && W === Win;
  const images = new Float32Array(count * Cout * H * W);
  const tmp = new Float32Array(Hin * W); // one channel resized along x: (Hin, W)
  const plane = new Float32Array(H * W); // (H, W)
  const luma = [0.299, 0.587, 0.114];
  for (let n = 0; n < count; n++) {
    const outBase = n * Cout * H * W;
    for (let ci = 0; ci < Cin; ci++) {
      const src = ds.images.subarray((n * Cin + ci) * Hin * Win, (n * Cin + ci + 1) * Hin * Win);
      if (same) {
        plane.set(src);
      } else {
        for (let y = 0; y < Hin; y++) {
          for (let x = 0; x < W; x++) {
            let acc = 0;
            const i0 = cols.start[x];
            for (let k = 0; k < cols.taps; k++) {
              const wk = cols.w[x * cols.taps + k];
              if (wk !== 0) acc += wk * src[y * Win + i0 + k];
            }
            tmp[y * W + x] = acc;
          }
        }
        for (let y = 0; y < H; y++) {
          const j0 = rows.start[y];
          for (let x = 0; x < W; x++) {
            let acc = 0;
            for (let k = 0; k < rows.taps; k++) {
              const wk = rows.w[y * rows.taps + k];
              if (wk !== 0) acc += wk * tmp[(j0 + k) * W + x];
            }
            // Float rounding can step a hair outside [-1, 1].
            plane[y * W + x] = Math.min(1, Math.max(-1, acc));
          }
        }
      }
      if (Cout === Cin) {
        images.set(plane, outBase + ci * H * W);
      } else if (Cout === 3) {
        for (let c = 0; c < 3; c++) images.set(plane, outBase + c * H * W);
      } else {
        const dst = images.subarray(outBase, outBase + H * W);
        for (let i = 0; i < H * W; i++) dst[i] += luma[ci] * plane[i];
      }
    }
  }
  if (Cout === 1 && Cin === 3) for (let i = 0; i < images.length; i++) images[i] = Math.min(1, Math.max(-1, images[i]));
  return {
    name,
    C: Cout,
    H,
    W,
    numClasses: ds.numClasses,
    classNames: ds.classNames,
    count,
    images,
    labels: ds.labels,
  };
}
