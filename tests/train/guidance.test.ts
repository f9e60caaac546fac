// Class labels in training: label dropout (drawn from the run's Rng after the step's other draws)
// and classifier-free guidance of a class-conditional distillation teacher, v = v_u + w·(v_c − v_u)
// where t ≥ tMin (docs/math.md, "Teacher and student"), on the real WebGPU path against f64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuBackend } from '../../src/ops/backend';
import { type DiTConfig } from '../../src/model/config';
import { initParams } from '../../src/model/params';
import { guidanceLabels, planStep, type PlanContext } from '../../src/objectives/objectives';
import { objectiveConfig, trainDefaults, type LabelConfig } from '../../src/config/keys';
import { runStep, teacherVelocity } from '../../src/objectives/step';
import { cpuLoss, gpuLoss } from '../../src/ops/loss';
import { BUILTIN } from '../../src/data/procedural';
import { Trainer } from '../../src/train/trainer';
import { Rng } from '../../src/util/rng';
import { expectClose } from '../helpers/close';
import { gpuForFile } from '../helpers/gpu';
import { cpuParams, gpuParams, models } from '../helpers/model';

const gpu = gpuForFile();
const K = 3; // classes; the null class is K
const cond: DiTConfig = { C: 3, H: 8, W: 8, patch: 2, D: 16, depth: 1, heads: 2, numClasses: K, useR: false };
const N = 3 * 8 * 8;
const labels = (over: Partial<LabelConfig> = {}) => ({ numClasses: K, labelDropout: 0, cfgWeight: 1.75, cfgTMin: 0.125, ...over });
const ctx = (over: Partial<LabelConfig> = {}): PlanContext => ({ cfg: objectiveConfig('facm'), step: 0, useR: false, labels: labels(over) });
const batchY = (B: number) => Float32Array.from({ length: B }, (_, b) => b % K);

test('guidance window: the null class where t ≥ tMin (the boundary itself guided), the row’s own label below', () => {
  const below = Math.fround(0.125 - 2 ** -26); // the f32 just under 0.125
  assert.ok(below < 0.125);
  const t = Float32Array.of(0.125, below, 0.5, 0, 1);
  assert.deepEqual([...guidanceLabels(t, Float32Array.of(2, 1, 0, 2, 1), K, 0.125)], [K, 1, K, 2, K]);
  assert.deepEqual([...guidanceLabels(t, Float32Array.of(2, 1, 0, 2, 1), K, 0)], [K, K, K, K, K], 'tMin 0: guided everywhere');
});

test('label dropout: drawn after the step’s other draws, about p of the labels go to the null class, reproducibly; the teacher keeps the batch’s', () => {
  const B = 400;
  const x = new Rng(1).normals(B * N, 0.5);
  const y = batchY(B);
  const rngA = new Rng(9);
  const off = planStep(ctx(), x, y, B, rngA);
  const rngB = new Rng(9);
  const on = planStep(ctx({ labelDropout: 0.25 }), x, y, B, rngB);
  assert.deepEqual(on.eps, off.eps, 'the noise is drawn before the labels');
  assert.deepEqual(on.t, off.t);
  assert.deepEqual(off.y, y, 'p = 0 keeps every label');
  assert.deepEqual(on.teacherY, y, 'the teacher sees the batch’s labels');
  let dropped = 0;
  for (let b = 0; b < B; b++) {
    if (on.y![b] === K) dropped++;
    else assert.equal(on.y![b], y[b]);
  }
  assert.ok(Math.abs(dropped / B - 0.25) < 0.06, `dropped ${dropped} of ${B} at p = 0.25`);
  assert.deepEqual(planStep(ctx({ labelDropout: 0.25 }), x, y, B, new Rng(9)).y, on.y, 'same seed, same labels dropped');
  assert.notDeepEqual(rngA.getState(), rngB.getState(), 'dropout consumed B draws');
  // The draws are the Rng's next B uniforms, compared with p.
  const rngC = new Rng(9);
  planStep(ctx(), x, y, B, rngC);
  for (let b = 0; b < B; b++) assert.equal(on.y![b] === K, rngC.next() < 0.25, `row ${b}`);
});

test('guided teacher: v = v_u + w·(v_c − v_u) from one 2B-row forward matches two f64 forwards; unguided below tMin; GPU step matches the f64 step', async () => {
  const g = await gpu();
  const { table, cpu, gpu: gm } = models(g, cond);
  const teacherW = initParams(table, 22, 0.3);
  const student = initParams(table, 21, 0.1);
  const B = 6;
  const x = new Rng(6).normals(B * N, 0.5);
  const y = batchY(B);
  const t0 = planStep(ctx(), x, y, B, new Rng(7)).t;
  const sorted = [...t0].sort((a, b) => a - b);
  const tMin = sorted[2]; // rows at or above it guided (one exactly at it), the two below not
  const w = 1.75;
  const plan = planStep(ctx({ cfgWeight: w, cfgTMin: tMin, labelDropout: 0.5 }), x, y, B, new Rng(7));
  assert.ok(plan.guidance, 'w > 1 on a labelled run: guided');
  const Tc = { model: cpu, P: cpuParams(table, teacherW).P };
  // f64 by hand: the conditional and unconditional teacher, each its own forward of B rows.
  const xt = Float64Array.from(plan.xt);
  const tt = Float64Array.from(plan.t);
  const yU = Float64Array.from(plan.t, (tb, b) => (tb >= tMin ? K : y[b]));
  const vC = cpu.forward(Tc.P, { x: xt, c: tt, y: Float64Array.from(y) }, B);
  const vU = cpu.forward(Tc.P, { x: xt, c: tt, y: yU }, B);
  const want = vC.map((c, i) => vU[i] + w * (c - vU[i]));
  let guided = 0;
  for (let b = 0; b < B; b++) {
    const rows = want.subarray(b * N, (b + 1) * N);
    const diff = Math.max(...rows.map((v, i) => Math.abs(v - vC[b * N + i])));
    if (plan.t[b] >= tMin) {
      guided++;
      assert.ok(diff > 1e-3, `row ${b} (t ${plan.t[b]}): guidance should change v (|Δ| ${diff})`);
    } else assert.equal(diff, 0, `row ${b} (t ${plan.t[b]} < ${tMin}): v = v_c`);
  }
  assert.equal(guided, 4);
  expectClose('f64 teacherVelocity vs two forwards', teacherVelocity(cpuBackend(), Tc, plan, xt), want, { atol: 1e-12, rtol: 1e-12 });
  const Tg = { model: gm, P: gpuParams(g, table, teacherW, 'teacher').P };
  const xtG = g.upload(plan.xt, [B, 3, 8, 8]);
  const vG = teacherVelocity(gm.be, Tg, plan, xtG);
  expectClose('GPU guided v vs f64', await g.read(vG), want, { rtol: 1e-4, atol: 1e-5 });
  g.release(vG, xtG);
  // The whole step with the guided teacher: GPU against the f64 reference.
  const Gc = cpuParams(table, new Float64Array(table.total));
  const ref = runStep(cpuBackend(), cpuLoss, cpu, cpuParams(table, student).P, Gc.P, plan, Tc);
  const Gg = gpuParams(g, table, new Float32Array(table.total), 'g');
  const res = runStep(gm.be, gpuLoss(g), gm, gpuParams(g, table, student, 'p').P, Gg.P, plan, Tg);
  for (let i = 0; i < res.length; i++) expectClose(`guided distill branch ${i} stats`, await g.read(res[i].stats), ref[i].stats, { rtol: 1e-3 });
  expectClose('guided distill gradients', await g.read(g.view(Gg.buffer, 0, [table.total])), Gc.flat, { rtol: 2e-3 });
  g.checkErrors();
});

test('guidance weight 1 is the plain conditional teacher, at the batch’s labels (not the dropped ones)', async () => {
  const g = await gpu();
  const { table, gpu: gm } = models(g, cond);
  const teacherW = initParams(table, 23, 0.3);
  const B = 4;
  const y = batchY(B);
  const plan = planStep(ctx({ cfgWeight: 1, labelDropout: 0.9 }), new Rng(2).normals(B * N, 0.5), y, B, new Rng(3));
  assert.equal(plan.guidance, null);
  assert.notDeepEqual(plan.y, y, 'some labels dropped for the student');
  const Tg = { model: gm, P: gpuParams(g, table, teacherW, 'teacher').P };
  const xt = g.upload(plan.xt, [B, 3, 8, 8]);
  const v = await g.read(teacherVelocity(gm.be, Tg, plan, xt));
  const plain = await g.read(gm.forward(Tg.P, { x: xt, c: g.upload(plan.t, [B]), y: g.upload(y, [B]) }, B));
  assert.deepEqual(v, plain);
});

test('an unconditional teacher ignores the guidance and dropout keys: the same run, bit for bit', async () => {
  const g = await gpu();
  const model: DiTConfig = { ...cond, numClasses: 0 };
  const data = BUILTIN.blobs8.make(1, 64);
  const teacher = { cfg: model, params: initParams(models(g, model).table, 5, 0.2) };
  const params: Float32Array[] = [];
  for (const lab of [undefined, { labelDropout: 0.5, cfgWeight: 4, cfgTMin: 0 }]) {
    const tr = new Trainer(g, { ...trainDefaults(), model, objective: objectiveConfig('facm'), batch: 4, seed: 3, labels: lab }, data, { teacher });
    for (let i = 0; i < 2; i++) await tr.stepOnce();
    await tr.drain();
    params.push(await tr.readParams());
    tr.dispose();
  }
  assert.deepEqual(params[1], params[0]);
});
