// Attention family: multi-head softmax self-attention on the DiT's packed qkv (B, T, 3D) (q, k, v
// stacked in that order, heads contiguous), o (B, T, D) with heads concatenated for the proj linear.
// Per head: O = softmax(Q·Kᵀ/√hd)·V. The JVP computes O and its tangent in one kernel with an online
// softmax; the backward recomputes the softmax statistics (flash-attention style) in three passes.

import code from '../../shaders/attention.wgsl?raw';
import type { Gpu, KernelModule, Tensor } from '../gpu/runtime';

/** qkv (B, T, 3D), heads dividing D; head dim hd = D / heads ≤ MAX_HEAD_DIM. */
export interface AttnDims {
  B: number;
  T: number;
  heads: number;
  D: number;
}

export interface AttentionOps<T> {
  /** o (B, T, D). */
  forward(qkv: T, d: AttnDims): T;
  /** [o, tO], both (B, T, D), from one kernel launch. */
  jvp(qkv: T, tQkv: T, d: AttnDims): [T, T];
  /** dQkv (B, T, 3D) (new). */
  backward(qkv: T, dO: T, d: AttnDims): T;
}

/** The kernels keep one row of a head in registers (shaders/attention.wgsl MAX_HD). */
export const MAX_HEAD_DIM = 64;

/** Validates the dims and returns the head dim hd = D / heads. */
export function headDim({ B, T, heads, D }: AttnDims): number {
  for (const [k, v] of Object.entries({ B, T, heads, D }))
    if (!Number.isInteger(v) || v < 1) throw new Error(`attention: ${k} must be a positive integer (got ${v})`);
  if (D % heads) throw new Error(`attention: heads ${heads} must divide D ${D}`);
  const hd = D / heads;
  if (hd > MAX_HEAD_DIM) throw new Error(`attention: head dim D/heads = ${D}/${heads} = ${hd} exceeds ${MAX_HEAD_DIM}, the kernels' register arrays`);
  return hd;
}

// ------------------------------------------------------------------ f64 reference

/** Softmax derivative, used both ways (its Jacobian is symmetric): p ⊙ (g − ⟨p, g⟩). JVP: g = Ṡ; backward: g = dP. */
function softmaxGrad(p: Float64Array, g: Float64Array): Float64Array {
  let bar = 0;
  for (let j = 0; j < p.length; j++) bar += p[j] * g[j];
  return p.map((pj, j) => pj * (g[j] - bar));
}

/** Views of head h of batch b: index of (t, part 0|1|2, c) in qkv, and of (t, c) in o. */
function layout(d: AttnDims) {
  const hd = headDim(d);
  const { T, D } = d;
  return {
    hd,
    scale: 1 / Math.sqrt(hd),
    at: (b: number, t: number, part: number, h: number, c: number) => (b * T + t) * 3 * D + part * D + h * hd + c,
    atO: (b: number, t: number, h: number, c: number) => (b * T + t) * D + h * hd + c,
  };
}

/** Logits row i of head (b, h): S_ij = scale·Σ_c q_ic k_jc (qA, kA pick where q and k come from). */
function logits(qA: Float64Array, kA: Float64Array, b: number, h: number, i: number, d: AttnDims): Float64Array {
  const { hd, scale, at } = layout(d);
  const s = new Float64Array(d.T);
  for (let j = 0; j < d.T; j++) {
    let x = 0;
    for (let c = 0; c < hd; c++) x += qA[at(b, i, 0, h, c)] * kA[at(b, j, 1, h, c)];
    s[j] = x * scale;
  }
  return s;
}

function softmax(s: Float64Array): Float64Array {
  let m = -Infinity;
  for (const x of s) m = Math.max(m, x);
  const e = s.map((x) => Math.exp(x - m));
  const l = e.reduce((a, x) => a + x, 0);
  return e.map((x) => x / l);
}

/** Calls fn(b, h, i, P_i) for every query row of every head. */
function eachRow(qkv: Float64Array, d: AttnDims, fn: (b: number, h: number, i: number, p: Float64Array) => void): void {
  for (let b = 0; b < d.B; b++)
    for (let h = 0; h < d.heads; h++)
      for (let i = 0; i < d.T; i++) fn(b, h, i, softmax(logits(qkv, qkv, b, h, i, d)));
}

function checkSize(name: string, n: number, want: number): void {
  if (n !== want) throw new Error(`attention: ${name} has ${n} elements, want ${want}`);
}

export const attentionCpu: AttentionOps<Float64Array> = {
  forward(qkv, d) {
    const { hd, at, atO } = layout(d);
    checkSize('qkv', qkv.length, d.B * d.T * 3 * d.D);
    const o = new Float64Array(d.B * d.T * d.D);
    eachRow(qkv, d, (b, h, i, p) => {
      for (let j = 0; j < d.T; j++) for (let c = 0; c < hd; c++) o[atO(b, i, h, c)] += p[j] * qkv[at(b, j, 2, h, c)];
    });
    return o;
  },
  jvp(qkv, tQkv, d) {
    const { hd, at, atO } = layout(d);
    checkSize('tQkv', tQkv.length, qkv.length);
    const o = attentionCpu.forward(qkv, d);
    const tO = new Float64Array(o.length);
    eachRow(qkv, d, (b, h, i, p) => {
      // Ṡ = (Q̇Kᵀ + QK̇ᵀ)·scale
      const tqK = logits(tQkv, qkv, b, h, i, d);
      const qtK = logits(qkv, tQkv, b, h, i, d);
      const tP = softmaxGrad(p, tqK.map((x, j) => x + qtK[j]));
      for (let j = 0; j < d.T; j++)
        for (let c = 0; c < hd; c++) tO[atO(b, i, h, c)] += tP[j] * qkv[at(b, j, 2, h, c)] + p[j] * tQkv[at(b, j, 2, h, c)];
    });
    return [o, tO];
  },
  backward(qkv, dO, d) {
    const { hd, scale, at, atO } = layout(d);
    checkSize('dO', dO.length, d.B * d.T * d.D);
    const dQkv = new Float64Array(qkv.length);
    eachRow(qkv, d, (b, h, i, p) => {
      const dP = new Float64Array(d.T);
      for (let j = 0; j < d.T; j++) for (let c = 0; c < hd; c++) dP[j] += dO[atO(b, i, h, c)] * qkv[at(b, j, 2, h, c)];
      const dS = softmaxGrad(p, dP);
      for (let j = 0; j < d.T; j++)
        for (let c = 0; c < hd; c++) {
          dQkv[at(b, i, 0, h, c)] += scale * dS[j] * qkv[at(b, j, 1, h, c)];
          dQkv[at(b, j, 1, h, c)] += scale * dS[j] * qkv[at(b, i, 0, h, c)];
          dQkv[at(b, j, 2, h, c)] += p[j] * dO[atO(b, i, h, c)];
        }
    });
    return dQkv;
  },
};

// ------------------------------------------------------------------ GPU

export const attentionKernel: KernelModule<'forward' | 'jvp' | 'bwd_stats' | 'bwd_dq' | 'bwd_dkv'> = {
  name: 'attention',
  code,
  entries: {
    forward: ['dims', 'qkv', 'o'],
    jvp: ['dims', 'qkv', 'o', 'tQkv', 'tO'],
    bwd_stats: ['dims', 'qkv', 'dO', 'statsOut'],
    bwd_dq: ['dims', 'qkv', 'dO', 'stats', 'dQkv'],
    bwd_dkv: ['dims', 'qkv', 'dO', 'stats', 'dQkv'],
  },
};

const TILE_FLOATS = 1024; // shaders/attention.wgsl CAP
const MAX_TILE_ROWS = 64; // shaders/attention.wgsl MAX_ROWS

/** Threads (rows) per workgroup: T rounded up to a power of two, 8..MAX_TILE_ROWS. */
export function attentionWorkgroup(T: number): number {
  let wg = 8;
  while (wg < T && wg < MAX_TILE_ROWS) wg *= 2;
  return wg;
}

/**
 * 'tiled': the other side's rows shared through workgroup tiles of `rows` rows, one (b, h) per
 * workgroup of `wg` threads (GPUs); 'direct': no tiles and no barriers, rows of every (b, h) packed
 * into full groups of `wg` (CPU-like adapters). The tile sizes are what autotuning picks
 * (src/ops/tune.ts); the shader takes `wg` as its WG override and `rows` as a uniform.
 */
export type AttentionVariant = { kind: 'tiled'; wg: number; rows: number } | { kind: 'direct'; wg: number };

/** The forward, the JVP and the backward's three passes: each is tuned on its own. */
export type AttentionPass = 'forward' | 'jvp' | 'backward';

/** A variant's short name: tiled32r16 (32 threads, tiles of 16 rows), direct64. */
export const attentionVariantKey = (v: AttentionVariant): string => (v.kind === 'tiled' ? `tiled${v.wg}r${v.rows}` : `direct${v.wg}`);

/** Tile rows that fit: ≤ the group's threads (one thread loads each row's statistics), ≤ CAP / hd floats. */
const maxTileRows = (hd: number, wg: number) => Math.min(Math.floor(TILE_FLOATS / hd), wg, MAX_TILE_ROWS);

/** The shape key of an attention pass on dims d (the cache's key, and what the profile shows). */
export const attentionShapeKey = (pass: AttentionPass, d: AttnDims): string => `attention.${pass} ${d.B}x${d.T}x${d.heads}x${d.D}`;

/**
 * Every variant that can serve d: tiles of T rounded up to a power of two threads and up to two
 * halvings of it (≥ 8), each with the largest tile that fits and half of it (≥ 4 rows); the
 * untiled kernel at 32 and 64 threads.
 */
export function attentionCandidates(d: AttnDims): AttentionVariant[] {
  const hd = headDim(d);
  const out: AttentionVariant[] = [];
  for (let wg = attentionWorkgroup(d.T), n = 0; wg >= 8 && n < 3; wg /= 2, n++) {
    const top = maxTileRows(hd, wg);
    out.push({ kind: 'tiled', wg, rows: top });
    if (top >= 8) out.push({ kind: 'tiled', wg, rows: top / 2 });
  }
  out.push({ kind: 'direct', wg: 32 }, { kind: 'direct', wg: 64 });
  return out;
}

/** The untuned choice: untiled on CPU-like adapters (barriers cost more than the loads they share), else the largest tile. */
export function attentionRule(gpu: Gpu, d: AttnDims, kind?: AttentionVariant['kind']): AttentionVariant {
  if ((kind ?? (gpu.cpuLike ? 'direct' : 'tiled')) === 'direct') return { kind: 'direct', wg: 64 };
  const wg = attentionWorkgroup(d.T);
  return { kind: 'tiled', wg, rows: maxTileRows(headDim(d), wg) };
}

/** Per-Gpu attention choices from autotuning (src/ops/tune.ts), by attentionShapeKey. */
const attentionChoices = new WeakMap<Gpu, Map<string, AttentionVariant>>();

export function setAttentionChoices(gpu: Gpu, choices: Map<string, AttentionVariant>): void {
  attentionChoices.set(gpu, choices);
}

/** Whether chooseAttention's pick for this pass and shape comes from autotuning. */
export function isTunedAttention(gpu: Gpu, pass: AttentionPass, d: AttnDims): boolean {
  return attentionChoices.get(gpu)?.has(attentionShapeKey(pass, d)) ?? false;
}

/** The tuned variant of this pass and shape on this Gpu where there is one, else the rule. */
export function chooseAttention(gpu: Gpu, pass: AttentionPass, d: AttnDims): AttentionVariant {
  return attentionChoices.get(gpu)?.get(attentionShapeKey(pass, d)) ?? attentionRule(gpu, d);
}

const MAX_GRID = 65535;

/**
 * The attention ops on a Gpu. `force`: one layout ('tiled' or 'direct' at the rule's sizes) or one
 * variant for every call, whatever the tuning chose (tests, the tuner).
 */
export function attentionGpu(gpu: Gpu, force?: AttentionVariant['kind'] | AttentionVariant): AttentionOps<Tensor> {
  const setup = (pass: AttentionPass, d: AttnDims, tensors: [string, Tensor, number][]) => {
    const hd = headDim(d);
    for (const [name, t, per] of tensors) checkSize(name, t.size, d.B * d.T * per);
    const v = typeof force === 'object' ? force : force ? attentionRule(gpu, d, force) : chooseAttention(gpu, pass, d);
    const tiled = v.kind === 'tiled';
    const wg = v.wg;
    const rows = tiled ? v.rows : 0;
    if (tiled && (rows < 1 || rows > maxTileRows(hd, wg))) throw new RangeError(`attention: ${attentionVariantKey(v)} does not fit head dim ${hd} (at most ${maxTileRows(hd, wg)} rows)`);
    const flatGroups = Math.ceil((d.B * d.heads * d.T) / wg);
    if (!tiled && flatGroups > MAX_GRID) throw new RangeError(`attention: ${d.B * d.heads * d.T} rows exceed the direct kernel's grid`);
    // In a profile, each pass is labelled with its variant and shape (as matmuls are).
    const detail = gpu.profilingOn ? `${attentionVariantKey(v)} ${d.B}×${d.T}×${d.heads}×${d.D}` : undefined;
    return {
      params: () => ({ B: d.B, T: d.T, H: d.heads, D: d.D, hd, rows, scale: 1 / Math.sqrt(hd) }),
      grid: (tiled ? [Math.ceil(d.T / wg), d.heads, d.B] : [flatGroups, 1, 1]) as [number, number, number],
      constants: { WG: wg, TILED: tiled ? 1 : 0 },
      detail,
    };
  };
  return {
    forward(qkv, d) {
      const { params, grid, constants, detail } = setup('forward', d, [['qkv', qkv, 3 * d.D]]);
      const o = gpu.alloc([d.B, d.T, d.D], 'attention.o');
      gpu.dispatch(attentionKernel, 'forward', params(), [qkv, o], grid, constants, detail);
      return o;
    },
    jvp(qkv, tQkv, d) {
      const { params, grid, constants, detail } = setup('jvp', d, [['qkv', qkv, 3 * d.D], ['tQkv', tQkv, 3 * d.D]]);
      const o = gpu.alloc([d.B, d.T, d.D], 'attention.o');
      const tO = gpu.alloc([d.B, d.T, d.D], 'attention.tO');
      gpu.dispatch(attentionKernel, 'jvp', params(), [qkv, o, tQkv, tO], grid, constants, detail);
      return [o, tO];
    },
    backward(qkv, dO, d) {
      const { params, grid, constants, detail } = setup('backward', d, [['qkv', qkv, 3 * d.D], ['dO', dO, d.D]]);
      const stats = gpu.alloc([d.B, d.heads, d.T, 2], 'attention.stats');
      const dQkv = gpu.alloc([d.B, d.T, 3 * d.D], 'attention.dQkv');
      gpu.dispatch(attentionKernel, 'bwd_stats', params(), [qkv, dO, stats], grid, constants, detail);
      gpu.dispatch(attentionKernel, 'bwd_dq', params(), [qkv, dO, stats, dQkv], grid, constants, detail);
      gpu.dispatch(attentionKernel, 'bwd_dkv', params(), [qkv, dO, stats, dQkv], grid, constants, detail);
      gpu.release(stats);
      return dQkv;
    },
  };
}
