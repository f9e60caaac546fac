// Per-step metrics in columnar form, binned by t: what the playground plots and the CLI could log.
// toChunk turns drained StepRecords into a MetricsChunk (Float32 columns, one row per step, and
// (n, T_BINS) sums of the per-sample quantities by t), transferable to the page without a copy.

import type { StepRecord } from './trainer';

/** Number of t bins of the per-sample views (t ∈ [0, 1] in equal bins). */
export const T_BINS = 10;

/** Metrics of consecutive steps, columnar. Missing quantities are NaN (e.g. L_FM without an anchor). */
export interface MetricsChunk {
  n: number;
  step: Float64Array;
  loss: Float32Array;
  lossFM: Float32Array;
  lossCM: Float32Array;
  gradNorm: Float32Array;
  clampFrac: Float32Array;
  rmsG: Float32Array;
  rmsDFdt: Float32Array;
  rmsV: Float32Array;
  rmsKdFdt: Float32Array;
  /** (n, T_BINS): samples per t bin, and the sums of their clamp fraction and squared residual RMS. */
  binCount: Float32Array;
  binClamp: Float32Array;
  binG2: Float32Array;
}

export const METRIC_FIELDS = ['loss', 'lossFM', 'lossCM', 'gradNorm', 'clampFrac', 'rmsG', 'rmsDFdt', 'rmsV', 'rmsKdFdt'] as const;
export type MetricField = (typeof METRIC_FIELDS)[number];

/** Columnar metrics of drained steps, with per-sample quantities binned by t. */
export function toChunk(recs: StepRecord[], hasFM: boolean): MetricsChunk {
  const n = recs.length;
  const f = () => new Float32Array(n);
  const c: MetricsChunk = {
    n,
    step: new Float64Array(n),
    loss: f(), lossFM: f(), lossCM: f(), gradNorm: f(), clampFrac: f(), rmsG: f(), rmsDFdt: f(), rmsV: f(), rmsKdFdt: f(),
    binCount: new Float32Array(n * T_BINS),
    binClamp: new Float32Array(n * T_BINS),
    binG2: new Float32Array(n * T_BINS),
  };
  recs.forEach((r, i) => {
    c.step[i] = r.step;
    for (const k of METRIC_FIELDS) c[k][i] = r[k];
    if (!hasFM) c.lossFM[i] = NaN; // the objective has no anchor: absent, not zero
    for (let b = 0; b < r.t.length; b++) {
      const j = i * T_BINS + Math.min(T_BINS - 1, Math.max(0, Math.floor(r.t[b] * T_BINS)));
      c.binCount[j]++;
      if (r.clampByT) c.binClamp[j] += r.clampByT[b];
      if (r.rmsGByT) c.binG2[j] += r.rmsGByT[b] ** 2;
    }
  });
  return c;
}

/** The chunk's buffers, to transfer with it. */
export const chunkBuffers = (c: MetricsChunk): ArrayBuffer[] =>
  [c.step, ...METRIC_FIELDS.map((k) => c[k]), c.binCount, c.binClamp, c.binG2].map((a) => a.buffer as ArrayBuffer);

/** Growable columnar arrays of a run's metrics, appended chunk by chunk (the page's plots, the worker's autosave). */
export class Series {
  n = 0;
  private cap = 0;
  step = new Float64Array(0);
  readonly f = {} as Record<MetricField, Float32Array>;
  binCount = new Float32Array(0);
  binClamp = new Float32Array(0);
  binG2 = new Float32Array(0);

  constructor() {
    for (const k of METRIC_FIELDS) this.f[k] = new Float32Array(0);
  }

  private grow(need: number): void {
    if (need <= this.cap) return;
    const cap = Math.max(need, this.cap * 2, 256);
    const g64 = (a: Float64Array, m: number) => {
      const b = new Float64Array(cap * m);
      b.set(a);
      return b;
    };
    const g32 = (a: Float32Array, m: number) => {
      const b = new Float32Array(cap * m);
      b.set(a);
      return b;
    };
    this.step = g64(this.step, 1);
    for (const k of METRIC_FIELDS) this.f[k] = g32(this.f[k], 1);
    this.binCount = g32(this.binCount, T_BINS);
    this.binClamp = g32(this.binClamp, T_BINS);
    this.binG2 = g32(this.binG2, T_BINS);
    this.cap = cap;
  }

  append(c: MetricsChunk): void {
    this.grow(this.n + c.n);
    this.step.set(c.step, this.n);
    for (const k of METRIC_FIELDS) this.f[k].set(c[k], this.n);
    this.binCount.set(c.binCount, this.n * T_BINS);
    this.binClamp.set(c.binClamp, this.n * T_BINS);
    this.binG2.set(c.binG2, this.n * T_BINS);
    this.n += c.n;
  }

  get(k: MetricField): Float32Array {
    return this.f[k].subarray(0, this.n);
  }

  steps(): Float64Array {
    return this.step.subarray(0, this.n);
  }

  /** A series holding `chunk` (none: empty). */
  static of(chunk: MetricsChunk | null | undefined): Series {
    const s = new Series();
    if (chunk && chunk.n > 0) s.append(chunk);
    return s;
  }

  /** A new series of the rows up to `step` (after a rollback or a device loss: the later steps never happened). */
  upTo(step: number): Series {
    let n = 0;
    while (n < this.n && this.step[n] <= step) n++;
    return Series.of(n > 0 ? sliceChunk(this.toChunk(), n) : null);
  }

  /** The series as one chunk (for IndexedDB next to a checkpoint). */
  toChunk(): MetricsChunk {
    const out = { n: this.n, step: this.steps().slice() } as MetricsChunk;
    for (const k of METRIC_FIELDS) out[k] = this.get(k).slice();
    out.binCount = this.binCount.slice(0, this.n * T_BINS);
    out.binClamp = this.binClamp.slice(0, this.n * T_BINS);
    out.binG2 = this.binG2.slice(0, this.n * T_BINS);
    return out;
  }

  /** The last finite value of a field (NaN if none). */
  last(k: MetricField): number {
    const a = this.f[k];
    for (let i = this.n - 1; i >= 0; i--) if (Number.isFinite(a[i])) return a[i];
    return NaN;
  }
}

function sliceChunk(c: MetricsChunk, n: number): MetricsChunk {
  const out = { n, step: c.step.slice(0, n) } as MetricsChunk;
  for (const k of METRIC_FIELDS) out[k] = c[k].slice(0, n);
  out.binCount = c.binCount.slice(0, n * T_BINS);
  out.binClamp = c.binClamp.slice(0, n * T_BINS);
  out.binG2 = c.binG2.slice(0, n * T_BINS);
  return out;
}

/**
 * At most `max` rows of a metric chunk, evenly spread, the first and last kept (the loss plot and its
 * latest value survive). Shorter chunks are returned as they are. An autosave of a long run keeps
 * the curve's shape in a bounded size; the CSV export of a restored run then has the kept rows only.
 */
export function thinChunk(c: MetricsChunk, max: number): MetricsChunk {
  if (c.n <= max || max < 2) return c;
  const idx: number[] = [];
  for (let i = 0; i < max - 1; i++) idx.push(Math.floor((i * (c.n - 1)) / (max - 1)));
  idx.push(c.n - 1);
  const out = { n: idx.length, step: Float64Array.from(idx, (i) => c.step[i]) } as MetricsChunk;
  for (const k of METRIC_FIELDS) out[k] = Float32Array.from(idx, (i) => c[k][i]);
  const bins = (a: Float32Array) => {
    const b = new Float32Array(idx.length * T_BINS);
    idx.forEach((i, j) => b.set(a.subarray(i * T_BINS, (i + 1) * T_BINS), j * T_BINS));
    return b;
  };
  out.binCount = bins(c.binCount);
  out.binClamp = bins(c.binClamp);
  out.binG2 = bins(c.binG2);
  return out;
}
