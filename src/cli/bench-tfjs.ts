// The peer for `npm run bench`: TensorFlow.js on its WebGPU backend, in the same Node process and on
// the same Dawn adapter as our kernels (the `webgpu` package's GPU handed to tfjs as navigator.gpu).
// It runs a plain matmul of the DiT's shapes and the same DiT (same parameter names, shapes and
// values; docs/math.md's conventions) forward + backward through tf.grads. tfjs has no JVP.

import { register } from 'node:module';
import type * as TF from '@tensorflow/tfjs-core';
import type { DiTConfig } from '../model/config';
import { tokens } from '../model/config';
import type { ParamTable } from '../model/params';
import { timeFreqs } from '../ops/embed';

export type Tf = typeof TF;

// tfjs-core's Node bundle registers no gradients; its ESM register_all_gradients does (into the
// engine-global registry the bundle shares) but imports extensionless paths, which Node's ESM
// resolver refuses: add the `.js` for imports inside tfjs-core's dist only.
const RESOLVE_JS = `export async function resolve(spec, ctx, next) {
  if (ctx.parentURL?.includes('/@tensorflow/tfjs-core/dist/') && spec.startsWith('.') && !spec.endsWith('.js')) {
    try { return await next(spec + '.js', ctx); } catch {}
  }
  return next(spec, ctx);
}`;

/** Loads tfjs-core (with its gradients) + tfjs-backend-webgpu on `gpu` (the instance our own device came from). */
export async function loadTfjs(gpu: GPU): Promise<Tf> {
  register('data:text/javascript,' + encodeURIComponent(RESOLVE_JS));
  const g = globalThis as { navigator?: { gpu?: GPU } };
  // Node 20 has no navigator; tfjs's webgpu backend only looks for navigator.gpu.
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const tf = (await import('@tensorflow/tfjs-core')) as Tf;
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
  await tf.ready();
  return tf;
}

/** Resolves when tfjs's queued GPU work has finished (a 1-element read-back orders after it). */
export async function tfSync(tf: Tf, t: TF.Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  await one.data();
  one.dispose();
}

/** `count` matmuls C = op(A)·op(B) of one shape; returns a function that records and waits for them. */
export function tfMatmul(tf: Tf, M: number, N: number, K: number, transA: boolean, transB: boolean) {
  const a = tf.randomNormal(transA ? [K, M] : [M, K]);
  const b = tf.randomNormal(transB ? [N, K] : [K, N]);
  return {
    async run(count: number): Promise<void> {
      let last: TF.Tensor | null = null;
      for (let i = 0; i < count; i++) {
        last?.dispose();
        last = tf.matMul(a, b, transA, transB);
      }
      await tfSync(tf, last!);
      last!.dispose();
    },
    dispose: () => tf.dispose([a, b]),
  };
}

/**
 * The DiT of src/model/dit.ts in tfjs ops (unconditional, no r): returns F (B, C, H, W).
 * P maps our parameter names to tensors of our shapes (PyTorch [out, in] weights).
 */
function ditForward(tf: Tf, cfg: DiTConfig, P: (n: string) => TF.Tensor, x: TF.Tensor, c: TF.Tensor, freqs: TF.Tensor): TF.Tensor {
  const { C, H, patch: p, D, heads } = cfg;
  const B = x.shape[0];
  const T = tokens(cfg);
  const g = H / p;
  const hd = D / heads;
  const lin = (v: TF.Tensor, name: string) => tf.add(tf.matMul(v, P(`${name}.weight`), false, true), P(`${name}.bias`));
  const silu = (v: TF.Tensor) => tf.mul(v, tf.sigmoid(v));
  const gelu = (v: TF.Tensor) => tf.mul(tf.mul(v, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(v, tf.mul(tf.pow(v, 3), 0.044715)), Math.sqrt(2 / Math.PI)))));
  const ln = (v: TF.Tensor) => {
    const m = tf.moments(v, -1, true);
    return tf.mul(tf.sub(v, m.mean), tf.rsqrt(tf.add(m.variance, 1e-6)));
  };
  const chunk = (mod: TF.Tensor, k: number) => tf.reshape(tf.slice(mod, [0, k * D], [B, D]), [B, 1, D]);
  const modulate = (v: TF.Tensor, mod: TF.Tensor, shift: number, scale: number) => tf.add(tf.mul(v, tf.add(1, chunk(mod, scale))), chunk(mod, shift));

  // patchify: (B, C, g, p, g, p) → (B·T, C·p·p), column (c·p + i)·p + j
  const cols = tf.reshape(tf.transpose(tf.reshape(x, [B, C, g, p, g, p]), [0, 2, 4, 1, 3, 5]), [B * T, C * p * p]);
  const w0 = tf.reshape(P('x_embedder.proj.weight'), [D, C * p * p]);
  let tok = tf.add(tf.reshape(tf.add(tf.matMul(cols, w0, false, true), P('x_embedder.proj.bias')), [B, T, D]), P('pos'));
  const args = tf.mul(tf.reshape(c, [B, 1]), freqs);
  const emb = tf.concat([tf.cos(args), tf.sin(args)], 1);
  const cvec = lin(silu(lin(emb, 't_embedder.mlp.0')), 't_embedder.mlp.2');
  const sc = silu(cvec);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`;
    const mod = lin(sc, `${b}.adaLN_modulation.1`);
    const m1 = modulate(ln(tok), mod, 0, 1);
    const qkv = tf.transpose(tf.reshape(lin(tf.reshape(m1, [B * T, D]), `${b}.attn.qkv`), [B, T, 3, heads, hd]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(qkv, 0);
    const att = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)));
    const o = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, D]);
    tok = tf.add(tok, tf.mul(chunk(mod, 2), tf.reshape(lin(o, `${b}.attn.proj`), [B, T, D])));
    const m2 = modulate(ln(tok), mod, 3, 4);
    const f = lin(gelu(lin(tf.reshape(m2, [B * T, D]), `${b}.mlp.fc1`)), `${b}.mlp.fc2`);
    tok = tf.add(tok, tf.mul(chunk(mod, 5), tf.reshape(f, [B, T, D])));
  }
  const fmod = lin(sc, 'final_layer.adaLN_modulation.1');
  const mf = modulate(ln(tok), fmod, 0, 1);
  const out = lin(tf.reshape(mf, [B * T, D]), 'final_layer.linear'); // (B·T, p·p·C), column (i·p + j)·C + c
  return tf.reshape(tf.transpose(tf.reshape(out, [B, g, g, p, p, C]), [0, 5, 1, 3, 2, 4]), [B, C, H, H]);
}

export interface TfDiT {
  /** F for the given inputs (to check the peer computes the same function). */
  forward(x: Float32Array, c: Float32Array): Promise<Float32Array>;
  /** Forward + backward of ½·mean((F − v)²) w.r.t. every parameter; resolves when the GPU is done. */
  forwardBackward(): Promise<void>;
  forwardOnly(): Promise<void>;
  dispose(): void;
}

export function tfDiT(tf: Tf, cfg: DiTConfig, table: ParamTable, flat: Float32Array, pos: Float32Array, B: number, xIn: Float32Array, cIn: Float32Array, vIn: Float32Array): TfDiT {
  if (cfg.numClasses > 0 || cfg.useR) throw new Error('tfjs peer: unconditional DiT only');
  const names = table.specs.map((s) => s.name);
  const params = table.specs.map((s) => tf.tensor(flat.subarray(s.offset, s.offset + s.size), s.shape));
  const byName = new Map(names.map((n, i) => [n, params[i]]));
  const posT = tf.tensor(pos, [1, tokens(cfg), cfg.D]);
  const freqs = tf.tensor(Float32Array.from(timeFreqs), [1, timeFreqs.length]);
  const shape = [B, cfg.C, cfg.H, cfg.W];
  const x = tf.tensor(xIn, shape);
  const c = tf.tensor(cIn, [B]);
  const v = tf.tensor(vIn, shape);
  const lookup = (ps: TF.Tensor[]) => (n: string) => (n === 'pos' ? posT : ps[names.indexOf(n)] ?? byName.get(n)!);
  const loss = (...ps: TF.Tensor[]) => tf.mul(tf.mean(tf.square(tf.sub(ditForward(tf, cfg, lookup(ps), x, c, freqs), v))), 0.5) as TF.Scalar;
  const grads = tf.grads(loss);
  return {
    async forward(xs, cs) {
      const F = tf.tidy(() => ditForward(tf, cfg, lookup(params), tf.tensor(xs, shape), tf.tensor(cs, [B]), freqs));
      const out = (await F.data()) as Float32Array;
      F.dispose();
      return out;
    },
    async forwardBackward() {
      const gs = grads(params);
      await tfSync(tf, gs[gs.length - 1]);
      tf.dispose(gs);
    },
    async forwardOnly() {
      const F = tf.tidy(() => ditForward(tf, cfg, lookup(params), x, c, freqs));
      await tfSync(tf, F);
      F.dispose();
    },
    dispose: () => tf.dispose([...params, posT, freqs, x, c, v]),
  };
}
