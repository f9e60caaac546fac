// The quality metrics' validation figures on the shipped 16×16 Fashion-MNIST subset (README,
// "Quality metrics"): features on the GPU, FD / precision / recall of held-out real images, noise,
// noisy and blurred real images, 3 classes vs 10, and two independent sets of the default size.
//   node --import tsx --import ./scripts/wgsl-loader.mjs scripts/validate-metrics.ts

import { acquireDevice, describeAdapter } from '../src/gpu/device';
import { Gpu } from '../src/gpu/runtime';
import { loadShippedNode } from '../src/data/shippedNode';
import { FIT_IMAGES, FIT_SEED, featuresGpu, subsetIndices } from '../src/metrics/features';
import { addNoise, blur } from '../src/metrics/degrade';
import { DEFAULT_SAMPLES, featureSpaceOf, formatQuality, measureQuality, noiseImages, pickImages, qualityReference, type Project } from '../src/metrics/quality';

const gpu = new Gpu(await acquireDevice());
console.log(`adapter: ${describeAdapter(gpu.report)}`);
const train = await loadShippedNode('fashion16');
const held = await loadShippedNode('fashion16', 'heldOut');
const t0 = performance.now();
const space = featureSpaceOf(train);
const project: Project = (x, n) => featuresGpu(gpu, space, x, n);
const ref = await qualityReference(train, project);
let total = 0;
for (let i = 0; i < train.count * space.D; i++) total += (train.images[i] - space.mean[i % space.D]) ** 2;
const kept = space.variance.reduce((s, v) => s + v, 0) / (total / (train.count - 1));
console.log(`feature space: ${space.K} components of ${space.D} pixels (${(100 * kept).toFixed(1)} % of the training images' variance), fitted and referenced in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const D = held.C * held.H * held.W;
const n = DEFAULT_SAMPLES;
const line = async (what: string, x: Float32Array, m = n) => console.log(`${what.padEnd(40)} ${formatQuality(await measureQuality(ref, project, x, m))}`);
await line(`held-out real (${held.count})`, held.images, held.count);
await line('N(0, 1) noise', noiseImages(n, D));
for (const s of [0.05, 0.1, 0.2, 0.4]) await line(`held-out + noise σ ${s}`, addNoise(held.images, s, 11), held.count);
for (const s of [0.5, 1, 1.5, 2]) await line(`held-out blurred σ ${s} px`, blur(held.images, held.count, held.H, held.W, s), held.count);
const three = [...held.labels.keys()].filter((i) => held.labels[i] === 0 || held.labels[i] === 5 || held.labels[i] === 8);
await line(`3 classes: T-shirt, sandal, bag (${three.length})`, pickImages(held, three), three.length);
await line(`all 10 classes (${three.length})`, pickImages(held, [...held.labels.keys()].slice(0, three.length)), three.length);
// two independent sets of the default size: training images the reference did not use
const used = new Set(subsetIndices(train.count, FIT_IMAGES, FIT_SEED + 1));
const free = [...train.labels.keys()].filter((i) => !used.has(i));
const a = pickImages(train, free.slice(0, n));
const b = pickImages(train, free.slice(n, 2 * n));
for (const [name, x] of [['A', a], ['B', b]] as const) {
  await line(`unused training set ${name} (${n})`, x);
  for (const s of [0.7, 1]) await line(`unused training set ${name} blurred σ ${s} px`, blur(x, n, train.H, train.W, s));
}
gpu.destroy();
