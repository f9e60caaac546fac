// The 2-D distances: exact values where they are known in closed form, and the orderings a user
// relies on (held-out ≪ noise; a shifted, shrunk or mode-dropping set scores worse).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makePoints } from '../../src/data/points2d';
import { coverage, energyDistance, pointScale, slicedWasserstein } from '../../src/metrics/dist2d';
import { Rng } from '../../src/util/rng';

const shift = (a: Float32Array, dx: number, dy: number) => a.map((v, i) => v + (i % 2 === 0 ? dx : dy));

test('sliced W2 of a cloud and its translate by (d, 0) is d/√2 (mean of cos² over directions); energy distance agrees in sign', () => {
  const a = new Rng(1).normals(2 * 500);
  for (const d of [0.5, 2]) {
    const sw = slicedWasserstein(a, shift(a, d, 0));
    assert.ok(Math.abs(sw - d / Math.SQRT2) < 1e-6, `d ${d}: SW ${sw}, want ${d / Math.SQRT2}`);
  }
  assert.equal(slicedWasserstein(a, a), 0);
  assert.ok(energyDistance(a, a) < 1e-6);
  assert.ok(energyDistance(a, shift(a, 1, 0)) > 0.3);
});

test('unequal sizes go through quantiles: a cloud vs itself duplicated is ~0, vs its translate ≈ the shift', () => {
  const a = new Rng(2).normals(2 * 300);
  const aa = new Float32Array(1200);
  aa.set(a);
  aa.set(a, 600);
  assert.ok(slicedWasserstein(a, aa) < 0.02, `${slicedWasserstein(a, aa)}`);
  assert.ok(Math.abs(slicedWasserstein(a, shift(aa, 1, 0)) - Math.SQRT1_2) < 0.02);
});

test('on eight Gaussians: held-out ≪ noise; shifted, shrunk and mode-dropping sets score worse than held-out', () => {
  // 4096 points: the held-out floor falls with n (≈ 0.09 at 1024 points, 0.036 at 4096), the noise stays ≈ 0.28.
  const refs = makePoints('eight-gaussians', 8192, 0).images;
  const held = makePoints('eight-gaussians', 4096, 0, 'heldout');
  const sc = pointScale(refs, held.images, 4096);
  assert.ok(sc.heldOut < 0.2 * sc.noise, `held-out ${sc.heldOut} vs noise ${sc.noise}`);
  const h = held.images;
  const worse = {
    shifted: shift(h, 0.3, 0),
    shrunk: h.map((v) => v * 0.7),
    // every point pulled to mode 0's side: only 4 of 8 modes left
    halfModes: (() => {
      const out = h.slice();
      for (let i = 0; i < held.count; i++) if (held.labels[i] >= 4) { out[2 * i] *= -1; out[2 * i + 1] *= -1; }
      return out;
    })(),
  };
  for (const [k, pts] of Object.entries(worse)) {
    const sw = slicedWasserstein(pts, refs);
    assert.ok(sw > 3 * sc.heldOut, `${k}: SW ${sw.toFixed(4)} not ≫ held-out ${sc.heldOut.toFixed(4)}`);
    assert.ok(energyDistance(pts.subarray(0, 2048), refs.subarray(0, 4096)) > 2 * energyDistance(h.subarray(0, 2048), refs.subarray(0, 4096)), `${k}: energy distance`);
  }
  const labels = makePoints('eight-gaussians', 8192, 0).labels;
  assert.deepEqual(coverage(h, refs, labels, 8, 0.3).covered, 8);
  assert.deepEqual(coverage(worse.halfModes, refs, labels, 8, 0.3).covered, 4);
});

test('a non-finite point is infinitely far; bad shapes are refused', () => {
  const a = new Rng(3).normals(20);
  const b = a.slice();
  b[5] = NaN;
  assert.equal(slicedWasserstein(a, b), Infinity);
  assert.equal(energyDistance(b, a), Infinity);
  assert.throws(() => slicedWasserstein(new Float32Array(3), a), /expected \(n, 2\) points, got 3 values/);
  assert.throws(() => pointScale(a, a, 50), /n must be an integer in \[2, 10\]/);
});
