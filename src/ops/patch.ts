// Patch family: the DiT's way in and out of token space, plus its fixed 2-D position embedding.
//   patchify    x (B, C, H, W) → cols (B·T, C·p·p), column (c·p + i)·p + j: im2col for the p×p
//               stride-p patch conv, so the conv weight [D, C, p, p] is used as-is as a linear
//               weight [D, C·p·p] (PyTorch's layout) and the patch embedding is `linear` on cols.
//   unpatchify  y (B·T, p·p·C) → img (B, C, H, W), column (i·p + j)·C + c: DiT's
//               x.reshape(N, h, w, p, p, c) → einsum('nhwpqc->nchpwq').
// Both are permutations (patches do not overlap): jvp is the forward on the tangent, backward the
// inverse permutation, overwriting its output.

import code from '../../shaders/patch.wgsl?raw';
import type { Gpu, KernelModule, Tensor } from '../gpu/runtime';

/** Image (B, C, H, W), patch p. Tokens T = (H/p)·(W/p); token index = row·(W/p) + col. */
export interface PatchDims {
  B: number;
  C: number;
  H: number;
  W: number;
  p: number;
}

export interface PatchifyOps<T> {
  /** x (B, C, H, W) → cols (B·T, C·p·p), column (c·p + i)·p + j. */
  forward(x: T, d: PatchDims): T;
  /** Linear: the forward kernel on the tangent. */
  jvp(x: T, tX: T, d: PatchDims): [T, T];
  /** dCols (B·T, C·p·p) → dX (B, C, H, W) (new, overwritten). */
  backward(dCols: T, d: PatchDims): T;
}

export interface UnpatchifyOps<T> {
  /** y (B·T, p·p·C) → img (B, C, H, W), column (i·p + j)·C + c. */
  forward(y: T, d: PatchDims): T;
  jvp(y: T, tY: T, d: PatchDims): [T, T];
  /** dImg (B, C, H, W) → dY (B·T, p·p·C) (new, overwritten). */
  backward(dImg: T, d: PatchDims): T;
}

function check({ B, C, H, W, p }: PatchDims, what: string, got: number, want: 'image' | 'tokens'): void {
  for (const [k, v] of Object.entries({ B, C, H, W, p }))
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what}: ${k} must be a positive integer (got ${v})`);
  if (H % p || W % p) throw new Error(`${what}: patch ${p} must divide H ${H} and W ${W}`);
  const n = B * C * H * W;
  if (got !== n) {
    const shape = want === 'image' ? `(B, C, H, W) = (${B}, ${C}, ${H}, ${W})` : `(B·T, p·p·C) = (${(B * H * W) / (p * p)}, ${C * p * p})`;
    throw new Error(`${what}: input has ${got} elements, want ${shape} = ${n}`);
  }
}

// ------------------------------------------------------------------ f64 reference

/**
 * Calls f(imageIndex, tokenIndex) for every image element. channelsLast picks unpatchify's column
 * order (i, j, c); otherwise patchify's (c, i, j). Forward and backward both walk this one map.
 */
function forEachPatchElement({ B, C, H, W, p }: PatchDims, channelsLast: boolean, f: (img: number, tok: number) => void): void {
  const Hp = H / p;
  const Wp = W / p;
  const K = C * p * p;
  for (let b = 0; b < B; b++)
    for (let hp = 0; hp < Hp; hp++)
      for (let wp = 0; wp < Wp; wp++) {
        const row = (b * Hp + hp) * Wp + wp;
        for (let c = 0; c < C; c++)
          for (let i = 0; i < p; i++)
            for (let j = 0; j < p; j++) {
              const col = channelsLast ? (i * p + j) * C + c : (c * p + i) * p + j;
              f(((b * C + c) * H + hp * p + i) * W + wp * p + j, row * K + col);
            }
      }
}

function toTokens(img: Float64Array, d: PatchDims, channelsLast: boolean): Float64Array {
  const out = new Float64Array(img.length);
  forEachPatchElement(d, channelsLast, (i, t) => (out[t] = img[i]));
  return out;
}

function toImage(tok: Float64Array, d: PatchDims, channelsLast: boolean): Float64Array {
  const out = new Float64Array(tok.length);
  forEachPatchElement(d, channelsLast, (i, t) => (out[i] = tok[t]));
  return out;
}

export const patchifyCpu: PatchifyOps<Float64Array> = {
  forward(x, d) {
    check(d, 'patchify', x.length, 'image');
    return toTokens(x, d, false);
  },
  jvp: (x, tX, d) => [patchifyCpu.forward(x, d), patchifyCpu.forward(tX, d)],
  backward(dCols, d) {
    check(d, 'patchify.backward', dCols.length, 'tokens');
    return toImage(dCols, d, false);
  },
};

export const unpatchifyCpu: UnpatchifyOps<Float64Array> = {
  forward(y, d) {
    check(d, 'unpatchify', y.length, 'tokens');
    return toImage(y, d, true);
  },
  jvp: (y, tY, d) => [unpatchifyCpu.forward(y, d), unpatchifyCpu.forward(tY, d)],
  backward(dImg, d) {
    check(d, 'unpatchify.backward', dImg.length, 'image');
    return toTokens(dImg, d, true);
  },
};

// ------------------------------------------------------------------ GPU

type PatchEntry = 'patchify' | 'patchify_backward' | 'unpatchify' | 'unpatchify_backward';

export const patchKernel: KernelModule<PatchEntry> = {
  name: 'patch',
  code,
  entries: {
    patchify: ['dims', 'src', 'dst'],
    patchify_backward: ['dims', 'src', 'dst'],
    unpatchify: ['dims', 'src', 'dst'],
    unpatchify_backward: ['dims', 'src', 'dst'],
  },
};

const WG = 256;

function run(gpu: Gpu, entry: PatchEntry, src: Tensor, d: PatchDims, outShape: number[], label: string): Tensor {
  check(d, entry, src.size, entry === 'patchify' || entry === 'unpatchify_backward' ? 'image' : 'tokens');
  const out = gpu.alloc(outShape, label);
  // One thread per image element, on a 2-D grid when one row of workgroups is not enough.
  const groups = Math.ceil(src.size / WG);
  const maxX = gpu.limits.maxComputeWorkgroupsPerDimension;
  const gx = Math.min(groups, maxX);
  gpu.dispatch(patchKernel, entry, { B: d.B, C: d.C, H: d.H, W: d.W, p: d.p }, [src, out], [gx, Math.ceil(groups / gx)]);
  return out;
}

const imageShape = (d: PatchDims) => [d.B, d.C, d.H, d.W];
const tokenShape = (d: PatchDims) => [(d.B * d.H * d.W) / (d.p * d.p), d.C * d.p * d.p];

export function patchifyGpu(gpu: Gpu): PatchifyOps<Tensor> {
  const fwd = (x: Tensor, d: PatchDims, label: string) => run(gpu, 'patchify', x, d, tokenShape(d), label);
  return {
    forward: (x, d) => fwd(x, d, 'patchify.cols'),
    jvp: (x, tX, d) => [fwd(x, d, 'patchify.cols'), fwd(tX, d, 'patchify.tCols')],
    backward: (dCols, d) => run(gpu, 'patchify_backward', dCols, d, imageShape(d), 'patchify.dX'),
  };
}

export function unpatchifyGpu(gpu: Gpu): UnpatchifyOps<Tensor> {
  const fwd = (y: Tensor, d: PatchDims, label: string) => run(gpu, 'unpatchify', y, d, imageShape(d), label);
  return {
    forward: (y, d) => fwd(y, d, 'unpatchify.img'),
    jvp: (y, tY, d) => [fwd(y, d, 'unpatchify.img'), fwd(tY, d, 'unpatchify.tImg')],
    backward: (dImg, d) => run(gpu, 'unpatchify_backward', dImg, d, tokenShape(d), 'unpatchify.dY'),
  };
}

// ------------------------------------------------------------------ position embedding

/**
 * DiT's fixed 2-D sin-cos position embedding (get_2d_sincos_pos_embed), (T, D) row-major in f64,
 * T = grid² tokens in row-major (h, w) order. As in DiT's code, meshgrid(grid_w, grid_h) puts the
 * w coordinate in grid[0], so the first D/2 columns embed the column index w and the second D/2 the
 * row index h. Each half is [sin(pos·ω), cos(pos·ω)] (sin block first), ω_k = 10000^(−k/(D/4)).
 */
export function posEmbed2d(D: number, grid: number): Float64Array {
  if (!Number.isInteger(D) || D < 4 || D % 4)
    throw new Error(`posEmbed2d: D ${D} must be a positive multiple of 4 (two sin-cos halves of sin and cos blocks)`);
  if (!Number.isInteger(grid) || grid < 1) throw new Error(`posEmbed2d: grid must be a positive integer (got ${grid})`);
  const quarter = D / 4;
  const omega = Float64Array.from({ length: quarter }, (_, k) => 1 / 10000 ** (k / quarter));
  const out = new Float64Array(grid * grid * D);
  for (let h = 0; h < grid; h++)
    for (let w = 0; w < grid; w++) {
      const row = (h * grid + w) * D;
      for (const [half, pos] of [[0, w], [1, h]] as const)
        for (let k = 0; k < quarter; k++) {
          out[row + half * 2 * quarter + k] = Math.sin(pos * omega[k]);
          out[row + half * 2 * quarter + quarter + k] = Math.cos(pos * omega[k]);
        }
    }
  return out;
}
