import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nearestDistance, noiseLike, referenceSplit } from '../../src/data/nearest';
import { BUILTIN } from '../../src/data/procedural';
import { Rng } from '../../src/util/rng';

test('nearestDistance: exact copies are at 0, a shifted copy at its shift, the nearest index found', () => {
  const dim = 4;
  const refs = Float32Array.from([0, 0, 0, 0, 1, 1, 1, 1, -1, 0.5, 0.25, 0]);
  const samples = Float32Array.from([1, 1, 1, 1, -1, 0.5, 0.25, 0, 0.1, 0.1, 0.1, 0.1]);
  const r = nearestDistance(samples, 3, refs, 3);
  assert.deepEqual([...r.nearest], [1, 2, 0]);
  assert.ok(Math.abs(r.mean - 0.1 / 3) < 1e-7, `mean ${r.mean}`);
  // Brute force against the definition for random data.
  const rng = new Rng(3);
  const s = rng.normals(5 * dim);
  const q = rng.normals(7 * dim);
  let want = 0;
  for (let i = 0; i < 5; i++) {
    let best = Infinity;
    for (let j = 0; j < 7; j++) {
      let d = 0;
      for (let k = 0; k < dim; k++) d += (s[i * dim + k] - q[j * dim + k]) ** 2;
      best = Math.min(best, d);
    }
    want += Math.sqrt(best / dim) / 5;
  }
  assert.ok(Math.abs(nearestDistance(s, 5, q, 7).mean - want) < 1e-6);
});

test('nearestDistance: a non-finite sample is infinitely far; mismatched sizes are refused', () => {
  assert.equal(nearestDistance(Float32Array.from([NaN, 0]), 1, Float32Array.from([0, 0]), 1).mean, Infinity);
  assert.throws(() => nearestDistance(new Float32Array(6), 2, new Float32Array(4), 1), /do not share one image size/);
  assert.throws(() => nearestDistance(new Float32Array(0), 0, new Float32Array(4), 1), /at least one sample/);
});

test('referenceSplit: held-out real images sit far closer to the data than noise does', () => {
  const ds = BUILTIN.shapes8.make(0, 600);
  const ref = referenceSplit(ds, 512, 32);
  assert.equal(ref.m, 512);
  const noise = new Rng(1).normals(32 * ds.C * ds.H * ds.W);
  const far = nearestDistance(noise, 32, ref.refs, ref.m).mean;
  assert.ok(ref.floor > 0 && ref.floor < 0.5 * far, `held-out ${ref.floor} vs noise ${far}`);
});

test('noiseLike: judged only after the first steps; far (or non-finite) samples are noise-like, near ones not', () => {
  assert.equal(noiseLike(0, 1.05, 1.05), false, 'step 0: samples are their noise by construction');
  assert.equal(noiseLike(300, 0.883, 1.052), true);
  assert.equal(noiseLike(300, 0.339, 1.052), false);
  assert.equal(noiseLike(300, Infinity, 1.052), true);
  assert.equal(noiseLike(300, NaN, 1.052), true);
});
