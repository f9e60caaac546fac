// Metric series of every run, outside React: growable columnar arrays appended as chunks arrive
// from the workers. A small vanilla zustand store carries only a version number, so plots and the
// runs table subscribe transiently (they redraw on an interval) and no component re-renders per step.

import { createStore } from 'zustand/vanilla';
import { METRIC_FIELDS, T_BINS, type MetricField, type MetricsChunk } from '../../worker/protocol';

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

const series = new Map<string, Series>();
export const metricsStore = createStore<{ version: number }>(() => ({ version: 0 }));
const bump = () => metricsStore.setState((s) => ({ version: s.version + 1 }));

export function seriesOf(runId: string): Series {
  let s = series.get(runId);
  if (!s) series.set(runId, (s = new Series()));
  return s;
}

export function appendMetrics(runId: string, chunk: MetricsChunk): void {
  seriesOf(runId).append(chunk);
  bump();
}

export function clearMetrics(runId: string, keepUpTo?: number): void {
  const old = series.get(runId);
  const s = new Series();
  if (old && keepUpTo !== undefined) {
    const c = old.toChunk();
    let n = 0;
    while (n < c.n && c.step[n] <= keepUpTo) n++;
    if (n > 0) s.append(sliceChunk(c, n));
  }
  series.set(runId, s);
  bump();
}

export function restoreMetrics(runId: string, chunk: MetricsChunk | null): void {
  const s = new Series();
  if (chunk && chunk.n > 0) s.append(chunk);
  series.set(runId, s);
  bump();
}

export function dropMetrics(runId: string): void {
  series.delete(runId);
  bump();
}

function sliceChunk(c: MetricsChunk, n: number): MetricsChunk {
  const out = { n, step: c.step.slice(0, n) } as MetricsChunk;
  for (const k of METRIC_FIELDS) out[k] = c[k].slice(0, n);
  out.binCount = c.binCount.slice(0, n * T_BINS);
  out.binClamp = c.binClamp.slice(0, n * T_BINS);
  out.binG2 = c.binG2.slice(0, n * T_BINS);
  return out;
}

/** TensorBoard-style smoothing: an EMA with bias correction; non-finite values are skipped. */
export function smooth(y: ArrayLike<number>, w: number): Float64Array {
  const out = new Float64Array(y.length);
  let acc = 0;
  let k = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isFinite(v)) {
      out[i] = NaN;
      continue;
    }
    acc = w * acc + (1 - w) * v;
    k++;
    out[i] = w > 0 ? acc / (1 - w ** k) : v;
  }
  return out;
}

/** Indices that keep at most `max` points, evenly spread, always the last one. */
export function decimate(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const stride = n / max;
  const out: number[] = [];
  for (let i = 0; i < max - 1; i++) out.push(Math.floor(i * stride));
  out.push(n - 1);
  return out;
}
