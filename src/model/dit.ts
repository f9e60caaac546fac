// The small DiT (docs/math.md, "The small DiT"), written once against Backend<T>, so the same
// code runs on WebGPU kernels and on the f64 CPU reference.
//
// Dimension legend: B batch, C/H/W image, p patch, T tokens, D width, R = B·T token rows.
//
// `run` is dual-number code: with tangents (tX, tC[, tR]) every op goes through its jvp and the
// result carries dF = ∂F/∂x·tX + ∂F/∂c·tC [+ ∂F/∂r·tR]; without, the plain forward. Either way it
// can keep a tape of primal activations, from which `backward` accumulates parameter gradients.

import type { Backend } from '../ops/backend';
import { TIME_DIM } from '../ops/embed';
import { geluCpu } from '../ops/elementwise';
import { posEmbed2d } from '../ops/patch';
import { tokens, validateConfig, type DiTConfig } from './config';
import type { ParamTable } from './params';

export type Params<T> = (name: string) => T;

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

interface BlockTape<T> {
  tokIn: T; mod: T; m1: T; qkv: T; att: T; pr: T; tok1: T; m2: T; f1: T; g: T; f2: T;
}

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
  /** Test hook: write `value` (default NaN) into element `index` of the output of linear layer `name` (e.g. 'blocks.0.attn.qkv') in every run. */
  debugPoison: { name: string; index: number; value?: number } | null = null;

  constructor(
    readonly be: Backend<T>,
    readonly cfg: DiTConfig,
    readonly table: ParamTable,
  ) {
    validateConfig(cfg);
    this.T = tokens(cfg);
    this.pos = be.fromArray(posEmbed2d(cfg.D, cfg.H / cfg.patch), [this.T, cfg.D]);
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
    const { D, R, patch, attn } = this.dims(B);
    const dual = tangents !== null;
    const temps: T[] = []; // released at the end unless taped
    const tmp = (...ts: T[]) => {
      temps.push(...ts);
      return ts[0];
    };
    // Each helper returns [value, tangent|null]; tangents are temporaries always (the tape holds primals only).
    type Dv = [T, T | null];
    const lin = (x: Dv, name: string, rows: number, inF: number, outF: number): Dv => {
      const d = { rows, inF, outF };
      const out: Dv = dual ? ops.linear.jvp(x[0], x[1]!, P(`${name}.weight`), P(`${name}.bias`), d) : [ops.linear.forward(x[0], P(`${name}.weight`), P(`${name}.bias`), d), null];
      if (this.debugPoison?.name === name) this.be.poke(out[0], this.debugPoison.index, this.debugPoison.value ?? NaN);
      return out;
    };
    const act = (f: 'silu', x: Dv, n: number): Dv => (dual ? ops[f].jvp(x[0], x[1]!, n) : [ops[f].forward(x[0], n), null]);
    // Linear then GELU, GELU in the matmul's epilogue: [pre-activation, activation]. The
    // pre-activation carries no tangent (only the activation is used downstream).
    const linGelu = (x: Dv, name: string, rows: number, inF: number, outF: number): [Dv, Dv] => {
      const d = { rows, inF, outF };
      const [w, bias] = [P(`${name}.weight`), P(`${name}.bias`)];
      let pre: T, y: T, tY: T | null = null;
      if (dual) [pre, y, tY] = ops.linearGelu.jvp(x[0], x[1]!, w, bias, d);
      else [pre, y] = ops.linearGelu.forward(x[0], w, bias, d);
      if (this.debugPoison?.name === name) {
        // As if the unfused GELU had read the poisoned pre-activation.
        const v = this.debugPoison.value ?? NaN;
        this.be.poke(pre, this.debugPoison.index, v);
        this.be.poke(y, this.debugPoison.index, geluCpu.forward(Float64Array.of(v), 1)[0]);
      }
      return [[pre, null], [y, tY]];
    };
    // LayerNorm then adaLN modulate, one fused kernel: LN(x)·(1 + scale) + shift.
    const lnModulate = (x: Dv, mod: Dv, chunks: number, shift: number, scale: number): Dv => {
      const d = { B, T: this.T, D, chunks, shift, scale };
      return dual ? ops.lnModulate.jvp(x[0], x[1]!, mod[0], mod[1]!, d) : [ops.lnModulate.forward(x[0], mod[0], d), null];
    };
    const gated = (x: Dv, h: Dv, mod: Dv, gate: number): Dv => {
      const d = { B, T: this.T, D, chunks: 6, gate };
      return dual ? ops.gatedResidual.jvp(x[0], x[1]!, h[0], h[1]!, mod[0], mod[1]!, d) : [ops.gatedResidual.forward(x[0], h[0], mod[0], d), null];
    };
    const keepT = (dv: Dv): Dv => {
      if (dv[1]) tmp(dv[1]);
      return dv;
    };
    // Every primal goes to the tape or to temps; every tangent to temps once consumed.
    const primals: T[] = [];
    const keep = (dv: Dv): Dv => {
      primals.push(dv[0]);
      return keepT(dv);
    };

    // Patch embedding + fixed position embedding.
    const cols = keep(dual ? ops.patchify.jvp(inp.x, tangents!.tX, patch) : [ops.patchify.forward(inp.x, patch), null]);
    const tok0 = keep(lin(cols, 'x_embedder.proj', R, this.cfg.C * this.cfg.patch ** 2, D));
    let tok: Dv = [ops.broadcastAdd.forward(tok0[0], this.pos, { B, R: this.T * D }), tok0[1]];
    primals.push(tok[0]);

    // Conditioning vector: TimeEmbed(c) [+ LabelEmbed(y)] [+ TimeEmbed_r(r)].
    const timeMlp = (c: T, tc: T | null, prefix: string): { out: Dv; tape: CondTape<T> } => {
      const emb = keep(dual ? ops.timeEmbed.jvp(c, tc!, B) : [ops.timeEmbed.forward(c, B), null]);
      const h1 = keep(lin(emb, `${prefix}.mlp.0`, B, TIME_DIM, D));
      const h1a = keep(act('silu', h1, B * D));
      const out = lin(h1a, `${prefix}.mlp.2`, B, D, D);
      return { out, tape: { emb: emb[0], h1: h1[0], h1a: h1a[0] } };
    };
    const tC = timeMlp(inp.c, tangents?.tC ?? null, 't_embedder');
    let cvec: Dv = keepT(tC.out);
    primals.push(cvec[0]);
    if (this.cfg.numClasses > 0) {
      if (!inp.y) throw new Error('this model is class-conditional: pass labels y');
      const ye = ops.labelEmbed.forward(P('y_embedder.embedding_table.weight'), inp.y, { B, D, rows: this.cfg.numClasses + 1 });
      cvec = [ops.add.forward(cvec[0], ye, B * D), cvec[1]]; // labels carry no tangent
      primals.push(cvec[0]);
      tmp(ye);
    }
    let rTape: CondTape<T> | null = null;
    if (this.cfg.useR) {
      if (!inp.r) throw new Error('this model has a second time condition: pass r');
      const tr = timeMlp(inp.r, dual ? (tangents!.tR ?? null) : null, 'r_embedder');
      if (dual && !tangents!.tR) throw new Error('JVP of an r-conditioned model needs tR');
      rTape = tr.tape;
      keep(tr.out);
      cvec = keep(dual ? ops.add.jvp(cvec[0], cvec[1]!, tr.out[0], tr.out[1]!, B * D) : [ops.add.forward(cvec[0], tr.out[0], B * D), null]);
    }
    const sc = keep(act('silu', cvec, B * D));

    const blocks: BlockTape<T>[] = [];
    for (let i = 0; i < this.cfg.depth; i++) {
      const b = `blocks.${i}`;
      const mod = keep(lin(sc, `${b}.adaLN_modulation.1`, B, D, 6 * D)); // (B, 6D): shift1 scale1 gate1 shift2 scale2 gate2
      const m1 = keep(lnModulate(tok, mod, 6, 0, 1));
      const qkv = keep(lin(m1, `${b}.attn.qkv`, R, D, 3 * D));
      const att = keep(dual ? ops.attention.jvp(qkv[0], qkv[1]!, attn) : [ops.attention.forward(qkv[0], attn), null]);
      const pr = keep(lin(att, `${b}.attn.proj`, R, D, D));
      const tok1 = keep(gated(tok, pr, mod, 2)); // tok + gate1 ⊙ Attn(...)
      const m2 = keep(lnModulate(tok1, mod, 6, 3, 4));
      const [f1, g] = linGelu(m2, `${b}.mlp.fc1`, R, D, 4 * D).map(keep);
      const f2 = keep(lin(g, `${b}.mlp.fc2`, R, 4 * D, D));
      const tok2 = keep(gated(tok1, f2, mod, 5)); // tok1 + gate2 ⊙ MLP(...)
      blocks.push({ tokIn: tok[0], mod: mod[0], m1: m1[0], qkv: qkv[0], att: att[0], pr: pr[0], tok1: tok1[0], m2: m2[0], f1: f1[0], g: g[0], f2: f2[0] });
      tok = tok2;
    }

    const fmod = keep(lin(sc, 'final_layer.adaLN_modulation.1', B, D, 2 * D));
    const mf = keep(lnModulate(tok, fmod, 2, 0, 1));
    const o = keep(lin(mf, 'final_layer.linear', R, D, this.cfg.patch ** 2 * this.cfg.C));
    const F: [T, T | null] = dual ? ops.unpatchify.jvp(o[0], o[1]!, patch) : [ops.unpatchify.forward(o[0], patch), null];

    const tape: Tape<T> | null = keepTape
      ? { B, cols: cols[0], tEmb: tC.tape, rEmb: rTape, y: inp.y ?? null, cvec: cvec[0], sc: sc[0], blocks, tokL: tok[0], fmod: fmod[0], mf: mf[0], o: o[0], own: primals }
      : null;
    if (!keepTape) temps.push(...primals);
    this.be.release(...new Set(temps));
    return { F: F[0], tF: F[1], tape };
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
    const B = tape.B;
    const { D, R, patch, attn } = this.dims(B);
    const rel = (...ts: T[]) => this.be.release(...ts);
    const linB = (x: T, name: string, dy: T, rows: number, inF: number, outF: number, geluPre: T | null = null): T =>
      ops.linear.backward(x, P(`${name}.weight`), dy, { rows, inF, outF }, G(`${name}.weight`), G(`${name}.bias`), geluPre);

    const dO = ops.unpatchify.backward(dF, patch);
    const dmf = linB(tape.mf, 'final_layer.linear', dO, R, D, this.cfg.patch ** 2 * this.cfg.C);
    rel(dO);
    const dfmod = this.be.zeros([B, 2 * D]);
    let dtok = ops.lnModulate.backward(tape.tokL, tape.fmod, dmf, { B, T: this.T, D, chunks: 2, shift: 0, scale: 1 }, dfmod);
    rel(dmf);
    let dsc = linB(tape.sc, 'final_layer.adaLN_modulation.1', dfmod, B, D, 2 * D);
    rel(dfmod);

    for (let i = this.cfg.depth - 1; i >= 0; i--) {
      const k = tape.blocks[i];
      const b = `blocks.${i}`;
      const dmod = this.be.zeros([B, 6 * D]);
      const md = (shift: number, scale: number) => ({ B, T: this.T, D, chunks: 6, shift, scale });
      const gd = (gate: number) => ({ B, T: this.T, D, chunks: 6, gate });
      // tok2 = tok1 + gate2 ⊙ f2: dtok1 = dtok (+ the LN path below)
      const df2 = ops.gatedResidual.backward(k.f2, k.mod, dtok, gd(5), dmod);
      // g = gelu(f1): fc2's dX matmul multiplies by gelu'(f1), giving df1 directly.
      const df1 = linB(k.g, `${b}.mlp.fc2`, df2, R, 4 * D, D, k.f1);
      const dm2 = linB(k.m2, `${b}.mlp.fc1`, df1, R, D, 4 * D);
      const dln2 = ops.lnModulate.backward(k.tok1, k.mod, dm2, md(3, 4), dmod);
      const dtok1 = ops.add.forward(dtok, dln2, R * D);
      rel(df2, df1, dm2, dln2, dtok);
      // tok1 = tok + gate1 ⊙ pr
      const dpr = ops.gatedResidual.backward(k.pr, k.mod, dtok1, gd(2), dmod);
      const datt = linB(k.att, `${b}.attn.proj`, dpr, R, D, D);
      const dqkv = ops.attention.backward(k.qkv, datt, attn);
      const dm1 = linB(k.m1, `${b}.attn.qkv`, dqkv, R, D, 3 * D);
      const dln1 = ops.lnModulate.backward(k.tokIn, k.mod, dm1, md(0, 1), dmod);
      dtok = ops.add.forward(dtok1, dln1, R * D);
      rel(dpr, datt, dqkv, dm1, dln1, dtok1);
      const dsci = linB(tape.sc, `${b}.adaLN_modulation.1`, dmod, B, D, 6 * D);
      const dsc2 = ops.add.forward(dsc, dsci, B * D);
      rel(dsc, dsci, dmod);
      dsc = dsc2;
    }

    // Patch embedding (the fixed position embedding has no parameters).
    rel(linB(tape.cols, 'x_embedder.proj', dtok, R, this.cfg.C * this.cfg.patch ** 2, D));
    rel(dtok);

    const dcvec = ops.silu.backward(tape.cvec, dsc, B * D);
    rel(dsc);
    const condB = (t: CondTape<T>, prefix: string) => {
      const dh1a = linB(t.h1a, `${prefix}.mlp.2`, dcvec, B, D, D);
      const dh1 = ops.silu.backward(t.h1, dh1a, B * D);
      rel(dh1a, linB(t.emb, `${prefix}.mlp.0`, dh1, B, TIME_DIM, D), dh1);
    };
    condB(tape.tEmb, 't_embedder');
    if (tape.rEmb) condB(tape.rEmb, 'r_embedder');
    if (this.cfg.numClasses > 0 && tape.y)
      ops.labelEmbed.backward(tape.y, dcvec, { B, D, rows: this.cfg.numClasses + 1 }, G('y_embedder.embedding_table.weight'));
    rel(dcvec);
  }

  dispose(): void {
    this.be.release(this.pos);
  }
}
