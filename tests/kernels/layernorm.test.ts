import { test } from 'node:test';
import { opTests, withGpuOps, type OpCase, type OpSpec } from '../helpers/opcheck';
import { gpuForFile } from '../helpers/gpu';
import { layernormGpu, lnModulateCpu, lnModulateGpu, type RowDims } from '../../src/ops/layernorm';
import { gpuOps } from '../../src/ops/table';
import { expectClose } from '../helpers/close';
import type { ModDims } from '../../src/ops/modulate';
import { Rng } from '../../src/util/rng';

interface LnCase extends OpCase {
  d: RowDims;
}

const mk = (label: string, rows: number, D: number, extra: Partial<LnCase> = {}): LnCase => ({
  label,
  d: { rows, D },
  inputs: { x: [rows, D] },
  ...extra,
});

const spec: OpSpec<LnCase> = {
  name: 'layernorm',
  cases: [
    mk('aligned 8×64', 8, 64),
    mk('odd 7×13 (D < workgroup)', 7, 13),
    mk('odd 130×100', 130, 100),
    mk('one row 1×1024 (widest)', 1, 1024),
    mk('odd 3×384 (DiT-S width)', 3, 384),
    mk('extreme ±300', 7, 100, { scale: 300 }),
    // Row 1 is constant (variance 0, so ρ = 1/√eps = 1000) at 123.456, a value whose naive f32 mean
    // is off by an ulp (the kernel then outputs 7.6e-3, not 0); the kernel's shifted sums make it exact.
    // Near var 0 the output bends on the scale h²·var/eps, so central differences need a smaller
    // step than the default 1e-5; 3e-7 balances that against f64 round-off at the offset (~1e-16·123/h).
    mk('constant row (variance 0)', 3, 100, {
      gen: { x: (rng, i) => (Math.floor(i / 100) === 1 ? 123.456 : rng.normal()) },
      fdStep: 3e-7,
    }),
  ],
  forward: (be, c, v) => [be.ops.layernorm.forward(v.x, c.d)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops.layernorm.jvp(v.x, t.x, c.d);
    return [[y], [tY]];
  },
  backward: (be, c, v, [dY]) => ({ x: be.ops.layernorm.backward(v.x, dY, c.d) }),
};

// Both kernel layouts on every case, whatever the adapter would pick (the model tests use the pick).
opTests({ ...spec, name: 'layernorm (one thread per row)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ layernorm: layernormGpu(g, 'row') })) });
opTests({ ...spec, name: 'layernorm (workgroup per row)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ layernorm: layernormGpu(g, 'group') })) });

// ---------------------------------------------------------------- LayerNorm + modulate (fused)

interface LnModCase extends OpCase {
  d: ModDims;
}

const mkLm = (label: string, B: number, T: number, D: number, chunks: number, shift: number, scale: number, extra: Partial<LnModCase> = {}): LnModCase => ({
  label,
  d: { B, T, D, chunks, shift, scale },
  inputs: { x: [B * T, D], mod: [B, chunks * D] },
  ...extra,
});

const lnModSpec: OpSpec<LnModCase> = {
  name: 'lnModulate',
  cases: [
    mkLm('aligned 2×16×64, chunks 6 (0, 1)', 2, 16, 64, 6, 0, 1),
    mkLm('odd 3×7×13, chunks 6 (3, 4)', 3, 7, 13, 6, 3, 4),
    mkLm('final layer 2×5×100, chunks 2 (0, 1)', 2, 5, 100, 2, 0, 1),
    mkLm('odd 2×3×384 (DiT-S width), chunks 6 (3, 4)', 2, 3, 384, 6, 3, 4),
    mkLm('many rows 5×64×33, chunks 6 (0, 1)', 5, 64, 33, 6, 0, 1),
    mkLm('one token 5×1×17, chunks 6 (3, 4)', 5, 1, 17, 6, 3, 4),
    mkLm('extreme ±300, chunks 6 (3, 4)', 2, 9, 33, 6, 3, 4, { scale: 300 }),
    // Row 1 constant (variance 0), as the LayerNorm case above; mod stays N(0, 1).
    mkLm('constant row (variance 0), chunks 2 (0, 1)', 1, 3, 100, 2, 0, 1, {
      gen: { x: (rng, i) => (Math.floor(i / 100) === 1 ? 123.456 : rng.normal()) },
      fdStep: 3e-7,
    }),
  ],
  forward: (be, c, v) => [be.ops.lnModulate.forward(v.x, v.mod, c.d)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops.lnModulate.jvp(v.x, t.x, v.mod, t.mod, c.d);
    return [[y], [tY]];
  },
  backward: (be, c, v, [dY]) => {
    // Chunks other than shift and scale stay zero, so dMod is the whole mod cotangent.
    const dMod = be.zeros([c.d.B, c.d.chunks * c.d.D]);
    const dX = be.ops.lnModulate.backward(v.x, v.mod, dY, c.d, dMod);
    return { x: dX, mod: dMod };
  },
};

opTests({ ...lnModSpec, name: 'lnModulate (one thread per row)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ lnModulate: lnModulateGpu(g, 'row') })) });
opTests({ ...lnModSpec, name: 'lnModulate (workgroup per row)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ lnModulate: lnModulateGpu(g, 'group') })) });

// The DiT block passes one dMod (B, 6D) to all its backward calls; the fused backward must write only its chunks.
const gpuLm = gpuForFile();
test('lnModulate backward: chunks of dMod not its own are left untouched', async () => {
  const g = await gpuLm();
  const [B, T, D, chunks] = [2, 3, 5, 6];
  const sentinel = 7;
  const rng = new Rng(3);
  const x = g.upload(rng.normals(B * T * D), [B * T, D]);
  const mod = g.upload(new Array<number>(B * chunks * D).fill(1), [B, chunks * D]);
  const dY = g.upload(new Array<number>(B * T * D).fill(1), [B * T, D]);
  const dMod = g.upload(new Array<number>(B * chunks * D).fill(sentinel), [B, chunks * D]);
  const dX = lnModulateGpu(g).backward(x, mod, dY, { B, T, D, chunks, shift: 3, scale: 4 }, dMod);
  const got = await g.read(dMod);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < chunks; k++)
      for (let i = 0; i < D; i++) {
        const v = got[(b * chunks + k) * D + i];
        if (k === 3 ? Math.abs(v - T) > 1e-5 : k !== 4 && v !== sentinel) throw new Error(`dMod (b ${b}, chunk ${k}, d ${i}): got ${v}`);
      }
  g.release(x, mod, dY, dMod, dX);
  g.checkErrors();
});

// The residual stream's gradient around a block is summed in the backward launch (res): dX + res,
// against the f64 reference and bit for bit against the separate add it replaces, in both layouts.
test('lnModulate backward with res: dX + res in the same launch, both layouts', async () => {
  const g = await gpuLm();
  const ops = gpuOps(g);
  const rng = new Rng(4);
  for (const [B, T, D] of [[2, 16, 32], [3, 5, 13]])
    for (const layout of ['row', 'group'] as const) {
      const d = { B, T, D, chunks: 6, shift: 0, scale: 1 };
      const [x, mod, dY, res] = [rng.normals(B * T * D), rng.normals(B * 6 * D), rng.normals(B * T * D), rng.normals(B * T * D)];
      const ref = lnModulateCpu.backward(Float64Array.from(x), Float64Array.from(mod), Float64Array.from(dY), d, new Float64Array(B * 6 * D), Float64Array.from(res));
      const [X, M, DY, R] = [g.upload(x, [B * T, D]), g.upload(mod, [B, 6 * D]), g.upload(dY, [B * T, D]), g.upload(res, [B * T, D])];
      const dMod = g.zeros([B, 6 * D]);
      const lm = lnModulateGpu(g, layout);
      const fused = lm.backward(X, M, DY, d, dMod, R);
      const got = await g.read(fused);
      expectClose(`${B}×${T}×${D} ${layout}`, got, ref, { rtol: 1e-5 });
      const dX = lm.backward(X, M, DY, d, dMod);
      const sum = ops.add.forward(R, dX, B * T * D);
      const want = await g.read(sum);
      for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) throw new Error(`${B}×${T}×${D} ${layout}: element ${i} ${got[i]} ≠ the separate add's ${want[i]}`);
      g.release(X, M, DY, R, dMod, fused, dX, sum);
    }
  g.checkErrors();
});
