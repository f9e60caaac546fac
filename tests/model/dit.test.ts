// Whole-model checks on the tiny preset: the GPU DiT vs the f64 CPU DiT (forward, JVP, gradient),
// the JVP tangent vs central differences of F along (v, 1), and the gradient vs central differences.
import { test } from 'node:test';
import { PRESETS, type DiTConfig } from '../../src/model/config';
import { initParams, paramTable } from '../../src/model/params';
import { Rng } from '../../src/util/rng';
import { dot, expectClose, expectScalarClose } from '../helpers/close';
import { gpuForFile } from '../helpers/gpu';
import { cpuParams, gpuParams, models } from '../helpers/model';
import { DiT } from '../../src/model/dit';

import { cpuBackend } from '../../src/ops/backend';

const gpu = gpuForFile();
const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

const variants: [string, DiTConfig][] = [
  ['tiny', PRESETS.tiny.config],
  ['tiny conditional + r', { ...PRESETS.tiny.config, numClasses: 3, useR: true, heads: 4 }],
  ['points: 2×1×1, patch 1 (one token)', PRESETS.points.config],
  ['odd: 1 channel, 12×12, patch 4, D 20', { C: 1, H: 12, W: 12, patch: 4, D: 20, depth: 1, heads: 2, numClasses: 0, useR: false }],
];

for (const [name, cfg] of variants) {
  test(`DiT ${name}: forward, JVP and gradient match the f64 reference`, async () => {
    const g = await gpu();
    const { table, cpu, gpu: gm } = models(g, cfg);
    const B = 3;
    const rng = new Rng(42);
    const flat = initParams(table, 7, 0.1); // perturbed adaLN-Zero: every path carries signal
    const Pc = cpuParams(table, flat);
    const Pg = gpuParams(g, table, flat, 'params');
    const N = cfg.C * cfg.H * cfg.W;
    const x = f32(rng.normals(B * N));
    const v = f32(rng.normals(B * N));
    const c = f32(Array.from({ length: B }, () => rng.uniform(0, 2)));
    const r = cfg.useR ? f32(Array.from({ length: B }, () => rng.next())) : null;
    const y = cfg.numClasses ? Float64Array.from({ length: B }, (_, b) => b % (cfg.numClasses + 1)) : null;
    const ones = new Float64Array(B).fill(1);
    const zeros = new Float64Array(B);
    const shape = [B, cfg.C, cfg.H, cfg.W];

    // forward
    const Fc = cpu.forward(Pc.P, { x, c, y, r }, B);
    const up = (a: Float64Array | null, s: number[]) => (a ? gm.be.fromArray(a, s) : null);
    const xg = up(x, shape)!, cg = up(c, [B])!, rg = up(r, [B]), yg = up(y, [B]);
    const Fg = gm.forward(Pg.P, { x: xg, c: cg, y: yg, r: rg }, B);
    expectClose('F (GPU vs f64)', await g.read(Fg), Fc, { rtol: 2e-4 }, shape);

    // JVP along (v, 1[, 0])
    const tan = { tX: v, tC: ones, tR: r ? zeros : null };
    const jc = cpu.run(Pc.P, { x, c, y, r }, B, tan, true);
    expectClose('JVP primal = forward (f64)', jc.F, Fc, { rtol: 1e-12 });
    const h = 1e-5;
    const Fp = cpu.forward(Pc.P, { x: x.map((xi, i) => xi + h * v[i]), c: c.map((ci) => ci + h), y, r }, B);
    const Fm = cpu.forward(Pc.P, { x: x.map((xi, i) => xi - h * v[i]), c: c.map((ci) => ci - h), y, r }, B);
    expectClose('dF/dt (f64) vs central differences', jc.tF!, Fp.map((p, i) => (p - Fm[i]) / (2 * h)), { rtol: 1e-6 }, shape);
    const vg = up(v, shape)!, og = up(ones, [B])!, zg = r ? up(zeros, [B]) : null;
    const jg = gm.run(Pg.P, { x: xg, c: cg, y: yg, r: rg }, B, { tX: vg, tC: og, tR: zg }, true);
    expectClose('JVP primal (GPU)', await g.read(jg.F), Fc, { rtol: 2e-4 }, shape);
    expectClose('dF/dt (GPU vs f64)', await g.read(jg.tF!), jc.tF!, { rtol: 5e-4 }, shape);

    // gradient of ⟨F, W⟩ through the JVP's tape (as the CM branch does)
    const Wt = f32(rng.normals(B * N));
    const Gc = new Float64Array(table.total);
    const Gcp = cpuParams(table, Gc);
    cpu.backward(Pc.P, Gcp.P, jc.tape!, Wt);
    const Gg = gpuParams(g, table, new Float32Array(table.total), 'grads');
    const Wg = up(Wt, shape)!;
    gm.backward(Pg.P, Gg.P, jg.tape!, Wg);
    const gradG = await g.read(g.view(Gg.buffer, 0, [table.total]));
    for (const s of table.specs) {
      if (!cfg.numClasses && s.name.startsWith('y_')) continue;
      expectClose(`grad ${s.name} (GPU vs f64)`, gradG.subarray(s.offset, s.offset + s.size), Gcp.flat.subarray(s.offset, s.offset + s.size), { rtol: 1e-3 }, s.shape);
    }
    // f64 gradient vs central differences along a random parameter direction
    const U = rng.normals(table.total);
    const hp = 1e-6;
    const Lp = dot(cpu.forward(cpuParams(table, Pc.flat.map((p, i) => p + hp * U[i])).P, { x, c, y, r }, B), Wt);
    const Lm = dot(cpu.forward(cpuParams(table, Pc.flat.map((p, i) => p - hp * U[i])).P, { x, c, y, r }, B), Wt);
    expectScalarClose('⟨∇θ⟨F, W⟩, U⟩ vs central differences', dot(Gcp.flat, U), (Lp - Lm) / (2 * hp), 1e-6, 1e-9);
    g.checkErrors();
  });
}

// One token: the model computes only the v third of attn.qkv and skips the attention kernels
// (DiT.oneTokenShortcut). Against the full path (qkv + attention) in f64: the same F, dF/dt and
// gradients, and exactly zero gradients for q and k, as the attention backward gives.
test('DiT points (one token): the attention shortcut computes what the full attention path does', () => {
  const cfg = PRESETS.points.config;
  const table = paramTable(cfg);
  const fast = new DiT(cpuBackend(), cfg, table);
  const full = new DiT(cpuBackend(), cfg, table);
  full.oneTokenShortcut = false;
  if (!fast.oneTokenShortcut) throw new Error('the one-token shortcut is off for the points preset');
  const B = 4;
  const rng = new Rng(5);
  const P = cpuParams(table, initParams(table, 3, 0.1)).P;
  const x = rng.normals(B * 2), v = rng.normals(B * 2);
  const c = Float64Array.from({ length: B }, () => rng.uniform(0, 1));
  const inp = { x: Float64Array.from(x), c, y: null, r: null };
  const tan = { tX: Float64Array.from(v), tC: new Float64Array(B).fill(1), tR: null };
  const W = Float64Array.from(rng.normals(B * 2));
  const grads = (m: DiT<Float64Array>) => {
    const run = m.run(P, inp, B, tan, true);
    const G = cpuParams(table, new Float64Array(table.total));
    m.backward(P, G.P, run.tape!, W);
    return { F: run.F, tF: run.tF!, G: G.flat };
  };
  const a = grads(fast), b = grads(full);
  expectClose('F (shortcut vs full attention)', a.F, b.F, { rtol: 1e-12, atol: 1e-14 });
  expectClose('dF/dt (shortcut vs full attention)', a.tF, b.tF, { rtol: 1e-12, atol: 1e-14 });
  for (const s of table.specs) {
    const ga = a.G.subarray(s.offset, s.offset + s.size), gb = b.G.subarray(s.offset, s.offset + s.size);
    expectClose(`grad ${s.name} (shortcut vs full attention)`, ga, gb, { rtol: 1e-10, atol: 1e-14 });
    if (s.name.endsWith('attn.qkv.weight') || s.name.endsWith('attn.qkv.bias')) {
      const qk = ga.subarray(0, (2 * s.size) / 3);
      if (qk.some((z) => z !== 0)) throw new Error(`${s.name}: the q and k parts of the gradient are not exactly 0`);
    }
  }
});
