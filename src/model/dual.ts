// The plumbing under src/model/dit.ts, so the model itself reads like DiT's models.py:
//
//   DualRun  runs each op of a forward as a dual number [value, tangent]: through the op's jvp when
//            the run carries tangents, through its forward (tangent null) otherwise; and owns every
//            buffer the run allocates: `keep` puts a primal on the tape (freed with the tape, or at
//            the end of an untaped run); tangents are freed when the run ends.
//   GradRun  the reverse-mode counterparts the backward uses: each linear layer's backward
//            accumulates its weight and bias gradients (+=) into G(name).
//
// Dimension legend: B batch, T tokens, D width, R = B·T token rows.

import type { Backend } from '../ops/backend';
import type { AttnDims } from '../ops/attention';
import type { PatchDims } from '../ops/patch';

export type Params<T> = (name: string) => T;

/** A value and its tangent (null in a plain forward). */
export type Dual<T> = [value: T, tangent: T | null];

/** Which chunks of an adaLN modulation vector (B, chunks·D) a modulate / gated residual reads. */
export interface Chunks {
  chunks: number;
  shift: number;
  scale: number;
  gate?: number;
}

export class DualRun<T> {
  /** Every primal the run allocated: the tape's to free, or freed by `end`. */
  readonly primals: T[] = [];
  private readonly temps: T[] = [];
  readonly dual: boolean;

  constructor(
    readonly be: Backend<T>,
    private readonly P: Params<T>,
    /** (B, T, D) of the token rows the modulate ops broadcast over. */
    private readonly rows: { B: number; T: number; D: number },
    tangents: boolean,
  ) {
    this.dual = tangents;
  }

  /** The primal goes to the tape (or is freed at the end); the tangent is freed at the end. */
  keep = (x: Dual<T>): Dual<T> => {
    this.primals.push(x[0]);
    return this.keepTangent(x);
  };

  /** Frees the tangent at the end; the primal stays the caller's to keep or return. */
  keepTangent(x: Dual<T>): Dual<T> {
    if (x[1]) this.temps.push(x[1]);
    return x;
  }

  /** A temporary freed at the end. */
  temp(t: T): T {
    this.temps.push(t);
    return t;
  }

  /** Frees the temporaries, and the primals too unless a tape keeps them. */
  end(keepTape: boolean): void {
    if (!keepTape) this.temps.push(...this.primals);
    this.be.release(...new Set(this.temps));
  }

  private tangent(x: Dual<T>): T {
    return x[1]!;
  }

  /**
   * y = x·Wᵀ + b with the parameters of layer `name`; with `from`, only the layer's outputs
   * [from, from + outF) (rows of W, entries of b), e.g. the v third of attn.qkv.
   */
  linear(x: Dual<T>, name: string, rows: number, inF: number, outF: number, from = 0): Dual<T> {
    const { ops } = this.be;
    const d = { rows, inF, outF };
    const [w, b] = layerSlice(this.be, this.P, name, inF, outF, from);
    return this.dual ? ops.linear.jvp(x[0], this.tangent(x), w, b, d) : [ops.linear.forward(x[0], w, b, d), null];
  }

  /**
   * Linear then GELU, GELU in the matmul's epilogue: [pre-activation, activation]. The
   * pre-activation carries no tangent (only the activation is used downstream; backward reads it).
   */
  linearGelu(x: Dual<T>, name: string, rows: number, inF: number, outF: number): [Dual<T>, Dual<T>] {
    const { ops } = this.be;
    const d = { rows, inF, outF };
    const [w, b] = [this.P(`${name}.weight`), this.P(`${name}.bias`)];
    let pre: T, y: T, tY: T | null = null;
    if (this.dual) [pre, y, tY] = ops.linearGelu.jvp(x[0], this.tangent(x), w, b, d);
    else [pre, y] = ops.linearGelu.forward(x[0], w, b, d);
    return [[pre, null], [y, tY]];
  }

  silu(x: Dual<T>, n: number): Dual<T> {
    const { ops } = this.be;
    return this.dual ? ops.silu.jvp(x[0], this.tangent(x), n) : [ops.silu.forward(x[0], n), null];
  }

  add(a: Dual<T>, b: Dual<T>, n: number): Dual<T> {
    const { ops } = this.be;
    return this.dual ? ops.add.jvp(a[0], this.tangent(a), b[0], this.tangent(b), n) : [ops.add.forward(a[0], b[0], n), null];
  }

  /** modulate(LayerNorm(x), shift, scale) = LN(x)·(1 + scale) + shift, one fused kernel. */
  normModulate(x: Dual<T>, mod: Dual<T>, m: Chunks): Dual<T> {
    const { ops } = this.be;
    const d = { ...this.rows, chunks: m.chunks, shift: m.shift, scale: m.scale };
    return this.dual ? ops.lnModulate.jvp(x[0], this.tangent(x), mod[0], this.tangent(mod), d) : [ops.lnModulate.forward(x[0], mod[0], d), null];
  }

  /** x + gate ⊙ h. */
  gatedResidual(x: Dual<T>, h: Dual<T>, mod: Dual<T>, m: Chunks): Dual<T> {
    const { ops } = this.be;
    const d = { ...this.rows, chunks: m.chunks, gate: m.gate! };
    return this.dual ? ops.gatedResidual.jvp(x[0], this.tangent(x), h[0], this.tangent(h), mod[0], this.tangent(mod), d) : [ops.gatedResidual.forward(x[0], h[0], mod[0], d), null];
  }

  attention(qkv: Dual<T>, d: AttnDims): Dual<T> {
    const { ops } = this.be;
    return this.dual ? ops.attention.jvp(qkv[0], this.tangent(qkv), d) : [ops.attention.forward(qkv[0], d), null];
  }

  patchify(x: T, tX: T | null, d: PatchDims): Dual<T> {
    const { ops } = this.be;
    return this.dual ? ops.patchify.jvp(x, tX!, d) : [ops.patchify.forward(x, d), null];
  }

  unpatchify(o: Dual<T>, d: PatchDims): Dual<T> {
    const { ops } = this.be;
    return this.dual ? ops.unpatchify.jvp(o[0], this.tangent(o), d) : [ops.unpatchify.forward(o[0], d), null];
  }

  timeEmbed(c: T, tC: T | null, B: number): Dual<T> {
    const { ops } = this.be;
    return this.dual ? ops.timeEmbed.jvp(c, tC!, B) : [ops.timeEmbed.forward(c, B), null];
  }
}

/** [W, b] of layer `name`, or of its outputs [from, from + outF) (views sharing the storage). */
function layerSlice<T>(be: Backend<T>, P: Params<T>, name: string, inF: number, outF: number, from: number): [T, T] {
  const w = P(`${name}.weight`);
  const b = P(`${name}.bias`);
  if (from === 0) return [w, b];
  return [be.slice(w, from * inF, [outF, inF]), be.slice(b, from, [outF])];
}

export class GradRun<T> {
  constructor(
    readonly be: Backend<T>,
    private readonly P: Params<T>,
    private readonly G: Params<T>,
    private readonly rows: { B: number; T: number; D: number },
  ) {}

  release(...ts: T[]): void {
    this.be.release(...ts);
  }

  /** dX of y = x·Wᵀ + b (new); dW, db += into G(name). `from` as DualRun.linear (the other outputs' gradients are left as they are). */
  linear(x: T, name: string, dY: T, rows: number, inF: number, outF: number, from = 0): T {
    const [w] = layerSlice(this.be, this.P, name, inF, outF, from);
    const [dW, db] = layerSlice(this.be, this.G, name, inF, outF, from);
    return this.be.ops.linear.backward(x, w, dY, { rows, inF, outF }, dW, db, null);
  }

  /** As `linear`, with dX added into `dxInto` (rows, inF) in the same launch instead of returned new. */
  linearInto(dxInto: T, x: T, name: string, dY: T, rows: number, inF: number, outF: number): void {
    this.be.ops.linear.backward(x, this.P(`${name}.weight`), dY, { rows, inF, outF }, this.G(`${name}.weight`), this.G(`${name}.bias`), null, dxInto);
  }

  /**
   * The backward of y = gelu(pre)·Wᵀ + b that returns d(pre) = (dY·W) ⊙ gelu′(pre) from one matmul
   * (GELU's derivative folded into the dX epilogue); dW, db += into G(name), with x = gelu(pre).
   */
  linearTimesGeluPrime(x: T, pre: T, name: string, dY: T, rows: number, inF: number, outF: number): T {
    return this.be.ops.linear.backward(x, this.P(`${name}.weight`), dY, { rows, inF, outF }, this.G(`${name}.weight`), this.G(`${name}.bias`), pre);
  }

  /** dX (new) of modulate(LN(x), shift, scale), plus `res` when given; overwrites the shift and scale chunks of dMod. */
  normModulate(x: T, mod: T, dY: T, m: Chunks, dMod: T, res: T | null = null): T {
    return this.be.ops.lnModulate.backward(x, mod, dY, { ...this.rows, chunks: m.chunks, shift: m.shift, scale: m.scale }, dMod, res);
  }

  /** dH (new) of x + gate ⊙ h (dX = dY); overwrites the gate chunk of dMod. */
  gatedResidual(h: T, mod: T, dY: T, m: Chunks, dMod: T): T {
    return this.be.ops.gatedResidual.backward(h, mod, dY, { ...this.rows, chunks: m.chunks, gate: m.gate! }, dMod);
  }
}
