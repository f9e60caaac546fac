// The quality metrics' validation figures on the shipped 16×16 Fashion-MNIST subset (README,
// "Quality metrics"): features on the GPU, FD / precision / recall of held-out real images, noise,
// noisy and blurred real images, 3 classes vs 10, and two independent sets of the default size.
//   node --import tsx --import ./scripts/wgsl-loader.mjs scripts/validate-metrics.ts

import { acquireDevice, describeAdapter } from '../src/gpu/device';
import { Gpu } from '../src/gpu/runtime';
import { loadShippedNode } from '../src/data/shippedNode';
import { featuresGpu } from '../src/metrics/features';
import { addNoise, blur } from '../src/metrics/degrade';
import { DEFAULT_SAMPLES, featureSpaceOf, formatQuality, measureQuality, noiseImages, pickImages, qualityReference, type Project } from '../src/metrics/quality';

const gpu = new Gpu(await acquireDevice());
console.log(`adapter: ${describeAdapter(gpu.report)}`);
const train = await loadShippedNode('fashion16');
const held = await loadShippedNode('fashion16', 'heldOut');
const t0 = performance.now();
const project: Project = (x, n) => featuresGpu(gpu, ref.space, x, n);
const ref = await qualityReference(train, (x, n) => featuresGpu(gpu, featureSpaceOf(train), x, n));
console.log(`feature space: ${ref.space.K} components of ${ref.space.D} pixels, fitted and referenced in ${((performance.now() - t0) / 1000).toFixed(1)} s; variance kept ${(ref.space.variance.reduce((a, b) => a + b, 0)).toFixed(2)}`);
const D = held.C * held.H * held.W;
const n = DEFAULT_SAMPLES;
const idx = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const a = pickImages(held, idx(0, n));
const b = pickImages(held, idx(n, n));
const line = async (what: string, x: Float32Array, m = n) => console.log(`${what.padEnd(34)} ${formatQuality(await measureQuality(ref, project, x, m))}`);
await line('held-out real, set A', a);
await line('held-out real, set B', b);
await line('N(0, 1) noise', noiseImages(n, D), n);
for (const s of [0.05, 0.1, 0.2, 0.4]) await line(`held-out + noise σ ${s}`, addNoise(a, s, 7));
for (const s of [0.5, 1, 1.5, 2]) await line(`held-out blurred σ ${s} px`, blur(a, n, held.H, held.W, s));
const three = [...held.labels.keys()].filter((i) => held.labels[i] < 3);
const ten = idx(0, three.length);
await line(`3 classes (${three.length} images)`, pickImages(held, three), three.length);
await line(`10 classes (${ten.length} images)`, pickImages(held, ten), ten.length);
gpu.destroy();
