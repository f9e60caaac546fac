// Non-finite policy on SwiftShader: a NaN written into one activation on the GPU (tests/helpers/faults.ts
// wraps the Trainer's backend: a one-element recorded write) is caught within the step, reported by the
// Trainer's drain, and judged by the TrainingSession: 'stop' refuses further steps, 'rollback' restores
// the Trainer's GPU-side snapshot and training goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN } from '../../src/data/procedural';
import { PRESETS, type DiTConfig } from '../../src/model/config';
import { type ObjectiveName } from '../..//src/objectives/table';
import { objectiveConfig } from '../..//src/config/keys';
import { Trainer, type TrainConfig } from '../..//src/train/trainer';
import { CollapseError, TrainingSession } from '../..//src/train/session';
import { trainDefaults } from '../..//src/config/keys';
import { Faults } from '../helpers/faults';
import { gpuForFile } from '../helpers/gpu';

const gpu = gpuForFile();
const model: DiTConfig = { ...PRESETS.tiny.config, D: 16, depth: 1 };
const data = BUILTIN.blobs8.make(1, 64);
const cfg = (over: Partial<TrainConfig> = {}, objective: ObjectiveName = 'facm'): TrainConfig => ({
  ...trainDefaults(),
  model,
  objective: objectiveConfig(objective),
  batch: 2,
  seed: 5,
  ...over,
});
const QKV = { name: 'blocks.0.attn.qkv', index: 5 };
/** A session on a backend open to faults (no checkpoint within these tests' steps: each drain is the test's). */
const faulty = async (c: TrainConfig) => {
  const faults = new Faults();
  const s = await TrainingSession.create(c, data, { gpu: await gpu(), backend: faults.backend, checkpointEvery: 1000 });
  return { s, tr: () => s.trainer, faults };
};

const sameBits = (name: string, a: Float32Array, b: Float32Array) => {
  assert.equal(a.length, b.length, `${name}: length`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) assert.fail(`${name}[${i}]: ${a[i]} vs ${b[i]}`);
};

test("non-finite 'stop': a NaN poisoned into an activation is caught within the step, recorded, and further steps refused", async () => {
  const { s, faults } = await faulty(cfg());
  await s.stepOnce();
  const good = await s.drain();
  assert.ok(Number.isFinite(good[0].loss));
  assert.equal(good[0].nonFinite, null);
  const before = await s.trainer.readParams();
  faults.poisonNextStep(s.trainer, QKV);
  await s.stepOnce();
  const recs = await s.drain();
  assert.equal(recs.length, 1);
  assert.ok(Number.isNaN(recs[0].lossFM), `L_FM ${recs[0].lossFM}`);
  assert.equal(recs[0].nonFinite, 'L_FM', 'the Trainer names the first non-finite quantity');
  assert.deepEqual(s.collapse, { step: 2, quantity: 'L_FM' });
  assert.deepEqual(s.nonFinite, [{ step: 2, quantity: 'L_FM', action: 'stopped', restoredTo: null }]);
  // AdamW skipped the step on the GPU: the parameters are those from before it.
  sameBits('params after the bad step', await s.trainer.readParams(), before);
  await assert.rejects(s.stepOnce(), (e: Error) => e instanceof CollapseError && /training stopped: L_FM became non-finite at step 2/.test(e.message));
  s.dispose();
});

test("non-finite on the consistency branch alone (cm-no-anchor) names dF/dt (a clamped L_CM can hide a NaN)", async () => {
  const { s, faults } = await faulty(cfg({}, 'cm-no-anchor'));
  faults.poisonNextStep(s.trainer, { name: 'blocks.0.mlp.fc1', index: 3 });
  await s.stepOnce();
  await s.drain();
  assert.deepEqual(s.collapse, { step: 1, quantity: 'dF/dt' });
  s.dispose();
});

test("non-finite 'rollback': the run continues from the GPU-side snapshot, and the event says where to", async () => {
  const { s, tr, faults } = await faulty(cfg({ onNonFinite: 'rollback', snapshotEvery: 2 }));
  assert.equal(tr().snapshotStep, 0);
  await s.stepOnce();
  await s.stepOnce();
  await s.drain(); // steps 1–2 clean: snapshot of step 2
  assert.equal(tr().snapshotStep, 2);
  const p2 = await tr().readParams();
  const e2 = await tr().readParams('ema');
  const o2 = await tr().readOptimizer();
  await s.stepOnce(); // step 3, clean but not yet a snapshot
  faults.poisonNextStep(tr(), QKV);
  await s.stepOnce(); // step 4, poisoned
  const recs = await s.drain();
  assert.deepEqual(recs.map((r) => r.step), [3, 4]);
  assert.deepEqual(s.nonFinite, [{ step: 4, quantity: 'L_FM', action: 'rolled-back', restoredTo: 2 }]);
  assert.equal(s.collapse, null);
  assert.equal(s.step, 2);
  sameBits('params restored', await tr().readParams(), p2);
  sameBits('ema restored', await tr().readParams('ema'), e2);
  const o = await tr().readOptimizer();
  sameBits('adam m restored', o.m, o2.m);
  sameBits('adam v restored', o.v, o2.v);
  // Training goes on from step 2 with finite metrics.
  for (let i = 0; i < 3; i++) await s.stepOnce();
  const after = await s.drain();
  assert.deepEqual(after.map((r) => r.step), [3, 4, 5]);
  for (const r of after) assert.ok(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm), `step ${r.step}: loss ${r.loss}`);
  assert.equal(tr().snapshotStep, 5);
  s.dispose();
});

test("non-finite 'rollback' gives up after maxRollbacks to the same snapshot and stops as a collapse", async () => {
  const { s, faults } = await faulty(cfg({ onNonFinite: 'rollback', snapshotEvery: 100, maxRollbacks: 1 }));
  faults.poisonNextStep(s.trainer, QKV);
  await s.stepOnce();
  await s.drain();
  assert.equal(s.step, 0);
  faults.poisonNextStep(s.trainer, QKV);
  await s.stepOnce();
  await s.drain();
  assert.deepEqual(s.nonFinite, [
    { step: 1, quantity: 'L_FM', action: 'rolled-back', restoredTo: 0 },
    { step: 1, quantity: 'L_FM', action: 'stopped', restoredTo: null },
  ]);
  assert.deepEqual(s.collapse, { step: 1, quantity: 'L_FM' });
  await assert.rejects(s.stepOnce(), CollapseError);
  s.dispose();
});

test('the fault wrapper refuses a layer the model lacks or an index outside the activation', async () => {
  const { s, faults } = await faulty(cfg());
  assert.throws(() => faults.poisonNextStep(s.trainer, { name: 'blocks.7.attn.qkv', index: 0 }), /'blocks\.7\.attn\.qkv' is not a linear layer/);
  assert.throws(() => faults.poisonNextStep(s.trainer, { name: 'blocks.0.attn.qkv', index: 2 * 48 }), /index 96 outside \[0, 96\)/);
  s.dispose();
});

test('dispose frees every buffer the trainer made', async () => {
  const g = await gpu();
  const before = g.memory();
  const tr = new Trainer(g, cfg({ onNonFinite: 'rollback' }), data);
  await tr.stepOnce();
  await tr.drain();
  const pooled = g.memory().pooledFree;
  tr.dispose();
  const after = g.memory();
  // Persistent buffers are gone; pooled activations stay in the pool for the next run.
  assert.equal(after.buffers - after.pooledFree, before.buffers - before.pooledFree, `live non-pooled buffers ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
  assert.ok(after.pooledFree >= pooled);
});
