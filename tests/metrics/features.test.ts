// The feature space: the PCA fit against a full eigen-decomposition, determinism, and the GPU
// features (the project's matmul) against the f64 reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpuForFile } from '../helpers/gpu';
import { expectClose, maxAbs } from '../helpers/close';
import { featuresCpu, featuresGpu, fitFeatureSpace } from '../../src/metrics/features';
import { eigSym, meanCov } from '../../src/metrics/linalg';
import { BUILTIN, makeDataset, resizeDataset } from '../../src/data/index';
import { loadShippedNode } from '../../src/data/shippedNode';
import { Rng } from '../../src/util/rng';

const getGpu = gpuForFile();

test('fitFeatureSpace: the components are the covariance eigenvectors (vs Jacobi on the full matrix), orthonormal, deterministic', () => {
  const ds = resizeDataset(BUILTIN.blobs8.make(3, 600), 8, 8, { C: 1 }); // D = 64: small enough for a full eigSym
  const K = 12;
  const s = fitFeatureSpace(ds, K);
  const D = 64;
  const all = Float64Array.from(ds.images);
  const { sigma } = meanCov(all, ds.count, D);
  const full = eigSym(sigma, D);
  expectClose('component variances', s.variance, full.values.subarray(0, K), { rtol: 1e-8 });
  for (let k = 0; k < K; k++) {
    // same direction up to sign: |⟨basis_k, v_k⟩| = 1 (the spectrum has no ties at this k)
    let dot = 0;
    for (let i = 0; i < D; i++) dot += s.basis[k * D + i] * full.vectors[i * D + k];
    assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-6, `component ${k}: |⟨fit, eig⟩| = ${Math.abs(dot)}`);
  }
  const gram = new Float64Array(K * K);
  for (let a = 0; a < K; a++) for (let b = 0; b < K; b++) for (let i = 0; i < D; i++) gram[a * K + b] += s.basis[a * D + i] * s.basis[b * D + i];
  expectClose('basis·basisᵀ', gram, Float64Array.from({ length: K * K }, (_, i) => (i % (K + 1) === 0 ? 1 : 0)), { atol: 1e-10 });
  assert.deepEqual(fitFeatureSpace(ds, K).basis, s.basis, 'the same data gives the same basis');
  assert.throws(() => fitFeatureSpace(ds, 65), /between 1 and 64/);
});

test('features on the GPU (matmul with the centring bias) = the f64 reference: fashion16, RGB shapes, and an odd pixel count', async () => {
  const gpu = await getGpu();
  const fashion = await loadShippedNode('fashion16', 'heldOut');
  const rng = new Rng(5);
  const odd = makeDataset({ name: 'odd', C: 3, H: 5, W: 5, numClasses: 1, images: Float32Array.from({ length: 300 * 75 }, () => rng.uniform(-1, 1)), labels: new Uint8Array(300) });
  for (const ds of [fashion, BUILTIN.shapes8.make(1, 700), odd]) {
    const s = fitFeatureSpace(ds, 16);
    const n = Math.min(ds.count, 5000);
    const x = ds.images.subarray(0, n * s.D);
    const want = featuresCpu(s, x, n);
    const got = await featuresGpu(gpu, s, x, n);
    expectClose(`features of ${ds.name} (${n} × ${s.D} → ${s.K})`, got, want, { atol: 2e-5 * Math.max(1, maxAbs(want)) });
    // the reference itself: the first component's feature of image 0 by hand
    let f = 0;
    for (let i = 0; i < s.D; i++) f += (x[i] - s.mean[i]) * s.basis[i];
    assert.ok(Math.abs(want[0] - f) < 1e-9, `reference feature ${want[0]} vs ${f}`);
  }
  await assert.rejects(featuresGpu(gpu, fitFeatureSpace(odd, 4), new Float32Array(10), 1), /10 values for 1 images of 75 pixels/);
});
