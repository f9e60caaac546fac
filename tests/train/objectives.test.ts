// Every objective's step on the GPU vs the same step on the f64 CPU reference (losses, statistics,
// all parameter gradients), and FACM's loss vs a direct transcription of facm-math.md.
import { test } from 'node:test';
import { cpuBackend } from '../../src/ops/backend';
import { type DiTConfig } from '../../src/model/config';
import { initParams } from '../../src/model/params';
import { planStep, sampleT } from '../..//src/objectives/objectives';
import { OBJECTIVES, needsR } from '../..//src/objectives/table';
import { objectiveConfig } from '../..//src/config/keys';
import { runStep, summarise } from '../../src/objectives/step';
import { cpuLoss, gpuLoss } from '../../src/ops/loss';
import { Rng } from '../../src/util/rng';
import { expectClose, expectScalarClose } from '../helpers/close';
import { gpuForFile } from '../helpers/gpu';
import { cpuParams, gpuParams, models } from '../helpers/model';

const gpu = gpuForFile();
const base: DiTConfig = { C: 3, H: 8, W: 8, patch: 2, D: 16, depth: 1, heads: 2, numClasses: 0, useR: false };

for (const name of OBJECTIVES) {
  test(`objective ${name}: GPU step matches the f64 reference step`, async () => {
    const g = await gpu();
    const ocfg = objectiveConfig(name, { scmWarmup: 4 });
    const cfg = { ...base, useR: needsR(ocfg) };
    const { table, cpu, gpu: gm } = models(g, cfg);
    const flat = initParams(table, 3, 0.1);
    const B = 4;
    const rng = new Rng(11);
    const x = rng.normals(B * 192, 0.5);
    const plan = planStep({ cfg: ocfg, step: 2, useR: cfg.useR }, x, null, B, new Rng(5));
    const Pc = cpuParams(table, flat);
    const Gc = cpuParams(table, new Float64Array(table.total));
    const refRes = runStep(cpuBackend(), cpuLoss, cpu, Pc.P, Gc.P, plan);
    const Pg = gpuParams(g, table, flat, 'p');
    const Gg = gpuParams(g, table, new Float32Array(table.total), 'g');
    const res = runStep(gm.be, gpuLoss(g), gm, Pg.P, Gg.P, plan);
    for (let i = 0; i < res.length; i++) expectClose(`${name} branch ${i} (${res[i].kind}) stats`, await g.read(res[i].stats), refRes[i].stats, { rtol: 1e-3 });
    const mRef = summarise(refRes, B);
    const mGpu = summarise(await Promise.all(res.map(async (r) => ({ ...r, stats: await g.read(r.stats) }))), B);
    expectScalarClose(`${name} loss`, mGpu.loss, mRef.loss, 1e-3);
    const grads = await g.read(g.view(Gg.buffer, 0, [table.total]));
    expectClose(`${name} gradients`, grads, Gc.flat, { rtol: 2e-3 });
    if (!(mRef.loss > 0)) throw new Error(`${name}: loss ${mRef.loss} should be positive`);
    g.checkErrors();
  });
}

test('FACM loss equals a direct transcription of facm-math.md', async () => {
  const cfg = base;
  const { table, cpu } = models(await gpu(), cfg);
  const flat = initParams(table, 9, 0.1);
  const B = 5, N = 192;
  const x = new Rng(1).normals(B * N, 0.5);
  const ocfg = objectiveConfig('facm');
  const plan = planStep({ cfg: ocfg, step: 0, useR: false }, x, null, B, new Rng(2));
  const P = cpuParams(table, flat).P;
  const res = runStep(cpuBackend(), cpuLoss, cpu, P, cpuParams(table, new Float64Array(table.total)).P, plan);
  const m = summarise(res, B);
  // Transcription: F, dFdt from the JVP at (x_t, t) along (v, 1); F_fm at c = 2 − t.
  const xt = Float64Array.from(plan.xt), v = Float64Array.from(plan.v), t = Float64Array.from(plan.t);
  const jvp = cpu.run(P, { x: xt, c: t }, B, { tX: v, tC: new Float64Array(B).fill(1) }, false);
  const Ffm = cpu.forward(P, { x: xt, c: t.map((tb) => 2 - tb) }, B);
  let Lcm = 0, Lfm = 0;
  for (let b = 0; b < B; b++) {
    const alpha = 1 - Math.sqrt(t[b]);
    const beta = Math.cos((Math.PI * t[b]) / 2);
    let e = 0, mse = 0, cosTerm = 0;
    for (let i = b * N; i < (b + 1) * N; i++) {
      const T = v[i] + (1 - t[b]) * jvp.tF![i];
      const gres = jvp.F[i] - T;
      const target = jvp.F[i] - alpha * Math.max(-1, Math.min(1, gres));
      e += (jvp.F[i] - target) ** 2 / N;
      mse += (Ffm[i] - v[i]) ** 2 / N;
    }
    for (let px = 0; px < 64; px++) {
      let d = 0, na = 0, nb = 0;
      for (let c = 0; c < 3; c++) { const i = b * N + c * 64 + px; d += Ffm[i] * v[i]; na += Ffm[i] ** 2; nb += v[i] ** 2; }
      cosTerm += (1 - d / Math.max(Math.sqrt(na * nb), 1e-8)) / 64;
    }
    Lcm += (beta * e) / Math.sqrt(e + 1e-3) / B;
    Lfm += (mse + cosTerm) / B;
  }
  expectScalarClose('L_CM', m.lossCM, Lcm, 1e-10);
  expectScalarClose('L_FM', m.lossFM, Lfm, 1e-10);
  expectScalarClose('L = L_CM + λ_FM·L_FM', m.loss, Lcm + ocfg.lambdaFM * Lfm, 1e-10);
});

test('default t sampler: median ≈ 0.73, biased to the data end', () => {
  const rng = new Rng(4);
  const ts = Array.from({ length: 20000 }, () => sampleT(rng, 0.8, 1.6)).sort((a, b) => a - b);
  const median = ts[10000];
  // s = (2/π)atan(exp(n·1.6 − 0.8)) has median (2/π)atan(e^−0.8) ≈ 0.2667, so t ≈ 0.733
  expectScalarClose('median t', median, 1 - (2 / Math.PI) * Math.atan(Math.exp(-0.8)), 0.01);
  if (ts[0] < 0 || ts[ts.length - 1] > 1) throw new Error('t outside [0, 1]');
});

test('FACM distillation: v is the frozen teacher velocity at (x_t, c = t); GPU step matches the f64 step', async () => {
  const g = await gpu();
  const cfg = base;
  const { table, cpu, gpu: gm } = models(g, cfg);
  const student = initParams(table, 21, 0.1);
  const teacherW = initParams(table, 22, 0.1);
  const B = 3;
  const plan = planStep({ cfg: objectiveConfig('facm'), step: 0, useR: false }, new Rng(6).normals(B * 192, 0.5), null, B, new Rng(7));
  const Tc = { model: cpu, P: cpuParams(table, teacherW).P };
  const Gc = cpuParams(table, new Float64Array(table.total));
  const ref = runStep(cpuBackend(), cpuLoss, cpu, cpuParams(table, student).P, Gc.P, plan, Tc);
  // The residual branch with a teacher must equal one computed by hand with v := teacher(x_t, t).
  const vT = cpu.forward(Tc.P, { x: Float64Array.from(plan.xt), c: Float64Array.from(plan.t) }, B);
  const planV = { ...plan, v: Float32Array.from(vT) };
  const byHand = runStep(cpuBackend(), cpuLoss, cpu, cpuParams(table, student).P, cpuParams(table, new Float64Array(table.total)).P, planV);
  expectClose('residual stats with teacher v', ref[1].stats, byHand[1].stats, { rtol: 1e-6 });
  const noTeacher = runStep(cpuBackend(), cpuLoss, cpu, cpuParams(table, student).P, cpuParams(table, new Float64Array(table.total)).P, plan);
  if (Math.abs(noTeacher[1].stats[1] - ref[1].stats[1]) < 1e-9) throw new Error('teacher had no effect on the loss');
  const Gg = gpuParams(g, table, new Float32Array(table.total), 'g');
  const Tg = { model: gm, P: gpuParams(g, table, teacherW, 'teacher').P };
  const res = runStep(gm.be, gpuLoss(g), gm, gpuParams(g, table, student, 'p').P, Gg.P, plan, Tg);
  for (let i = 0; i < res.length; i++) expectClose(`distill branch ${i} stats`, await g.read(res[i].stats), ref[i].stats, { rtol: 1e-3 });
  expectClose('distill gradients', await g.read(g.view(Gg.buffer, 0, [table.total])), Gc.flat, { rtol: 2e-3 });
});
