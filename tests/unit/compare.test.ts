// Runs compared at the same step: the common sample step, the sample history, losses at a step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commonSampleStep, commonTrainMs, comparedSamples, meanUpTo, pushSample, sampleAt, sampleAtTime, SAMPLE_HISTORY, trainTimeText } from '../../src/ui/state/compare';
import type { SampleSet } from '../../src/worker/protocol';

const at = (step: number, one = step / 1000): SampleSet => ({ step, weights: 'online', oneStep: { N: 0, C: 3, H: 8, W: 8, pixels: new Float32Array(0) }, twoStep: { N: 0, C: 3, H: 8, W: 8, pixels: new Float32Array(0) }, euler: null, nearest: { oneStep: one, twoStep: one, euler: null, real: 0.2, noise: 1 } });
const hist = (...steps: number[]) => steps.reduce((h, s) => pushSample(h, at(s)), [] as SampleSet[]);

test('the common step is the largest step every run has a sample at, not each run\'s latest', () => {
  // FACM at half CM's pace: its latest is 50, CM's 150; both have 50.
  const facm = hist(0, 50);
  const cm = hist(0, 50, 100, 150);
  assert.equal(commonSampleStep([facm, cm]), 50);
  assert.equal(sampleAt(cm, 50)!.nearest.oneStep, 0.05);
  assert.equal(commonSampleStep([facm, cm, []]), null, 'a run without samples: no common step');
  assert.equal(commonSampleStep([facm, cm, []], true), 50);
  assert.equal(commonSampleStep([hist(10, 20), hist(15, 25)]), null);
  assert.equal(sampleAt(facm, null), null);
});

test('the same wall-clock view reads each run at the last samples within the time every run has trained, each at its own step', () => {
  // CM takes 1 s a step, FACM 2 s: after 100 s of training CM is at step 100, FACM at 50.
  const timed = (msPerStep: number, ...steps: number[]) => steps.reduce((h, s) => pushSample(h, { ...at(s), trainMs: s * msPerStep * 1000 }), [] as SampleSet[]);
  const cm = timed(1, 0, 50, 100, 150); // trained 150 s
  const facm = timed(2, 0, 50); // trained 100 s
  assert.equal(commonTrainMs([cm, facm]), 100_000);
  assert.equal(sampleAtTime(cm, 100_000)!.step, 100);
  assert.equal(sampleAtTime(facm, 100_000)!.step, 50);
  const byTime = comparedSamples([cm, facm], 'time');
  assert.deepEqual([byTime.step, byTime.ms, byTime.at.map((s) => s?.step)], [null, 100_000, [100, 50]]);
  // The same runs by step: both at 50, the step the equal-step test above checks.
  const byStep = comparedSamples([cm, facm], 'step');
  assert.deepEqual([byStep.step, byStep.ms, byStep.at.map((s) => s?.step)], [50, null, [50, 50]]);
  // A run whose first grid came after the common time has nothing to show; untimed sample sets give no common time.
  assert.equal(sampleAtTime(timed(10, 20), 100_000), null);
  assert.equal(commonTrainMs([cm, hist(0, 50)]), null);
  assert.equal(commonTrainMs([cm, []]), 150_000, 'a run without samples is left out, as in the step view');
  assert.equal(sampleAtTime(cm, null), null);
  assert.deepEqual([trainTimeText(42_400), trainTimeText(185_000)], ['42 s', '3 min 05 s']);
});

test('the sample history: a re-sample of a step replaces it, a reset (a lower step) drops what came after, and it is bounded', () => {
  let h = hist(0, 50, 100);
  h = pushSample(h, at(100, 0.5));
  assert.deepEqual(h.map((s) => [s.step, s.nearest.oneStep]), [[0, 0], [50, 0.05], [100, 0.5]]);
  h = pushSample(h, at(50, 0.9)); // back to step 50 (a rollback or a loaded checkpoint): later grids are another history
  assert.deepEqual(h.map((s) => s.step), [0, 50]);
  const long = hist(...Array.from({ length: 100 }, (_, i) => i * 10));
  assert.equal(long.length, SAMPLE_HISTORY);
  assert.equal(long[long.length - 1].step, 990);
});

test('meanUpTo averages the window ending at the step, skipping non-finite values', () => {
  const steps = [1, 2, 3, 4, 5, 6];
  const v = [10, 20, NaN, 40, 50, 60];
  assert.equal(meanUpTo(steps, v, 4, 3), 30); // steps 2, 3, 4 → 20, (NaN), 40
  assert.equal(meanUpTo(steps, v, 6, 1), 60);
  assert.ok(Number.isNaN(meanUpTo(steps, v, 0)));
  assert.equal(meanUpTo(steps, v, 100, 200), (10 + 20 + 40 + 50 + 60) / 5);
});
