// The quality metrics earn their place by ranking known cases correctly, on real data (the shipped
// 16×16 Fashion-MNIST subset, made from Debian's package by scripts/make-fashion16.ts), with
// features computed on the GPU: real beats noise by far, more noise or more blur is worse, three
// classes are worse than ten (in FD and recall), and two independent sets of the default size agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gpuForFile } from '../helpers/gpu';
import { loadShippedNode } from '../../src/data/shippedNode';
import { SHIPPED } from '../../src/data/shipped';
import { FIT_IMAGES, FIT_SEED, featuresGpu, subsetIndices } from '../../src/metrics/features';
import { addNoise, blur } from '../../src/metrics/degrade';
import { DEFAULT_SAMPLES, featureSpaceOf, measureQuality, noiseImages, pickImages, qualityOfFeatures, qualityReference, type Project, type Quality } from '../../src/metrics/quality';

const getGpu = gpuForFile();

async function setup() {
  const gpu = await getGpu();
  const train = await loadShippedNode('fashion16');
  const held = await loadShippedNode('fashion16', 'heldOut');
  const space = featureSpaceOf(train);
  const project: Project = (x, n) => featuresGpu(gpu, space, x, n);
  const ref = await qualityReference(train, project);
  const measure = (x: Float32Array, n: number) => measureQuality(ref, project, x, n);
  return { train, held, ref, project, measure, D: space.D };
}
let ctx: ReturnType<typeof setup> | null = null;
const context = () => (ctx ??= setup());
const show = (q: Quality) => `FD ${q.fd.toFixed(3)} P ${q.precision.toFixed(3)} R ${q.recall.toFixed(3)}`;

test('held-out real images score far better than N(0, 1) noise', async () => {
  const { held, measure, D } = await context();
  const real = await measure(held.images, held.count);
  const noise = await measure(noiseImages(held.count, D), held.count);
  assert.ok(real.fd * 50 < noise.fd, `held-out ${show(real)} vs noise ${show(noise)}: FD should be ≥ 50× apart`);
  assert.ok(real.precision > 0.7 && real.recall > 0.7, `held-out ${show(real)}`);
  assert.ok(noise.precision < 0.05 && noise.recall < 0.05, `noise ${show(noise)}`);
});

test('Gaussian noise σ = 0.05, 0.1, 0.2, 0.4 and blur σ = 0.5, 1, 1.5, 2 px raise FD monotonically', async () => {
  const { held, measure } = await context();
  const n = held.count;
  const clean = (await measure(held.images, n)).fd;
  for (const [what, levels, degrade] of [
    ['noise', [0.05, 0.1, 0.2, 0.4], (s: number) => addNoise(held.images, s, 11)],
    ['blur', [0.5, 1, 1.5, 2], (s: number) => blur(held.images, n, held.H, held.W, s)],
  ] as const) {
    const fds = [clean];
    for (const s of levels) fds.push((await measure(degrade(s), n)).fd);
    for (let i = 1; i < fds.length; i++) {
      assert.ok(fds[i] > fds[i - 1], `${what}: FD ${fds.map((f) => f.toFixed(3)).join(' → ')} (σ 0, ${levels.join(', ')}) is not increasing at σ ${levels[i - 1]}`);
    }
  }
});

test('a sample set from 3 of the 10 classes scores clearly worse in FD and recall than one from all 10 (every one of the 120 triples)', async () => {
  const { held, ref, project } = await context();
  const feats = await project(held.images, held.count); // held-out features once, on the GPU; sets are rows of it
  const K = ref.space.K;
  const of = (idx: number[]) => qualityOfFeatures(ref, Float64Array.from(idx.flatMap((i) => [...feats.subarray(i * K, (i + 1) * K)])), idx.length);
  const q10 = of([...held.labels.keys()].slice(0, 300)); // as many images as a triple has
  let recallSum = 0;
  let triples = 0;
  for (let a = 0; a < 10; a++)
    for (let b = a + 1; b < 10; b++)
      for (let c = b + 1; c < 10; c++) {
        const q3 = of([...held.labels.keys()].filter((i) => [a, b, c].includes(held.labels[i])));
        assert.ok(q3.fd > 5 * q10.fd, `classes ${a}, ${b}, ${c}: ${show(q3)} vs all 10 ${show(q10)}: FD should be ≥ 5× worse`);
        assert.ok(q3.recall < q10.recall - 0.1, `classes ${a}, ${b}, ${c}: ${show(q3)} vs all 10 ${show(q10)}: recall should be ≥ 0.1 lower`);
        recallSum += q3.recall;
        triples++;
      }
  assert.ok(recallSum / triples < q10.recall - 0.25, `mean recall of 3-class sets ${(recallSum / triples).toFixed(3)} vs all 10 ${q10.recall.toFixed(3)}: should be ≥ 0.25 lower`);
});

test(`two independent sets of the default size (${DEFAULT_SAMPLES}) agree within 5 % in FD; near the floor within 0.15 absolute`, async () => {
  const { train, measure } = await context();
  const n = DEFAULT_SAMPLES;
  // training images the reference did not use, in two disjoint sets
  const used = new Set(subsetIndices(train.count, FIT_IMAGES, FIT_SEED + 1));
  const free = [...train.labels.keys()].filter((i) => !used.has(i));
  assert.ok(free.length >= 2 * n, `${free.length} unused training images for two sets of ${n}`);
  const a = pickImages(train, free.slice(0, n));
  const b = pickImages(train, free.slice(n, 2 * n));
  // a stand-in for a model's samples with a clear FD: the images blurred (σ 0.7 and 1 px)
  for (const s of [0.7, 1]) {
    const fa = (await measure(blur(a, n, train.H, train.W, s), n)).fd;
    const fb = (await measure(blur(b, n, train.H, train.W, s), n)).fd;
    assert.ok(Math.abs(fa - fb) <= 0.05 * Math.min(fa, fb), `blur ${s}: FD ${fa.toFixed(3)} vs ${fb.toFixed(3)} differ by more than 5 %`);
  }
  const ra = (await measure(a, n)).fd;
  const rb = (await measure(b, n)).fd;
  assert.ok(Math.abs(ra - rb) <= 0.15, `real sets: FD ${ra.toFixed(3)} vs ${rb.toFixed(3)}`);
});

const DEBIAN = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
test('scripts/make-fashion16.ts remakes the shipped files byte for byte from Debian\'s package', { skip: !existsSync(DEBIAN) && 'dataset-fashion-mnist not installed' }, () => {
  const out = mkdtempSync(join(tmpdir(), 'fashion16-'));
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/make-fashion16.ts'], { env: { ...process.env, FASHION16_OUT: out }, encoding: 'utf8' });
    assert.equal(r.status, 0, `the script: ${r.stdout}${r.stderr}`);
    const s = SHIPPED.fashion16;
    for (const f of [s.train.images, s.train.labels, s.heldOut.images, s.heldOut.labels, { path: s.licence }]) {
      assert.deepEqual(readFileSync(join(out, f.path)), readFileSync(join('public', f.path)), f.path);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a damaged shipped file is refused by its checksum', async () => {
  const { loadShipped } = await import('../../src/data/shipped');
  const { readPublic } = await import('../../src/data/shippedNode');
  const damaged = async (p: string) => {
    const b = await readPublic(p);
    if (p.endsWith('t10k-images-idx3-ubyte')) b[1000] ^= 1;
    return b;
  };
  await assert.rejects(loadShipped('fashion16', damaged, 'heldOut'), /t10k-images-idx3-ubyte: SHA-256 [0-9a-f]{64} \(256016 bytes\) is not the recorded 3895ca6b/);
  const ok = await loadShipped('fashion16', readPublic, 'heldOut');
  assert.deepEqual([ok.count, ok.C, ok.H, ok.W, ok.numClasses], [1000, 1, 16, 16, 10]);
});
