import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kthNeighbourRadii, precisionRecall } from '../../src/metrics/precision';
import { Rng } from '../../src/util/rng';

test('kthNeighbourRadii: the k-th nearest other point, on a line', () => {
  // points 0, 1, 3, 6, 10 on a line: 3rd nearest of 0 is 6 (distances 1, 3, 6) → 36
  const r = kthNeighbourRadii(Float64Array.of(0, 1, 3, 6, 10), 5, 1, 3);
  assert.deepEqual([...r], [36, 25, 9, 25, 81]);
  assert.throws(() => kthNeighbourRadii(new Float64Array(3), 3, 1, 3), /no 3-th nearest/);
});

test('precisionRecall: the definition by brute force; same set 1/1; far set 0/0; a set of one mode keeps precision, loses recall', () => {
  const rng = new Rng(9);
  const K = 4;
  const real = Float64Array.from(rng.normals(200 * K));
  const gen = Float64Array.from(rng.normals(150 * K)).map((v, i) => v * 1.3 + (i % K === 0 ? 0.5 : 0));
  const { precision, recall } = precisionRecall(real, 200, gen, 150, K);
  // brute force straight from the definition
  const d2 = (a: Float64Array, i: number, b: Float64Array, j: number) => {
    let s = 0;
    for (let c = 0; c < K; c++) s += (a[i * K + c] - b[j * K + c]) ** 2;
    return s;
  };
  const radius = (x: Float64Array, n: number, i: number) => [...Array(n).keys()].filter((j) => j !== i).map((j) => d2(x, i, x, j)).sort((a, b) => a - b)[2];
  const inManifold = (q: Float64Array, i: number, x: Float64Array, n: number) => [...Array(n).keys()].some((j) => d2(q, i, x, j) <= radius(x, n, j));
  const wantP = [...Array(150).keys()].filter((i) => inManifold(gen, i, real, 200)).length / 150;
  const wantR = [...Array(200).keys()].filter((i) => inManifold(real, i, gen, 150)).length / 200;
  assert.equal(precision, wantP);
  assert.equal(recall, wantR);
  assert.ok(precision > 0.3 && precision < 1 && recall > 0.3 && recall < 1, `P ${precision} R ${recall}`);
  assert.deepEqual(precisionRecall(real, 200, real, 200, K), { precision: 1, recall: 1 });
  const far = real.map((v) => v + 100);
  assert.deepEqual(precisionRecall(real, 200, far, 200, K), { precision: 0, recall: 0 });
  // one mode: the generated points are real points with first feature < −0.5 (a corner of the data)
  const idx = [...Array(200).keys()].filter((i) => real[i * K] < -0.5);
  const mode = Float64Array.from(idx.flatMap((i) => [...real.subarray(i * K, (i + 1) * K)]));
  const pr = precisionRecall(real, 200, mode, idx.length, K);
  assert.ok(pr.precision === 1 && pr.recall < 0.6, `one mode: P ${pr.precision} R ${pr.recall}`);
});
