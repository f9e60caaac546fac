import { test } from 'node:test';
import { opTests, type OpCase } from '../helpers/opcheck';
import { gpuForFile } from '../helpers/gpu';
import { gatedResidualGpu, modulateGpu, type GateDims, type ModDims } from '../../src/ops/modulate';

// ---------------------------------------------------------------- modulate

interface ModCase extends OpCase {
  d: ModDims;
}

const mkMod = (label: string, B: number, T: number, D: number, chunks: number, shift: number, scale: number, extra: Partial<ModCase> = {}): ModCase => ({
  label,
  d: { B, T, D, chunks, shift, scale },
  inputs: { x: [B, T, D], mod: [B, chunks * D] },
  ...extra,
});

opTests<ModCase>({
  name: 'modulate',
  cases: [
    mkMod('aligned 2×64×64, chunks 6 (0, 1)', 2, 64, 64, 6, 0, 1),
    mkMod('odd 3×7×13, chunks 6 (3, 4)', 3, 7, 13, 6, 3, 4),
    mkMod('final layer 2×5×100, chunks 2 (0, 1)', 2, 5, 100, 2, 0, 1),
    mkMod('many groups 4×256×96, chunks 6 (3, 4)', 4, 256, 96, 6, 3, 4),
    mkMod('one token 5×1×17, chunks 6 (0, 1)', 5, 1, 17, 6, 0, 1),
    mkMod('extreme ±300, chunks 6 (3, 4)', 2, 9, 33, 6, 3, 4, { scale: 300 }),
  ],
  forward: (be, c, v) => [be.ops.modulate.forward(v.x, v.mod, c.d)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops.modulate.jvp(v.x, t.x, v.mod, t.mod, c.d);
    return [[y], [tY]];
  },
  backward: (be, c, v, [dY]) => {
    // Chunks other than shift and scale stay zero, so dMod is the whole mod cotangent.
    const dMod = be.zeros([c.d.B, c.d.chunks * c.d.D]);
    const dX = be.ops.modulate.backward(v.x, v.mod, dY, c.d, dMod);
    return { x: dX, mod: dMod };
  },
});

// ---------------------------------------------------------------- gatedResidual

interface GateCase extends OpCase {
  d: GateDims;
}

const mkGate = (label: string, B: number, T: number, D: number, chunks: number, gate: number, extra: Partial<GateCase> = {}): GateCase => ({
  label,
  d: { B, T, D, chunks, gate },
  inputs: { x: [B, T, D], h: [B, T, D], mod: [B, chunks * D] },
  ...extra,
});

opTests<GateCase>({
  name: 'gatedResidual',
  cases: [
    mkGate('aligned 2×64×64, chunks 6, gate 2', 2, 64, 64, 6, 2),
    mkGate('odd 3×7×13, chunks 6, gate 5', 3, 7, 13, 6, 5),
    mkGate('many groups 4×256×96, gate 5', 4, 256, 96, 6, 5),
    mkGate('one token 5×1×17, gate 2', 5, 1, 17, 6, 2),
    mkGate('extreme ±300, gate 5', 2, 9, 33, 6, 5, { scale: 300 }),
  ],
  forward: (be, c, v) => [be.ops.gatedResidual.forward(v.x, v.h, v.mod, c.d)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops.gatedResidual.jvp(v.x, t.x, v.h, t.h, v.mod, t.mod, c.d);
    return [[y], [tY]];
  },
  backward: (be, c, v, [dY]) => {
    const dMod = be.zeros([c.d.B, c.d.chunks * c.d.D]);
    const dH = be.ops.gatedResidual.backward(v.h, v.mod, dY, c.d, dMod);
    return { x: dY, h: dH, mod: dMod };
  },
});

// ---------------------------------------------------------------- shared dMod

// The DiT block passes one dMod (B, 6D) to all four backward calls; each must write only its chunks.
const gpu = gpuForFile();
test('modulate/gatedResidual backward: chunks of dMod not theirs are left untouched', async () => {
  const g = await gpu();
  const [B, T, D, chunks] = [2, 3, 5, 6];
  const sentinel = 7;
  const ones = (n: number) => new Array<number>(n).fill(1);
  const x = g.upload(ones(B * T * D), [B, T, D]);
  const mod = g.upload(ones(B * chunks * D), [B, chunks * D]);
  const dMod = g.upload(new Array<number>(B * chunks * D).fill(sentinel), [B, chunks * D]);
  const dX = modulateGpu(g).backward(x, mod, x, { B, T, D, chunks, shift: 3, scale: 4 }, dMod);
  const dH = gatedResidualGpu(g).backward(x, mod, x, { B, T, D, chunks, gate: 2 }, dMod);
  const got = await g.read(dMod);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < chunks; k++)
      for (let i = 0; i < D; i++) {
        const want = k === 2 || k === 3 || k === 4 ? T : sentinel; // Σ_t 1·1 = T for the written chunks
        const v = got[(b * chunks + k) * D + i];
        if (v !== want) throw new Error(`dMod (b ${b}, chunk ${k}, d ${i}): got ${v}, want ${want}`);
      }
  g.release(x, mod, dMod, dX, dH);
  g.checkErrors();
});
