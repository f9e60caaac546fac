// The second peer for `npm run bench`: jax-js (npm @jax-js/jax), the other WebGPU library with
// forward-mode AD. It runs on its WebGPU backend in the same Node process, on the same Dawn adapter
// as our kernels (the `webgpu` package's GPU handed to it as navigator.gpu, as for tfjs).
//
// The DiT below is written from facm-math.md in jax-js's numpy API (same parameter names, shapes
// and values as ours), and so is the FACM step: dF/dt by jax-js's own `jvp` along (v, 1), the
// parameter gradients by its `grad`, both under `jit`. A second implementation of the JVP that
// nobody here wrote: the bench checks that F, dF/dt and the gradients agree with ours before timing.
//
// jax-js owns its arrays by reference count: every function consumes its arguments, `.ref` keeps
// one for another use (see its README).

import type { DiTConfig } from '../model/config';
import { tokens } from '../model/config';
import type { ParamTable } from '../model/params';
import { timeFreqs } from '../ops/embed';

export type Jax = typeof import('@jax-js/jax');
type Arr = import('@jax-js/jax').Array;
type Tree = Record<string, Arr>;

/** Loads jax-js with its WebGPU backend on `gpu` (the instance our own device came from). */
export async function loadJax(gpu: GPU): Promise<Jax> {
  const g = globalThis as { navigator?: { gpu?: GPU; userAgent?: string } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  // Its WebGPU module reads navigator.userAgent (a Firefox check), which Node 20 does not define.
  if (g.navigator!.userAgent === undefined) Object.defineProperty(g.navigator, 'userAgent', { value: `Node.js/${process.versions.node}`, configurable: true });
  const jax = (await import('@jax-js/jax')) as Jax;
  const devices = await jax.init('webgpu');
  if (!devices.includes('webgpu')) throw new Error(`jax-js: no webgpu backend (have ${devices.join(', ')})`);
  jax.defaultDevice('webgpu');
  return jax;
}

/** F (B, C, H, W) of the unconditional DiT; consumes P's entries, x, c, pos and freqs. */
function dit(jax: Jax, cfg: DiTConfig, P: Tree, x: Arr, c: Arr, pos: Arr, freqs: Arr): Arr {
  const np = jax.numpy;
  const { C, H, patch: p, D, heads } = cfg;
  const B = x.shape[0];
  const T = tokens(cfg);
  const g = H / p;
  const hd = D / heads;
  const lin = (v: Arr, name: string) => np.matmul(v, np.transpose(P[`${name}.weight`])).add(P[`${name}.bias`]);
  const silu = (v: Arr) => v.ref.mul(jax.nn.sigmoid(v));
  const gelu = (v: Arr) => {
    const inner = v.ref.add(np.power(v.ref, 3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return v.mul(0.5).mul(np.tanh(inner).add(1));
  };
  const ln = (v: Arr) => {
    const d = v.ref.sub(np.mean(v, -1, { keepdims: true }));
    const variance = np.mean(np.square(d.ref), -1, { keepdims: true });
    return d.div(np.sqrt(variance.add(1e-6)));
  };
  const modulate = (v: Arr, shift: Arr, scale: Arr) => v.mul(scale.add(1)).add(shift);
  const chunks = (mod: Arr, n: number) => np.split(mod, n, 1).map((m) => m.reshape([B, 1, D]));

  const cols = x.reshape([B, C, g, p, g, p]).transpose([0, 2, 4, 1, 3, 5]).reshape([B * T, C * p * p]);
  const w0 = P['x_embedder.proj.weight'].reshape([D, C * p * p]);
  let tok = np.matmul(cols, np.transpose(w0)).add(P['x_embedder.proj.bias']).reshape([B, T, D]).add(pos);
  const args = c.reshape([B, 1]).mul(freqs);
  const emb = np.concatenate([np.cos(args.ref), np.sin(args)], 1);
  const cvec = lin(silu(lin(emb, 't_embedder.mlp.0')), 't_embedder.mlp.2');
  const sc = silu(cvec);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`;
    const [shift1, scale1, gate1, shift2, scale2, gate2] = chunks(lin(sc.ref, `${b}.adaLN_modulation.1`), 6);
    const m1 = modulate(ln(tok.ref), shift1, scale1).reshape([B * T, D]);
    const qkv = lin(m1, `${b}.attn.qkv`).reshape([B, T, 3, heads, hd]).transpose([2, 0, 3, 1, 4]);
    const [q, k, v] = np.split(qkv, 3, 0).map((a) => a.reshape([B, heads, T, hd]));
    const att = jax.nn.softmax(np.matmul(q, k.transpose([0, 1, 3, 2])).mul(1 / Math.sqrt(hd)), -1);
    const o = np.matmul(att, v).transpose([0, 2, 1, 3]).reshape([B * T, D]);
    tok = tok.add(gate1.mul(lin(o, `${b}.attn.proj`).reshape([B, T, D])));
    const m2 = modulate(ln(tok.ref), shift2, scale2).reshape([B * T, D]);
    const f = lin(gelu(lin(m2, `${b}.mlp.fc1`)), `${b}.mlp.fc2`);
    tok = tok.add(gate2.mul(f.reshape([B, T, D])));
  }
  const [shift, scale] = chunks(lin(sc, 'final_layer.adaLN_modulation.1'), 2);
  const out = lin(modulate(ln(tok), shift, scale).reshape([B * T, D]), 'final_layer.linear'); // (B·T, p·p·C)
  return out.reshape([B, g, g, p, p, C]).transpose([0, 5, 1, 3, 2, 4]).reshape([B, C, H, H]);
}

/** The FACM loss of facm-math.md given the CM target (held constant); consumes every argument. */
function facmLoss(jax: Jax, cfg: DiTConfig, P: Tree, xt: Arr, v: Arr, t: Arr, target: Arr, pos: Arr, freqs: Arr, lambdaFM: number): Arr {
  const np = jax.numpy;
  // FM anchor at c = 2 − t: MSE + mean over pixels of 1 − cos over channels (each side normalised, eps 1e-8).
  const Ffm = dit(jax, cfg, jax.tree.ref(P), xt.ref, t.ref.mul(-1).add(2), pos.ref, freqs.ref);
  const unit = (a: Arr) => a.ref.div(np.maximum(np.sqrt(np.sum(np.square(a), 1, { keepdims: true })), 1e-8));
  const mse = np.mean(np.square(Ffm.ref.sub(v.ref)), [1, 2, 3]);
  const cos = np.sum(unit(Ffm).mul(unit(v)), 1); // (B, H, W)
  const lFM = mse.add(np.mean(cos.mul(-1).add(1), [1, 2]));
  // CM branch at c = t: e = mean (F − target)², weighted by β(t) / stopgrad(√(e + 1e−3)).
  const F = dit(jax, cfg, P, xt, t.ref, pos, freqs);
  const e = np.mean(np.square(F.sub(target)), [1, 2, 3]);
  const beta = np.cos(t.mul(Math.PI / 2));
  const lCM = beta.mul(e.ref).div(jax.lax.stopGradient(np.sqrt(e.add(1e-3))));
  return np.mean(lCM).add(np.mean(lFM).mul(lambdaFM));
}

export interface JaxDiT {
  /** F and dF/dt (along ẋ = v, ċ = 1) at (x, c), by jax-js's jvp. */
  jvp(): Promise<{ F: Float32Array; tF: Float32Array }>;
  /** Gradients of the FACM loss of one step (xt, v, t), by parameter name. */
  facmGrads(): Promise<Map<string, Float32Array>>;
  forwardOnly(): Promise<void>;
  /** Forward + backward of ½·mean((F − v)²) w.r.t. every parameter. */
  forwardBackward(): Promise<void>;
  /** The FACM step: the jvp for the CM target, then grad of the loss (both jit-compiled). */
  facmStep(): Promise<void>;
  dispose(): void;
}

/**
 * The jax-js DiT on our parameters `flat` (layout `table`), batch inputs x (= x_t), c (= t) and v.
 * The FACM step uses c as t and x as x_t, as our runStep does with a plan's (x_t, t, v).
 */
export function jaxDiT(jax: Jax, cfg: DiTConfig, table: ParamTable, flat: Float32Array, pos: Float32Array, B: number, xIn: Float32Array, cIn: Float32Array, vIn: Float32Array, lambdaFM = 1): JaxDiT {
  if (cfg.numClasses > 0 || cfg.useR) throw new Error('jax-js peer: unconditional DiT only');
  const np = jax.numpy;
  const arr = (data: Float32Array, shape: number[]) => np.array(data.slice()).reshape(shape);
  const P: Tree = Object.fromEntries(table.specs.map((s) => [s.name, arr(flat.subarray(s.offset, s.offset + s.size), s.shape)]));
  const posA = arr(pos, [1, tokens(cfg), cfg.D]);
  const freqsA = arr(Float32Array.from(timeFreqs), [1, timeFreqs.length]);
  const shape = [B, cfg.C, cfg.H, cfg.W];
  const x = arr(xIn, shape);
  const c = arr(cIn, [B]);
  const v = arr(vIn, shape);
  const ones = np.ones([B]);

  const forward = jax.jit((p: Tree, xx: Arr, cc: Arr, ps: Arr, fr: Arr) => dit(jax, cfg, p, xx, cc, ps, fr));
  const lossMse = (p: Tree, xx: Arr, cc: Arr, vv: Arr, ps: Arr, fr: Arr) => np.mean(np.square(dit(jax, cfg, p, xx, cc, ps, fr).sub(vv))).mul(0.5);
  const gradMse = jax.jit(jax.grad(lossMse));
  // F, dF/dt: x and c carry tangents (v, 1); parameters and constants are closed over per call.
  const jvpF = jax.jit((p: Tree, xx: Arr, cc: Arr, tx: Arr, tc: Arr, ps: Arr, fr: Arr) =>
    jax.jvp((x_: Arr, c_: Arr) => dit(jax, cfg, p, x_, c_, ps, fr), [xx, cc], [tx, tc]),
  );
  // target = F⁻ − α·clamp(F⁻ − (v + (1 − t)·dF/dt), −1, 1), α = 1 − √t (constants for the gradient).
  const cmTarget = (F: Arr, tF: Arr, vv: Arr, tt: Arr) => {
    const b4 = (a: Arr) => a.reshape([B, 1, 1, 1]);
    const k = b4(tt.ref.mul(-1).add(1));
    const alpha = b4(np.sqrt(tt).mul(-1).add(1));
    const gRes = F.ref.sub(vv.add(k.mul(tF)));
    return F.sub(alpha.mul(np.clip(gRes, -1, 1)));
  };
  const gradFacm = jax.jit(jax.grad((p: Tree, xt: Arr, vv: Arr, tt: Arr, target: Arr, ps: Arr, fr: Arr) => facmLoss(jax, cfg, p, xt, vv, tt, target, ps, fr, lambdaFM)));
  const facm = (): Tree => {
    const [F, tF] = jvpF(jax.tree.ref(P), x.ref, c.ref, v.ref, ones.ref, posA.ref, freqsA.ref) as [Arr, Arr];
    const target = cmTarget(F, tF, v.ref, c.ref);
    return gradFacm(jax.tree.ref(P), x.ref, v.ref, c.ref, target, posA.ref, freqsA.ref) as Tree;
  };
  const settle = async (t: Tree | Arr) => {
    const leaves = (t as Arr).shape ? [t as Arr] : Object.values(t as Tree);
    await jax.blockUntilReady(leaves);
    // A one-element read orders after the queued kernels (as tfSync does for tfjs).
    const last = leaves[leaves.length - 1];
    await np.ravel(last.ref).data();
    for (const a of leaves) a.dispose();
  };
  return {
    async jvp() {
      const [F, tF] = jvpF(jax.tree.ref(P), x.ref, c.ref, v.ref, ones.ref, posA.ref, freqsA.ref) as [Arr, Arr];
      return { F: (await F.data()) as Float32Array, tF: (await tF.data()) as Float32Array };
    },
    async facmGrads() {
      const G = facm();
      const out = new Map<string, Float32Array>();
      for (const [n, a] of Object.entries(G)) out.set(n, (await a.data()) as Float32Array);
      return out;
    },
    forwardOnly: () => settle(forward(jax.tree.ref(P), x.ref, c.ref, posA.ref, freqsA.ref) as Arr),
    forwardBackward: () => settle(gradMse(jax.tree.ref(P), x.ref, c.ref, v.ref, posA.ref, freqsA.ref) as Tree),
    facmStep: () => settle(facm()),
    dispose() {
      for (const a of [...Object.values(P), posA, freqsA, x, c, v, ones]) a.dispose();
      for (const f of [forward, gradMse, jvpF, gradFacm]) (f as { dispose?: () => void }).dispose?.();
    },
  };
}
