// TrainingSession on SwiftShader: autosave and resume continue a run exactly; a destroyed device
// is noticed, a new one acquired and training continues from the in-memory checkpoint with the
// same step count and the same parameters as an uninterrupted run; non-finite events and bad
// teachers / checkpoints reach the caller with clear messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireDevice } from '../../src/gpu/device';
import { Gpu } from '../../src/gpu/runtime';
import { BUILTIN } from '../../src/data/procedural';
import { PRESETS, type DiTConfig } from '../../src/model/config';
import { initParams, paramTable } from '../../src/model/params';
import { objectiveConfig } from '../..//src/config/keys';
import { Trainer, type TrainConfig } from '../..//src/train/trainer';
import { trainDefaults } from '../..//src/config/keys';
import { loadCheckpoint, saveCheckpoint, TeacherError } from '../../src/train/checkpoint';
import { MemoryCheckpointStore } from '../../src/train/store';
import { CollapseError, TrainingSession, type SessionEvent } from '../../src/train/session';
import { Faults } from '../helpers/faults';
import { gpuForFile } from '../helpers/gpu';

const shared = gpuForFile();
const model: DiTConfig = { ...PRESETS.tiny.config, D: 16, depth: 1 };
const data = BUILTIN.blobs8.make(2, 64);
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({ ...trainDefaults(), model, objective: objectiveConfig('facm'), batch: 2, seed: 9, ...over });

async function sameState(what: string, a: Trainer, b: Trainer): Promise<void> {
  const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
  const pairs: [string, Float32Array, Float32Array][] = [
    ['params', await a.readParams(), await b.readParams()],
    ['ema', await a.readParams('ema'), await b.readParams('ema')],
    ['adam m', (await a.readOptimizer()).m, (await b.readOptimizer()).m],
    ['adam v', (await a.readOptimizer()).v, (await b.readOptimizer()).v],
  ];
  for (const [name, x, y] of pairs) {
    const [ux, uy] = [bits(x), bits(y)];
    for (let i = 0; i < ux.length; i++) if (ux[i] !== uy[i]) assert.fail(`${what}: ${name}[${i}] ${x[i]} vs ${y[i]}`);
  }
}

async function reference(g: Gpu, steps: number, c = cfg()): Promise<Trainer> {
  const tr = new Trainer(g, c, data);
  for (let i = 0; i < steps; i++) await tr.stepOnce();
  await tr.drain();
  return tr;
}

test('session: autosave to a store, then resume continues the run exactly where the autosave left it', async () => {
  const g = await shared();
  const store = new MemoryCheckpointStore();
  const events: SessionEvent[] = [];
  const a = await TrainingSession.create(cfg(), data, { gpu: g, store, checkpointEvery: 2, autosaveKey: 'run-1', onEvent: (e) => events.push(e) });
  await a.steps(5);
  assert.equal(a.step, 5);
  assert.deepEqual(
    events.filter((e) => e.type === 'autosave').map((e) => (e as { step: number }).step),
    [0, 2, 4],
  );
  assert.deepEqual(await store.list(), ['run-1']);
  a.dispose(); // a reload of the tab: the in-memory run is gone, the device (kept by its owner) stays
  assert.equal(g.lost, null);

  const b = await TrainingSession.resume((await store.load('run-1'))!, data, { gpu: g, checkpointEvery: 2, store, autosaveKey: 'run-1' });
  assert.equal(b.step, 4);
  await b.steps(2);
  assert.equal(b.step, 6);
  const ref = await reference(g, 6);
  await sameState('resumed run vs uninterrupted run at step 6', b.trainer, ref);
  ref.dispose();
  b.dispose();
});

test('session: the page\'s autosave cadence: every autosaveEvery steps (not step 0), on request at an unsaved step, with the writer\'s records beside it, never after a collapse', async () => {
  const g = await shared();
  const store = new MemoryCheckpointStore();
  const faults = new Faults();
  const saved: number[] = [];
  const s = await TrainingSession.create(cfg(), data, {
    gpu: g,
    backend: faults.backend,
    checkpointEvery: 100,
    store,
    autosaveKey: 'slot-a',
    autosaveEvery: 3,
    autosaveFirst: false,
    autosaveBeside: (step, recs) => ({ meta: { name: 'run a', step }, data: { drained: recs.map((r) => r.step) } }),
    onEvent: (e) => e.type === 'autosave' && saved.push(e.step),
  });
  assert.deepEqual(saved, [], 'step 0 is not autosaved');
  for (let i = 0; i < 4; i++) await s.stepOnce();
  assert.deepEqual(saved, [3], 'a checkpoint is taken when an autosave is due');
  assert.deepEqual(await store.entries(), [{ name: 'run a', step: 3, slot: 'slot-a', saved: (await store.entries())[0].saved, bytes: (await store.load('slot-a'))!.length }]);
  assert.deepEqual((await store.loadWith('slot-a'))!.drained, [1, 2, 3], 'the records drained by that checkpoint reach the writer');
  await s.checkpointNow(); // a pause at step 4
  await s.checkpointNow(); // nothing new: no second write
  assert.deepEqual(saved, [3, 4]);
  assert.equal(loadCheckpoint((await store.load('slot-a'))!).step, 4);
  faults.poisonNextStep(s.trainer, { name: 'blocks.0.attn.qkv', index: 1 });
  await s.stepOnce();
  await s.checkpointNow(); // the collapse is found here: no checkpoint, no autosave of it
  assert.deepEqual(s.collapse, { step: 5, quantity: 'L_FM' });
  assert.deepEqual(saved, [3, 4]);
  s.dispose();
});

test('session: non-finite events reach onEvent; a stop is a collapse event and a CollapseError, and no checkpoint of it is kept', async () => {
  const g = await shared();
  const events: SessionEvent[] = [];
  const faults = new Faults();
  const s = await TrainingSession.create(cfg({ onNonFinite: 'rollback', snapshotEvery: 1 }), data, { gpu: g, checkpointEvery: 2, onEvent: (e) => events.push(e), backend: faults.backend });
  await s.steps(2);
  faults.poisonNextStep(s.trainer, { name: 'blocks.0.attn.qkv', index: 1 });
  await s.stepOnce();
  await s.drain();
  assert.deepEqual(events.filter((e) => e.type === 'non-finite'), [{ type: 'non-finite', event: { step: 3, quantity: 'L_FM', action: 'rolled-back', restoredTo: 2 } }]);
  assert.equal(s.step, 2);
  s.dispose();

  const stop: SessionEvent[] = [];
  const t = await TrainingSession.create(cfg(), data, { gpu: g, checkpointEvery: 2, onEvent: (e) => stop.push(e), backend: faults.backend });
  await t.stepOnce();
  faults.poisonNextStep(t.trainer, { name: 'blocks.0.mlp.fc2', index: 0 });
  await t.stepOnce(); // step 2: the checkpoint's drain finds the collapse and takes no checkpoint
  assert.equal(t.checkpointStep, 0);
  assert.deepEqual(stop.filter((e) => e.type === 'non-finite'), [{ type: 'non-finite', event: { step: 2, quantity: 'L_FM', action: 'stopped', restoredTo: null } }]);
  assert.deepEqual(t.collapse, { step: 2, quantity: 'L_FM' });
  await assert.rejects(t.stepOnce(), CollapseError);
  t.dispose();
});

test('session: a destroyed device is noticed; training continues on a new device from the checkpoint, same step count, same parameters', async () => {
  // The file's shared device goes first: it is the one destroyed (its teardown tolerates that).
  const first = await shared();
  const events: SessionEvent[] = [];
  let acquired = 0;
  const acquire = async () => {
    acquired++;
    return new Gpu(await acquireDevice());
  };
  const s = await TrainingSession.create(cfg(), data, { gpu: first, acquire, checkpointEvery: 2, onEvent: (e) => events.push(e) });
  for (let i = 0; i < 3; i++) await s.stepOnce();
  assert.equal(s.step, 3);
  assert.equal(s.checkpointStep, 2);

  first.device.destroy();
  await first.device.lost;
  assert.deepEqual(await s.stepOnce(), []);
  assert.equal(acquired, 1);
  assert.notEqual(s.gpu, first);
  assert.equal(s.step, 2, 'restored to the checkpoint step');
  const lost = events.filter((e) => e.type === 'device-lost' || e.type === 'restored');
  assert.deepEqual(lost, [
    { type: 'device-lost', step: 3, reason: 'destroyed', message: lost[0].type === 'device-lost' ? lost[0].message : '' },
    { type: 'restored', lostAt: 3, restoredFrom: 2, attempt: 1, reason: 'destroyed' },
  ]);

  // Steps 3–5 again on the new device: the data and noise streams were restored with the state.
  for (let i = 0; i < 3; i++) await s.stepOnce();
  const recs = await s.drain();
  assert.equal(s.step, 5);
  for (const r of recs) assert.ok(Number.isFinite(r.loss));
  const ref = await reference(s.gpu, 5);
  await sameState('recovered run vs uninterrupted run at step 5', s.trainer, ref);
  ref.dispose();
  s.dispose();
  assert.equal((await s.gpu.device.lost).reason, 'destroyed', 'dispose destroys the device the session acquired');
});

test('session: a missing, corrupt or mismatched teacher is refused by name before a device is acquired', async () => {
  const store = new MemoryCheckpointStore();
  await store.save('autosave', new Uint8Array([1, 2, 3]));
  let acquired = 0;
  const acquire = async () => {
    acquired++;
    throw new Error('no device in this test');
  };
  const distil = cfg();
  await assert.rejects(
    TrainingSession.create(distil, data, { store, acquire, teacher: { key: 'teacher-fm' } }),
    (e: Error) => e instanceof TeacherError && /teacher checkpoint 'teacher-fm' is not in the store \(have: autosave\); train an 'fm' teacher first/.test(e.message),
  );
  await assert.rejects(TrainingSession.create(distil, data, { acquire, teacher: { key: 'teacher-fm' } }), /names teacher checkpoint 'teacher-fm' but has no checkpoint store/);
  const t = saveCheckpoint({ model, step: 10, params: initParams(paramTable(model), 1) });
  const bad = t.slice();
  bad[bad.length - 5] ^= 1;
  await assert.rejects(
    TrainingSession.create(distil, data, { acquire, teacher: { bytes: bad, name: 'fm.safetensors' } }),
    /teacher checkpoint 'fm\.safetensors' cannot be loaded: .*checksum mismatch/,
  );
  await assert.rejects(
    TrainingSession.create(distil, data, { acquire, teacher: { bytes: t.subarray(0, 100), name: 'cut.safetensors' } }),
    /teacher checkpoint 'cut\.safetensors' cannot be loaded: .*truncated/,
  );
  assert.equal(acquired, 0);
  // A teacher for other images: the Trainer names both shapes (before allocating anything).
  const other = { ...model, H: 16, W: 16, patch: 4 };
  const t16 = saveCheckpoint({ model: other, step: 1, params: initParams(paramTable(other), 1) });
  const g = new Gpu(await acquireDevice());
  try {
    await assert.rejects(
      TrainingSession.create(distil, data, { gpu: g, teacher: { bytes: t16 } }),
      /the teacher checkpoint is for 3×16×16 images but the student model is 3×8×8/,
    );
  } finally {
    g.destroy();
  }
});

test('session: resuming a checkpoint of another model, or one without a training config, names the problem', async () => {
  const other = { ...model, D: 32 };
  const bytes = saveCheckpoint({ model: other, step: 3, params: initParams(paramTable(other), 1), run: { ...cfg({ model: other }) } });
  await assert.rejects(TrainingSession.resume(bytes, data, { cfg: cfg() }), /checkpoint is for another model config \(D: 32 ≠ 16\)/);
  const bare = saveCheckpoint({ model, step: 3, params: initParams(paramTable(model), 1) });
  await assert.rejects(TrainingSession.resume(bare, data), /the checkpoint records no training config .* pass the config to resume with/);
  const store = new MemoryCheckpointStore();
  const cut = bare.slice(0, bare.length - 8);
  await store.save('autosave', cut);
  await assert.rejects(TrainingSession.resume((await store.load('autosave'))!, data), /truncated|out of range/);
});
