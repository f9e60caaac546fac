// Metric series of every run, outside React: growable columnar arrays appended as chunks arrive
// from the workers (Series: src/train/metrics.ts). A small vanilla zustand store carries only a version number, so plots and the
// runs table subscribe transiently (they redraw on an interval) and no component re-renders per step.

import { createStore } from 'zustand/vanilla';
import { Series, type MetricsChunk } from '../../train/metrics';

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
  series.set(runId, old && keepUpTo !== undefined ? old.upTo(keepUpTo) : new Series());
  bump();
}

export function restoreMetrics(runId: string, chunk: MetricsChunk | null): void {
  series.set(runId, Series.of(chunk));
  bump();
}

export function dropMetrics(runId: string): void {
  series.delete(runId);
  bump();
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
