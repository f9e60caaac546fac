// Known degradations of real images, for validating the metrics (tests/metrics, scripts/validate-
// metrics.ts): additive Gaussian noise and Gaussian blur, each with a strength that should raise FD
// monotonically. Images are (n, C, H, W) in [−1, 1].

import { Rng } from '../util/rng';

/** images + σ·N(0, 1), clipped to [−1, 1] like any image. */
export function addNoise(images: Float32Array, sigma: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return images.map((v) => Math.min(1, Math.max(-1, v + sigma * rng.normal())));
}

/** Separable Gaussian blur of std `sigma` pixels per plane (edges clamped), kernel radius ⌈3σ⌉. */
export function blur(images: Float32Array, planes: number, H: number, W: number, sigma: number): Float32Array {
  if (images.length !== planes * H * W) throw new Error(`blur: ${images.length} values for ${planes} planes of ${H}×${W}`);
  const r = Math.max(1, Math.ceil(3 * sigma));
  const w = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = w.reduce((a, b) => a + b, 0);
  const k = w.map((x) => x / sum);
  const tmp = new Float32Array(H * W);
  const out = new Float32Array(images.length);
  const clampI = (i: number, n: number) => Math.min(n - 1, Math.max(0, i));
  for (let p = 0; p < planes; p++) {
    const src = images.subarray(p * H * W, (p + 1) * H * W);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let j = -r; j <= r; j++) s += k[j + r] * src[y * W + clampI(x + j, W)];
        tmp[y * W + x] = s;
      }
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let j = -r; j <= r; j++) s += k[j + r] * tmp[clampI(y + j, H) * W + x];
        out[p * H * W + y * W + x] = s;
      }
  }
  return out;
}
