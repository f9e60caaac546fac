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
