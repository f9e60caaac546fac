// Loss reductions on the GPU vs the f64 reference; reference gradients vs central differences of
// the reference loss (the loss is a scalar of F, so its JVP is ⟨∇L, u⟩).
import { test } from 'node:test';
import { COS_EPS, fmGradRef, fmLoss, fmLossRef, residualLoss, residualRef, type ResidualMode, type ResidualScalars } from '../../src/ops/loss';
import { Rng } from '../../src/util/rng';
import { dot, expectClose, expectScalarClose } from '../helpers/close';
import { gpuForFile } from '../helpers/gpu';

const gpu = gpuForFile();
const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));
const randn = (rng: Rng, n: number, s = 1) => f32(Array.from({ length: n }, () => rng.normal() * s));

// Each case through both kernels: a workgroup per sample (fm_stats + fm_grad) and one thread per
// sample (fm_row, the default for small N such as the 2-D mode's 2×1×1).
for (const rows of [false, true])
for (const [B, C, HW, scale] of [[2, 3, 64, 1], [3, 1, 37, 1], [5, 3, 100, 1], [2, 3, 16, 300], [70, 2, 1, 1]] as const) {
  test(`fm loss B=${B} C=${C} HW=${HW} scale=${scale}${rows ? ' (one thread per sample)' : ''}`, async () => {
    const g = await gpu();
    const rng = new Rng(B * 100 + HW);
    const N = C * HW;
    const F = randn(rng, B * N, scale), v = randn(rng, B * N, scale), w = f32(Array.from({ length: B }, () => rng.uniform(0.5, 2)));
    const d = { B, C, HW };
    const ref = fmLossRef(F, v, d);
    const tF = g.upload(F, [B, N]), tv = g.upload(v, [B, N]), tw = g.upload(w, [B]);
    const stats = g.alloc([B, 2]), dF = g.alloc([B, N]);
    fmLoss(g, tF, tv, tw, stats, dF, 0.25, d, rows);
    const st = await g.read(stats);
    expectClose('fm mse', st.filter((_, i) => i % 2 === 0), ref.mse, { rtol: 1e-4 });
    expectClose('fm cos', st.filter((_, i) => i % 2 === 1), ref.cos, { rtol: 1e-4 });
    const gradRef = fmGradRef(F, v, w, 0.25, d);
    expectClose('fm dF', await g.read(dF), gradRef, { rtol: 1e-4 });
    // reference gradient vs central differences of L = Σ_b 0.25·w_b·(mse_b + cos_b)
    const L = (x: Float64Array) => { const r = fmLossRef(x, v, d); return r.mse.reduce((a, m, b) => a + 0.25 * w[b] * (m + r.cos[b]), 0); };
    const u = randn(rng, B * N), h = 1e-6 * scale;
    const fd = (L(F.map((x, i) => x + h * u[i])) - L(F.map((x, i) => x - h * u[i]))) / (2 * h);
    expectScalarClose('fm grad vs central differences', dot(gradRef, u), fd, 1e-6, 1e-10);
    g.release(tF, tv, tw, stats, dF);
  });
}

// F = 0 exactly (adaLN-Zero's first step): current PyTorch's cosine clamps each norm on its own, so
// ∂cos/∂F = v / (ε·‖v‖) per pixel (the old max(‖F‖‖v‖, ε) gave v / ε). One sample all zero, one with
// some zero pixels, so the kernel's branch at ‖F‖ = 0 meets non-zero pixels in the same workgroup.
for (const rows of [false, true])
test(`fm loss at F = 0: the cosine gradient is v / (eps·‖v‖) per pixel, as PyTorch ≥ 2.0${rows ? ' (one thread per sample)' : ''}`, async () => {
  const g = await gpu();
  const [B, C, HW] = [2, 3, 40];
  const N = C * HW;
  const rng = new Rng(7);
  const v = randn(rng, B * N), w = f32([1, 0.5]);
  const F = randn(rng, B * N).map((x, i) => (i < N || (i % HW) % 3 === 0 ? 0 : x));
  const d = { B, C, HW };
  const scale = 0.25;
  const gradRef = fmGradRef(F, v, w, scale, d);
  // Written out for the zero pixels: mse term 2(0 − v)/N, cosine term −v/(ε‖v‖)/HW.
  for (let b = 0; b < B; b++)
    for (let px = 0; px < HW; px++) {
      const idx = Array.from({ length: C }, (_, c) => b * N + c * HW + px);
      if (idx.some((i) => F[i] !== 0)) continue;
      const nv = Math.hypot(...idx.map((i) => v[i]));
      for (const i of idx) expectScalarClose(`dF at F = 0 [${i}]`, gradRef[i], scale * w[b] * ((-2 * v[i]) / N - v[i] / (COS_EPS * nv) / HW), 1e-12, 0);
    }
  // The cosine at F = 0 is 0, so sample 0's cos term is exactly 1.
  expectScalarClose('cos term of the all-zero sample', fmLossRef(F, v, d).cos[0], 1, 1e-12);
  // Around F = 0 (‖h·u‖ < ε per pixel) the cosine is linear in F: central differences see the same gradient.
  const L = (x: Float64Array) => { const r = fmLossRef(x, v, d); return r.mse.reduce((a, m, b) => a + scale * w[b] * (m + r.cos[b]), 0); };
  const u = randn(rng, B * N).map((x, i) => (F[i] === 0 ? x : 0)), h = 1e-10;
  const fd = (L(F.map((x, i) => x + h * u[i])) - L(F.map((x, i) => x - h * u[i]))) / (2 * h);
  expectScalarClose('fm grad at F = 0 vs central differences', dot(gradRef, u), fd, 1e-6, 0);
  // And the GPU agrees with the reference, zero pixels included.
  const tF = g.upload(F, [B, N]), tv = g.upload(v, [B, N]), tw = g.upload(w, [B]);
  const stats = g.alloc([B, 2]), dF = g.alloc([B, N]);
  fmLoss(g, tF, tv, tw, stats, dF, scale, d, rows);
  const ref = fmLossRef(F, v, d);
  const st = await g.read(stats);
  expectClose('fm cos at F = 0', st.filter((_, i) => i % 2 === 1), ref.cos, { rtol: 1e-5 });
  expectClose('fm dF at F = 0', await g.read(dF), gradRef, { rtol: 1e-5, atol: 1e-7 }, [B, C, HW]); // atol: the non-zero pixels' ~1e-2 count too
  g.release(tF, tv, tw, stats, dF);
});

const modes: [string, ResidualMode][] = [
  ['facm (clamp, p=0.5)', { clamp: true, normalise: false, p: 0.5 }],
  ['no clamp', { clamp: false, normalise: false, p: 0.5 }],
  ['meanflow p=1', { clamp: false, normalise: false, p: 1 }],
  ['scm normalise', { clamp: false, normalise: true, p: 0 }],
];
for (const rows of [false, true])
for (const [name, mode] of modes)
  for (const [B, N, scale] of [[4, 192, 1], [3, 77, 1], [2, 48, 300], [70, 2, 1]] as const) {
    test(`residual loss ${name} B=${B} N=${N} scale=${scale}${rows ? ' (one thread per sample)' : ''}`, async () => {
      const g = await gpu();
      const rng = new Rng(N + B);
      const F = randn(rng, B * N, scale), v = randn(rng, B * N, scale), tF = randn(rng, B * N, 2 * scale);
      const S: ResidualScalars[] = Array.from({ length: B }, () => { const t = rng.next(); return { k: 1 - t, a: 1 - Math.sqrt(t), lambda: Math.cos((Math.PI * t) / 2), c: Math.cos((Math.PI * t) / 2) }; });
      const Sf = f32(S.flatMap((s) => [s.k, s.a, s.lambda, s.c]));
      const S64 = Array.from({ length: B }, (_, b) => ({ k: Sf[4 * b], a: Sf[4 * b + 1], lambda: Sf[4 * b + 2], c: Sf[4 * b + 3] }));
      const ref = residualRef(F, v, tF, S64, mode, 0.5, N);
      const tFt = g.upload(F, [B, N]), tv = g.upload(v, [B, N]), tt = g.upload(tF, [B, N]), tS = g.upload(Sf, [B, 4]);
      const stats = g.alloc([B, 8]), dF = g.alloc([B, N]);
      residualLoss(g, tFt, tv, tt, tS, stats, dF, mode, 0.5, { B, C: 1, HW: N }, rows);
      expectClose(`residual stats`, await g.read(stats), ref.stats, { rtol: 2e-4 }, [B, 8]);
      expectClose(`residual dF`, await g.read(dF), ref.dF, { rtol: 2e-4 }, [B, N]);
      const statsOnly = g.alloc([B, 8]);
      residualLoss(g, tFt, tv, tt, tS, statsOnly, null, mode, 0.5, { B, C: 1, HW: N }, rows);
      expectClose(`residual stats without dF`, await g.read(statsOnly), ref.stats, { rtol: 2e-4 }, [B, 8]);
      g.release(statsOnly);
      // The target is a stop-gradient, written out here from the definition (loss.wgsl's header), not
      // from ref.dF: target = F − Δ, Δ = a·φ(g) or c·g/(|c|·RMS(g) + 0.1), g = F − v − k·tF; with
      // e = mean Δ², L(x) = Σ_b 0.5·λ_b·mean (x − target)² / (e_b + 1e−3)^p, the denominator frozen.
      const target = new Float64Array(B * N), e = new Float64Array(B);
      for (let b = 0; b < B; b++) {
        const { k, a, c } = S64[b];
        const gb = Array.from({ length: N }, (_, i) => F[b * N + i] - v[b * N + i] - k * tF[b * N + i]);
        const rms = Math.abs(c) * Math.sqrt(gb.reduce((acc, x) => acc + x * x, 0) / N);
        gb.forEach((x, i) => {
          const D = mode.normalise ? (c * x) / (rms + 0.1) : a * (mode.clamp ? Math.min(1, Math.max(-1, x)) : x);
          target[b * N + i] = F[b * N + i] - D;
          e[b] += (D * D) / N;
        });
        expectScalarClose(`residual e[${b}]`, ref.stats[8 * b], e[b], 1e-9, 1e-12);
        expectScalarClose(`residual loss[${b}] = λ·e/(e + 1e−3)^p`, ref.stats[8 * b + 1], (S64[b].lambda * e[b]) / (e[b] + 1e-3) ** mode.p, 1e-9, 1e-12);
      }
      const L = (x: Float64Array) => x.reduce((acc, xi, i) => { const b = Math.floor(i / N); return acc + (0.5 * S64[b].lambda * (xi - target[i]) ** 2) / N / (e[b] + 1e-3) ** mode.p; }, 0);
      const u = randn(rng, B * N), h = 1e-6 * scale;
      const fd = (L(F.map((x, i) => x + h * u[i])) - L(F.map((x, i) => x - h * u[i]))) / (2 * h);
      expectScalarClose('residual grad vs central differences (target frozen)', dot(ref.dF, u), fd, 1e-6, 1e-10);
      g.release(tFt, tv, tt, tS, stats, dF);
    });
  }
