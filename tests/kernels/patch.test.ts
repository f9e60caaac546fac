import { test } from 'node:test';
import { opTests, type OpCase, type OpSpec } from '../helpers/opcheck';
import { expectClose } from '../helpers/close';
import { gpuForFile } from '../helpers/gpu';
import { cpuBackend, gpuBackend, type Backend } from '../../src/ops/backend';
import type { PatchDims } from '../../src/ops/patch';
import { Rng } from '../../src/util/rng';

interface PatchCase extends OpCase {
  d: PatchDims;
}

// Permutations: no arithmetic, so the defaults (rtol 1e-4) are loose; no extreme case (linear op).
const shapes: [string, PatchDims][] = [
  ['B2 C3 8×8 p2', { B: 2, C: 3, H: 8, W: 8, p: 2 }],
  ['one patch: B1 C1 4×4 p4', { B: 1, C: 1, H: 4, W: 4, p: 4 }],
  ['odd B3 C3 6×10 p2 (non-square, 540 elements)', { B: 3, C: 3, H: 6, W: 10, p: 2 }],
  ['CIFAR B2 C3 32×32 p4', { B: 2, C: 3, H: 32, W: 32, p: 4 }],
  ['2-D points: B5 C2 1×1 p1 (one token per point)', { B: 5, C: 2, H: 1, W: 1, p: 1 }],
];

const rows = (d: PatchDims) => (d.B * d.H * d.W) / (d.p * d.p);

const patchify: OpSpec<PatchCase> = {
  name: 'patchify',
  cases: shapes.map(([label, d]) => ({ label, d, inputs: { x: [d.B, d.C, d.H, d.W] } })),
  forward: (be, c, v) => [be.ops.patchify.forward(v.x, c.d)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops.patchify.jvp(v.x, t.x, c.d);
    return [[y], [tY]];
  },
  backward: (be, c, _v, [dCols]) => ({ x: be.ops.patchify.backward(dCols, c.d) }),
};

const unpatchify: OpSpec<PatchCase> = {
  name: 'unpatchify',
  cases: shapes.map(([label, d]) => ({ label, d, inputs: { y: [rows(d), d.p * d.p * d.C] } })),
  forward: (be, c, v) => [be.ops.unpatchify.forward(v.y, c.d)],
  jvp: (be, c, v, t) => {
    const [img, tImg] = be.ops.unpatchify.jvp(v.y, t.y, c.d);
    return [[img], [tImg]];
  },
  backward: (be, c, _v, [dImg]) => ({ y: be.ops.unpatchify.backward(dImg, c.d) }),
};

opTests(patchify);
opTests(unpatchify);

// ------------------------------------------------------------------ orderings pinned independently

const gpu = gpuForFile();

/** Runs `f` on the f64 reference and on the GPU. */
function onBoth(name: string, f: <T>(be: Backend<T>, tag: string) => Promise<void>): void {
  test(`${name} (cpu)`, () => f(cpuBackend(), `${name} (cpu)`));
  test(`${name} (gpu)`, async () => {
    const g = await gpu();
    await f(gpuBackend(g), `${name} (gpu)`);
    g.checkErrors();
  });
}

/** Direct f64 conv2d, kernel p×p stride p, as DiT's PatchEmbed: out (B, T, D), T row-major over (h, w). */
function conv2dTokens(x: Float64Array, w: Float64Array, bias: Float64Array, { B, C, H, W, p }: PatchDims, D: number): Float64Array {
  const Hp = H / p;
  const Wp = W / p;
  const out = new Float64Array(B * Hp * Wp * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hp; h++)
      for (let ww = 0; ww < Wp; ww++)
        for (let o = 0; o < D; o++) {
          let s = bias[o];
          for (let c = 0; c < C; c++)
            for (let i = 0; i < p; i++)
              for (let j = 0; j < p; j++) s += w[((o * C + c) * p + i) * p + j] * x[((b * C + c) * H + h * p + i) * W + ww * p + j];
          out[((b * Hp + h) * Wp + ww) * D + o] = s;
        }
  return out;
}

/** DiT's unpatchify inverse, written from its einsum: y[n, h, w, p, q, c] = img[n, c, h·p + p_, w·p + q]. */
function ditTokens(img: Float64Array, { B, C, H, W, p }: PatchDims): Float64Array {
  const Hp = H / p;
  const Wp = W / p;
  const y = new Float64Array(img.length);
  let k = 0;
  for (let n = 0; n < B; n++)
    for (let h = 0; h < Hp; h++)
      for (let w = 0; w < Wp; w++)
        for (let pi = 0; pi < p; pi++)
          for (let q = 0; q < p; q++)
            for (let c = 0; c < C; c++) y[k++] = img[((n * C + c) * H + h * p + pi) * W + w * p + q];
  return y;
}

const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));
const randn = (n: number, rng: Rng) => f32(Array.from({ length: n }, () => rng.normal()));
const ramp = (n: number) => Float64Array.from({ length: n }, (_, i) => i);
const exact = { rtol: 0, atol: 0 };

const pinCases: [PatchDims, number][] = [
  [{ B: 2, C: 3, H: 8, W: 12, p: 2 }, 5],
  [{ B: 1, C: 2, H: 8, W: 8, p: 4 }, 7],
];

for (const [d, D] of pinCases) {
  const dims = `B${d.B} C${d.C} ${d.H}×${d.W} p${d.p}`;
  onBoth(`patchify + linear with the conv weight [D, C, p, p] = direct conv2d (${dims}, D ${D})`, async (be, tag) => {
    const rng = new Rng(7);
    const K = d.C * d.p * d.p;
    const x = randn(d.B * d.C * d.H * d.W, rng);
    const w = randn(D * K, rng);
    const bias = randn(D, rng);
    const R = rows(d);
    const xT = be.fromArray(x, [d.B, d.C, d.H, d.W]);
    const wT = be.fromArray(w, [D, K]);
    const bT = be.fromArray(bias, [D]);
    const cols = be.ops.patchify.forward(xT, d);
    const tok = be.ops.linear.forward(cols, wT, bT, { rows: R, inF: K, outF: D });
    const got = await be.toArray(tok);
    // f32 sums of K ≤ 32 products on the GPU; the reference is exact up to f64 rounding.
    expectClose(tag, got, conv2dTokens(x, w, bias, d, D), { rtol: be.kind === 'gpu' ? 1e-5 : 1e-12 }, [R, D]);
    be.release(xT, wT, bT, cols, tok);
  });

  onBoth(`unpatchify ∘ DiT's inverse einsum = identity on a ramp (${dims})`, async (be, tag) => {
    const n = d.B * d.C * d.H * d.W;
    const img = ramp(n);
    const tokens = ditTokens(img, d);
    const yT = be.fromArray(tokens, [rows(d), d.p * d.p * d.C]);
    const back = be.ops.unpatchify.forward(yT, d);
    expectClose(`${tag}: unpatchify(ditTokens(ramp))`, await be.toArray(back), img, exact, [d.B, d.C, d.H, d.W]);
    // A permutation's transpose is its inverse: backward must be DiT's inverse map itself.
    const imgT = be.fromArray(img, [d.B, d.C, d.H, d.W]);
    const dY = be.ops.unpatchify.backward(imgT, d);
    expectClose(`${tag}: unpatchify.backward(ramp)`, await be.toArray(dY), tokens, exact, [rows(d), d.p * d.p * d.C]);
    // And patchify's backward undoes patchify.
    const cols = be.ops.patchify.forward(imgT, d);
    const dX = be.ops.patchify.backward(cols, d);
    expectClose(`${tag}: patchify.backward(patchify(ramp))`, await be.toArray(dX), img, exact, [d.B, d.C, d.H, d.W]);
    be.release(yT, back, imgT, dY, cols, dX);
  });
}

test('patch ops reject a patch that does not divide the image, and a wrong-sized input', () => {
  const cpu = cpuBackend();
  const want = (f: () => unknown, re: RegExp) => {
    try {
      f();
    } catch (e) {
      if (re.test((e as Error).message)) return;
      throw new Error(`wrong error: ${(e as Error).message}`);
    }
    throw new Error(`no error, want ${re}`);
  };
  want(() => cpu.ops.patchify.forward(new Float64Array(3 * 6 * 6), { B: 1, C: 3, H: 6, W: 6, p: 4 }), /patch 4 must divide H 6 and W 6/);
  want(() => cpu.ops.unpatchify.forward(new Float64Array(10), { B: 1, C: 3, H: 4, W: 4, p: 2 }), /10 elements, want \(B·T, p·p·C\)/);
});
