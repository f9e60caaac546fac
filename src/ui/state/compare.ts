// Fair comparisons between runs: figures read at the same step for every run, never each run's
// latest (a FACM step costs about twice a CM step, so after the same wall-clock time the runs stand
// at different steps). The common step is the largest step at which every run has a sample grid;
// losses are averaged over a short window ending there.

import type { SampleSet } from '../../worker/protocol';

/** The sample sets a run keeps (newest last): enough to find a step every run has reached. */
export const SAMPLE_HISTORY = 64;

/** Appends a sample set, replacing one of the same step (a pause re-samples the step it stopped at). */
export function pushSample(history: SampleSet[], s: SampleSet): SampleSet[] {
  const kept = history.filter((h) => h.step !== s.step && h.step < s.step);
  return [...kept, s].slice(-SAMPLE_HISTORY);
}

/**
 * The largest step at which every run has a sample set (null when some run has none in common).
 * Runs with no samples at all are left out of the intersection only when `skipEmpty` is set.
 */
export function commonSampleStep(histories: SampleSet[][], skipEmpty = false): number | null {
  const hs = skipEmpty ? histories.filter((h) => h.length > 0) : histories;
  if (hs.length === 0 || hs.some((h) => h.length === 0)) return null;
  let common = new Set(hs[0].map((s) => s.step));
  for (const h of hs.slice(1)) common = new Set(h.map((s) => s.step).filter((x) => common.has(x)));
  return common.size ? Math.max(...common) : null;
}

/** The sample set of a run at `step`, if it has one. */
export const sampleAt = (history: SampleSet[], step: number | null): SampleSet | null => (step === null ? null : (history.find((s) => s.step === step) ?? null));

/**
 * Mean of the finite values at steps in (step − window, step] (steps ascending); NaN when there is
 * none. One step's loss is noisy: a short window ending at the common step compares like with like.
 */
export function meanUpTo(steps: ArrayLike<number>, values: ArrayLike<number>, step: number, window = 10): number {
  let sum = 0;
  let n = 0;
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i];
    if (s > step) continue;
    if (s <= step - window) break;
    if (Number.isFinite(values[i])) {
      sum += values[i];
      n++;
    }
  }
  return n ? sum / n : NaN;
}

/**
 * How runs are compared: at the same step (the default, a fair test of the objectives), or at the
 * same wall-clock training time (what a step costs counts: a FACM step costs about two CM steps).
 */
export type CompareBy = 'step' | 'time';

/**
 * The "same wall-clock" point: the largest training time (ms) every run with samples has reached,
 * i.e. the least of their latest sample sets' times; null when a run has none or no time stamp.
 */
export function commonTrainMs(histories: SampleSet[][]): number | null {
  const hs = histories.filter((h) => h.length > 0);
  if (hs.length === 0) return null;
  const latest = hs.map((h) => h[h.length - 1].trainMs);
  return latest.every((t): t is number => t !== undefined) ? Math.min(...latest) : null;
}

/** A run's last sample set taken at or before `ms` of training (null when it has none that early). */
export function sampleAtTime(history: SampleSet[], ms: number | null): SampleSet | null {
  if (ms === null) return null;
  let found: SampleSet | null = null;
  for (const s of history) if (s.trainMs !== undefined && s.trainMs <= ms) found = s;
  return found;
}

/** Each run's sample set at the comparison point (the common step, or the common training time), and what that point is. */
export function comparedSamples(histories: SampleSet[][], by: CompareBy): { at: (SampleSet | null)[]; step: number | null; ms: number | null } {
  if (by === 'time') {
    const ms = commonTrainMs(histories);
    return { at: histories.map((h) => sampleAtTime(h, ms)), step: null, ms };
  }
  const step = commonSampleStep(histories, true);
  return { at: histories.map((h) => sampleAt(h, step)), step, ms: null };
}

/** A training time for labels: "42 s", "3 min 05 s". */
export function trainTimeText(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}
