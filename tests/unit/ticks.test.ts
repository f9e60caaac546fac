// Log-axis ticks that read at any range: at most `max` labels, at least two, from 1-2-5 families or
// linear 1-2-5 steps, never two labels that print the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logTicks, niceStep, positiveRange, tickLabel } from '../../src/ui/widgets/ticks';

const ticks = (lo: number, hi: number, max = 6) => {
  const t = logTicks(lo, hi, max);
  assert.ok(t.vals.length >= 2 && t.vals.length <= max, `${lo}..${hi}: ${t.text.join(' ')}`);
  assert.equal(new Set(t.text).size, t.text.length, `distinct labels ${t.text.join(' ')}`);
  for (const v of t.vals) assert.ok(v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9), `${v} in ${lo}..${hi}`);
  assert.deepEqual(t.vals, [...t.vals].sort((a, b) => a - b));
  return t.text.join(' ');
};

test('log ticks: decades on a wide range, thinned past six; 1-2-5 inside a few decades', () => {
  assert.equal(ticks(1e-4, 10), '1e-4 0.001 0.01 0.1 1 10');
  assert.equal(ticks(1e-8, 100), '1e-8 1e-6 1e-4 0.01 1 100');
  assert.equal(ticks(0.05, 3), '0.05 0.1 0.2 0.5 1 2');
  assert.equal(ticks(0.015, 0.9), '0.02 0.05 0.1 0.2 0.5');
});

test('log ticks: under a decade, fewer labels, never a smear', () => {
  assert.equal(ticks(0.25, 0.9), '0.3 0.5');
  assert.equal(ticks(0.12, 0.45), '0.2 0.3 0.4');
  assert.equal(ticks(0.31, 0.38), '0.32 0.34 0.36 0.38');
  assert.equal(ticks(1.2, 1.9), '1.2 1.4 1.6 1.8');
  assert.equal(ticks(1.03, 1.05), '1.03 1.035 1.04 1.045 1.05');
  // Every range from 1e-6 to 1e6 wide or narrow gets 2..6 distinct labels.
  for (let a = -6; a <= 5; a += 0.37) for (const w of [0.01, 0.1, 0.4, 1, 2.5, 7]) ticks(10 ** a, 10 ** (a + w));
});

test('tick labels, nice steps and the range of series', () => {
  assert.deepEqual([0.5, 0.02, 1.5, 2000, 1e-5, 3e6, 0].map(tickLabel), ['0.5', '0.02', '1.5', '2000', '1e-5', '3e+6', '0']);
  assert.deepEqual([0.017, 0.2, 3, 7].map(niceStep), [0.02, 0.2, 5, 10]);
  assert.deepEqual(positiveRange([[null, 0.3, -1, NaN], Float64Array.of(2, 0)]), [0.3, 2]);
  assert.equal(positiveRange([[null, 0]]), null);
  assert.deepEqual(logTicks(0, 1), { vals: [], text: [] });
});
