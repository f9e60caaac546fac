// The small DiT (docs/math.md, "The small DiT"; facebookresearch/DiT's models.py, parameter names
// and layouts included), written once against Backend<T>, so the same code runs on WebGPU kernels
// and on the f64 CPU reference.
//
// Dimension legend: B batch, C/H/W image, p patch, T tokens, D width, R = B·T token rows.
//
// `run` is dual-number code: with tangents (tX, tC[, tR]) every op goes through its jvp and the
// result carries dF = ∂F/∂x·tX + ∂F/∂c·tC [+ ∂F/∂r·tR]; without, the plain forward. Either way it
// can keep a tape of primal activations, from which `backward` accumulates parameter gradients.
// The dual numbers and the buffers' ownership are handled in ./dual.ts.

import type { Backend } from '../ops/backend';
import { TIME_DIM } from '../ops/embed';
import { posEmbed2d } from '../ops/patch';
import { tokens, validateConfig, type DiTConfig } from './config';
import { DualRun, GradRun, type Chunks, type Dual, type Params } from './dual';
import type { ParamTable } from './params';

export type { Params } from './dual';

export interface DiTInputs<T> {
  x: T; // (B, C, H, W)
  c: T; // (B) time condition
  y?: T | null; // (B) class ids as f32 (conditional models)
  r?: T | null; // (B) second time condition (MeanFlow)
}

export interface DiTTangents<T> {
  tX: T; // (B, C, H, W)
  tC: T; // (B)
  tR?: T | null; // (B)
}

/**
 * adaLN-Zero's modulation chunks, in DiT's order: a block's adaLN_modulation(c) is
 * (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp), the final layer's (shift, scale).
 */
const MSA: Chunks = { chunks: 6, shift: 0, scale: 1, gate: 2 };
const MLP: Chunks = { chunks: 6, shift: 3, scale: 4, gate: 5 };
const FINAL: Chunks = { chunks: 2, shift: 0, scale: 1 };

/** A block's primal activations, as backward reads them. */
interface BlockTape<T> {
  x: T; // (R, D) block input
  mod: T; // (B, 6D) adaLN_modulation(c)
  m1: T; // (R, D) modulate(norm1(x), shift_msa, scale_msa)
  qkv: T; // (R, 3D)
  att: T; // (R, D) attention output, before proj
  pr: T; // (R, D) attn(...)
  x1: T; // (R, D) x + gate_msa ⊙ attn(...)
  m2: T; // (R, D) modulate(norm2(x1), shift_mlp, scale_mlp)
  f1: T; // (R, 4D) fc1 pre-activation
  g: T; // (R, 4D) gelu(f1)
  f2: T; // (R, D) mlp(...)
}

/** A time embedder's activations: emb (B, 256), h1 = Linear(emb), h1a = SiLU(h1) (B, D). */
interface CondTape<T> {
  emb: T; h1: T; h1a: T;
}

export interface Tape<T> {
  B: number;
  cols: T; tEmb: CondTape<T>; rEmb: CondTape<T> | null; y: T | null; cvec: T; sc: T;
  blocks: BlockTape<T>[];
  tokL: T; fmod: T; mf: T; o: T;
  /** Every primal the run allocated (a superset of the named fields): what releaseTape frees. */
  own: T[];
}

export interface DiTOutput<T> {
  F: T; // (B, C, H, W)
  tF: T | null; // tangent of F when run with tangents
  tape: Tape<T> | null;
}

export class DiT<T> {
  readonly T: number;
  private readonly pos: T;
  /**
   * One token (the 2-D mode's points): softmax over a single key is exactly 1, so attention returns
   * v and q, k have no effect (their gradients are exactly 0). The block then computes only the v
   * third of attn.qkv and skips the attention kernels: the same function, a third of qkv's FLOPs.
   * Where the slice would break the GPU's binding alignment the full path runs; tests switch it off
   * to compare the two.
   */
  oneTokenShortcut: boolean;

  constructor(
    readonly be: Backend<T>,
    readonly cfg: DiTConfig,
    readonly table: ParamTable,
  ) {
    validateConfig(cfg);
    this.T = tokens(cfg);
    this.pos = be.fromArray(posEmbed2d(cfg.D, cfg.H / cfg.patch), [this.T, cfg.D]);
    this.oneTokenShortcut = this.T === 1 && be.canSlice(2 * cfg.D * cfg.D) && be.canSlice(2 * cfg.D);
  }

  private dims(B: number) {
    const { C, H, W, patch: p, D } = this.cfg;
    const T = this.T;
    return { B, T, D, R: B * T, patch: { B, C, H, W, p }, attn: { B, T, heads: this.cfg.heads, D } };
  }

  /**
   * Forward (tangents = null) or forward-mode JVP (tangents given). With keepTape the primal
   * activations are kept for `backward` (and must be freed with `releaseTape`).
   */
  run(P: Params<T>, inp: DiTInputs<T>, B: number, tangents: DiTTangents<T> | null, keepTape: boolean): DiTOutput<T> {
    const { ops } = this.be;
    const { C, patch: p } = this.cfg;
    const { T, D, R, patch } = this.dims(B);
    const f = new DualRun(this.be, P, { B, T, D }, tangents !== null);

    // x_embedder (a p×p conv of stride p as patchify + linear), then the fixed 2-D sin-cos pos_embed.
    const cols = f.keep(f.patchify(inp.x, tangents?.tX ?? null, patch)); // (R, C·p²)
    const tok0 = f.keep(f.linear(cols, 'x_embedder.proj', R, C * p * p, D)); // (R, D)
    let x: Dual<T> = [ops.broadcastAdd.forward(tok0[0], this.pos, { B, R: T * D }), tok0[1]]; // (R, D)
    f.primals.push(x[0]);

    // c = t_embedder(c) [+ y_embedder(y)] [+ r_embedder(r)]   (B, D)
    const tE = this.timeEmbedder(f, inp.c, tangents?.tC ?? null, 't_embedder', B);
    let c: Dual<T> = f.keepTangent(tE.out);
    f.primals.push(c[0]);
    if (this.cfg.numClasses > 0) {
      if (!inp.y) throw new Error('this model is class-conditional: pass labels y');
      const ye = f.temp(ops.labelEmbed.forward(P('y_embedder.embedding_table.weight'), inp.y, { B, D, rows: this.cfg.numClasses + 1 }));
      c = [ops.add.forward(c[0], ye, B * D), c[1]]; // labels carry no tangent
      f.primals.push(c[0]);
    }
    let rTape: CondTape<T> | null = null;
    if (this.cfg.useR) {
      if (!inp.r) throw new Error('this model has a second time condition: pass r');
      const rE = this.timeEmbedder(f, inp.r, f.dual ? (tangents!.tR ?? null) : null, 'r_embedder', B);
      if (f.dual && !tangents!.tR) throw new Error('JVP of an r-conditioned model needs tR');
      rTape = rE.tape;
      f.keep(rE.out);
      c = f.keep(f.add(c, rE.out, B * D));
    }
    const sc = f.keep(f.silu(c, B * D)); // (B, D) SiLU(c): what every adaLN_modulation reads

    const blocks: BlockTape<T>[] = [];
    for (let i = 0; i < this.cfg.depth; i++) {
      const b = this.block(f, i, x, sc, B);
      blocks.push(b.tape);
      x = b.out;
    }

    // final_layer: modulate(norm_final(x), shift, scale), then linear to patches.
    const fmod = f.keep(f.linear(sc, 'final_layer.adaLN_modulation.1', B, D, 2 * D)); // (B, 2D): shift, scale
    const mf = f.keep(f.normModulate(x, fmod, FINAL)); // (R, D)
    const o = f.keep(f.linear(mf, 'final_layer.linear', R, D, p * p * C)); // (R, p²·C)
    const F = f.unpatchify(o, patch); // (B, C, H, W): returned, with its tangent

    const tape: Tape<T> | null = keepTape
      ? { B, cols: cols[0], tEmb: tE.tape, rEmb: rTape, y: inp.y ?? null, cvec: c[0], sc: sc[0], blocks, tokL: x[0], fmod: fmod[0], mf: mf[0], o: o[0], own: f.primals }
      : null;
    f.end(keepTape);
    return { F: F[0], tF: F[1], tape };
  }

  /**
   * DiTBlock.forward, adaLN-Zero:
   *   shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = adaLN_modulation(c)
   *   x = x + gate_msa ⊙ attn(modulate(norm1(x), shift_msa, scale_msa))
   *   x = x + gate_mlp ⊙ mlp(modulate(norm2(x), shift_mlp, scale_mlp))
   */
  private block(f: DualRun<T>, i: number, x: Dual<T>, sc: Dual<T>, B: number): { out: Dual<T>; tape: BlockTape<T> } {
    const { D, R, attn } = this.dims(B);
    const L = `blocks.${i}`;
    const mod = f.keep(f.linear(sc, `${L}.adaLN_modulation.1`, B, D, 6 * D)); // (B, 6D)

    const m1 = f.keep(f.normModulate(x, mod, MSA)); // (R, D)
    // One token: attention is v (see oneTokenShortcut); qkv and att are then both v (R, D).
    const qkv = this.oneTokenShortcut ? f.keep(f.linear(m1, `${L}.attn.qkv`, R, D, D, 2 * D)) : f.keep(f.linear(m1, `${L}.attn.qkv`, R, D, 3 * D)); // (R, 3D)
    const att = this.oneTokenShortcut ? qkv : f.keep(f.attention(qkv, attn)); // (R, D)
    const pr = f.keep(f.linear(att, `${L}.attn.proj`, R, D, D)); // (R, D)
    const x1 = f.keep(f.gatedResidual(x, pr, mod, MSA)); // (R, D)

    const m2 = f.keep(f.normModulate(x1, mod, MLP)); // (R, D)
    const [f1, g] = f.linearGelu(m2, `${L}.mlp.fc1`, R, D, 4 * D).map(f.keep); // (R, 4D) each
    const f2 = f.keep(f.linear(g, `${L}.mlp.fc2`, R, 4 * D, D)); // (R, D)
    const x2 = f.keep(f.gatedResidual(x1, f2, mod, MLP)); // (R, D)

    return { out: x2, tape: { x: x[0], mod: mod[0], m1: m1[0], qkv: qkv[0], att: att[0], pr: pr[0], x1: x1[0], m2: m2[0], f1: f1[0], g: g[0], f2: f2[0] } };
  }

  /** TimestepEmbedder: mlp(sinusoidal(c)) = Linear(SiLU(Linear(emb))), (B) → (B, D). */
  private timeEmbedder(f: DualRun<T>, c: T, tC: T | null, prefix: string, B: number): { out: Dual<T>; tape: CondTape<T> } {
    const D = this.cfg.D;
    const emb = f.keep(f.timeEmbed(c, tC, B)); // (B, 256)
    const h1 = f.keep(f.linear(emb, `${prefix}.mlp.0`, B, TIME_DIM, D)); // (B, D)
    const h1a = f.keep(f.silu(h1, B * D));
    const out = f.linear(h1a, `${prefix}.mlp.2`, B, D, D); // (B, D)
    return { out, tape: { emb: emb[0], h1: h1[0], h1a: h1a[0] } };
  }

  forward(P: Params<T>, inp: DiTInputs<T>, B: number): T {
    return this.run(P, inp, B, null, false).F;
  }

  releaseTape(tape: Tape<T>): void {
    this.be.release(...new Set(tape.own));
  }

  /**
   * Reverse mode from dF (B, C, H, W): accumulates every parameter's gradient into G(name) (+=).
   * Inputs x, c, r get no gradient (the objectives never need one).
   */
  backward(P: Params<T>, G: Params<T>, tape: Tape<T>, dF: T): void {
    const { ops } = this.be;
    const { C, patch: p } = this.cfg;
    const B = tape.B;
    const { T, D, R, patch } = this.dims(B);
    const gr = new GradRun(this.be, P, G, { B, T, D });

    // final_layer
    const dO = ops.unpatchify.backward(dF, patch);
    const dmf = gr.linear(tape.mf, 'final_layer.linear', dO, R, D, p * p * C);
    gr.release(dO);
    const dfmod = this.be.empty([B, 2 * D]); // normModulate writes both chunks
    let dx = gr.normModulate(tape.tokL, tape.fmod, dmf, FINAL, dfmod);
    gr.release(dmf);
    const dsc = gr.linear(tape.sc, 'final_layer.adaLN_modulation.1', dfmod, B, D, 2 * D);
    gr.release(dfmod);

    for (let i = this.cfg.depth - 1; i >= 0; i--) dx = this.blockBackward(gr, i, tape.blocks[i], dx, tape.sc, B, dsc);

    // x_embedder (the fixed pos_embed has no parameters).
    gr.release(gr.linear(tape.cols, 'x_embedder.proj', dx, R, C * p * p, D));
    gr.release(dx);

    const dc = ops.silu.backward(tape.cvec, dsc, B * D); // (B, D) into every embedder
    gr.release(dsc);
    const embedderBackward = (t: CondTape<T>, prefix: string) => {
      const dh1a = gr.linear(t.h1a, `${prefix}.mlp.2`, dc, B, D, D);
      const dh1 = ops.silu.backward(t.h1, dh1a, B * D);
      gr.release(dh1a, gr.linear(t.emb, `${prefix}.mlp.0`, dh1, B, TIME_DIM, D), dh1);
    };
    embedderBackward(tape.tEmb, 't_embedder');
    if (tape.rEmb) embedderBackward(tape.rEmb, 'r_embedder');
    if (this.cfg.numClasses > 0 && tape.y)
      ops.labelEmbed.backward(tape.y, dc, { B, D, rows: this.cfg.numClasses + 1 }, G('y_embedder.embedding_table.weight'));
    gr.release(dc);
  }

  /** A block's backward from dx2 (consumed): returns dx (R, D) (new) and adds d(SiLU(c)) (B, D) into dsc. */
  private blockBackward(gr: GradRun<T>, i: number, k: BlockTape<T>, dx2: T, sc: T, B: number, dsc: T): T {
    const { ops } = this.be;
    const { D, R, attn } = this.dims(B);
    const L = `blocks.${i}`;
    const dmod = this.be.empty([B, 6 * D]); // each op below writes its own chunks: all six, so no clear

    // x2 = x1 + gate_mlp ⊙ f2,  f2 = fc2(gelu(f1)),  f1 = fc1(m2)
    const df2 = gr.gatedResidual(k.f2, k.mod, dx2, MLP, dmod);
    const df1 = gr.linearTimesGeluPrime(k.g, k.f1, `${L}.mlp.fc2`, df2, R, 4 * D, D); // fc2's dX ⊙ gelu′(f1)
    const dm2 = gr.linear(k.m2, `${L}.mlp.fc1`, df1, R, D, 4 * D);
    const dx1 = gr.normModulate(k.x1, k.mod, dm2, MLP, dmod, dx2); // dx2 + d(LN path)
    gr.release(df2, df1, dm2, dx2);

    // x1 = x + gate_msa ⊙ pr,  pr = proj(attn(qkv(m1)))
    const dpr = gr.gatedResidual(k.pr, k.mod, dx1, MSA, dmod);
    const datt = gr.linear(k.att, `${L}.attn.proj`, dpr, R, D, D);
    // One token: d(v) = d(att); q and k's gradients stay 0 (as the attention backward would give).
    const dqkv = this.oneTokenShortcut ? null : ops.attention.backward(k.qkv, datt, attn);
    const dm1 = dqkv ? gr.linear(k.m1, `${L}.attn.qkv`, dqkv, R, D, 3 * D) : gr.linear(k.m1, `${L}.attn.qkv`, datt, R, D, D, 2 * D);
    const dx = gr.normModulate(k.x, k.mod, dm1, MSA, dmod, dx1); // dx1 + d(LN path)
    gr.release(dpr, datt, dm1, dx1);
    if (dqkv) gr.release(dqkv);

    gr.linearInto(dsc, sc, `${L}.adaLN_modulation.1`, dmod, B, D, 6 * D);
    gr.release(dmod);
    return dx;
  }

  dispose(): void {
    this.be.release(this.pos);
  }
}
