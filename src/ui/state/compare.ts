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
