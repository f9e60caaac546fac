// Samplers (docs/math.md, "Sampling"), on any Backend. Between network calls the state lives on
// the CPU: sampling is not the hot path and this keeps the noise re-injection exact and seeded.

import type { Backend } from '../ops/backend';
import type { DiT, Params } from '../model/dit';
import type { Rng } from '../util/rng';

export interface SampleOptions {
  /** Class ids (conditional models); null for unconditional. */
  y?: Float32Array | null;
  /** MeanFlow-style models take (t, r) and jump from t to r. */
  meanflow?: boolean;
}

async function call<T>(be: Backend<T>, model: DiT<T>, P: Params<T>, x: Float32Array, c: number, B: number, y: Float32Array | null, r: number | null): Promise<Float64Array> {
  const { C, H, W } = model.cfg;
  const xt = be.fromArray(x, [B, C, H, W]);
  const ct = be.fromArray(new Float32Array(B).fill(c), [B]);
  const yt = y ? be.fromArray(y, [B]) : null;
  const rt = model.cfg.useR ? be.fromArray(new Float32Array(B).fill(r ?? 0), [B]) : null;
  const F = model.forward(P, { x: xt, c: ct, y: yt, r: rt }, B);
  const out = await be.toArray(F);
  be.release(xt, ct, yt, rt, F);
  return out;
}

/**
 * Consistency sampling with n network evaluations: t_i = i/n; x_end = x + (1 − t_i)·F(x, t_i);
 * re-noise to t_{i+1} with fresh ε (the reference's multistep sampler); return the last x_end.
 * n = 1 is x̂ = z + F(z, 0). For MeanFlow models, F(x, t_i, t_{i+1}) jumps exactly to t_{i+1}.
 */
export async function sampleConsistency<T>(be: Backend<T>, model: DiT<T>, P: Params<T>, z: Float32Array, B: number, nfe: number, rng: Rng, opts: SampleOptions = {}): Promise<Float32Array> {
  let x = z.slice();
  const y = opts.y ?? null;
  for (let i = 0; i < nfe; i++) {
    const t = i / nfe;
    const tn = (i + 1) / nfe;
    if (opts.meanflow) {
      const F = await call(be, model, P, x, t, B, y, tn);
      x = x.map((xi, j) => xi + (tn - t) * F[j]);
      continue;
    }
    const F = await call(be, model, P, x, t, B, y, 0);
    const xEnd = x.map((xi, j) => xi + (1 - t) * F[j]);
    if (i === nfe - 1) return xEnd;
    x = xEnd.map((xe) => tn * xe + (1 - tn) * rng.normal());
  }
  return x;
}

/**
 * The flow-matching anchor as an ODE: Euler x ← x + Δt·F(x, c) from t = 0 to 1, with c = 2 − t
 * (the FM branch of an extended-interval model) or c = t (`branch: 'cm-time'`, a stage-1 model's other half).
 */
export async function sampleEuler<T>(be: Backend<T>, model: DiT<T>, P: Params<T>, z: Float32Array, B: number, steps: number, opts: SampleOptions & { branch?: 'fm' | 'cm-time' } = {}): Promise<Float32Array> {
  let x = z.slice();
  const dt = 1 / steps;
  for (let i = 0; i < steps; i++) {
    const t = i * dt;
    const F = await call(be, model, P, x, opts.branch === 'cm-time' ? t : 2 - t, B, opts.y ?? null, model.cfg.useR ? 1 : null);
    x = x.map((xi, j) => xi + dt * F[j]);
  }
  return x;
}
