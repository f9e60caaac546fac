// A training step recorded once per shape and replayed (Gpu.capture / Gpu.replay, Trainer): replayed
// steps give the same metrics and weights, bit for bit, as steps recorded by the model code, for every
// objective (FM, FACM, sCM during its warm-up, MeanFlow with its second time condition, a
// class-conditional run with label dropout); a second capture that differs from the first is an
// error; and the runtime refuses what a replay could not reproduce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN } from '../../src/data/procedural';
import { PRESETS, type DiTConfig } from '../../src/model/config';
import { objectiveConfig, trainDefaults } from '../../src/config/keys';
import type { ObjectiveName } from '../../src/objectives/table';
import { Trainer, type TrainConfig } from '../../src/train/trainer';
import { elementwiseKernel } from '../../src/ops/elementwise';
import type { Gpu, Tensor } from '../../src/gpu/runtime';
import { gpuForFile } from '../helpers/gpu';

const gpu = gpuForFile();
const base: DiTConfig = { ...PRESETS.tiny.config, D: 16, depth: 1 };
const data = BUILTIN.blobs8.make(1, 64);

async function run(g: Gpu, cfg: TrainConfig, replay: boolean, steps: number) {
  const tr = new Trainer(g, cfg, data, { replay });
  for (let i = 0; i < steps; i++) await tr.stepOnce();
  const recs = await tr.drain();
  const out = { recs: recs.map((r) => ({ ...r, t: Array.from(r.t), clampByT: r.clampByT && Array.from(r.clampByT), rmsGByT: r.rmsGByT && Array.from(r.rmsGByT) })), params: await tr.readParams(), ema: await tr.readParams('ema'), replayed: tr.replayedSteps };
  tr.dispose();
  return out;
}

const cases: { name: string; objective: ObjectiveName; model?: Partial<DiTConfig>; over?: Partial<TrainConfig>; knobs?: Record<string, number | boolean | string> }[] = [
  { name: 'FM', objective: 'fm' },
  { name: 'FACM', objective: 'facm' },
  { name: 'sCM in its warm-up (the tangent weight changes every step)', objective: 'scm', knobs: { scmWarmup: 4 } },
  { name: 'MeanFlow (second time condition r)', objective: 'meanflow', model: { useR: true } },
  { name: 'class-conditional FACM with label dropout', objective: 'facm', model: { numClasses: 4 }, over: { labels: { labelDropout: 0.5, cfgWeight: 1, cfgTMin: 0 } } },
];

for (const c of cases)
  test(`replay: ${c.name}: replayed steps match recorded ones bit for bit (metrics, weights, EMA)`, async () => {
    const g = await gpu();
    const cfg: TrainConfig = { ...trainDefaults(), model: { ...base, ...c.model }, objective: objectiveConfig(c.objective, c.knobs as never), batch: 4, seed: 5, ...c.over };
    const steps = 6;
    const a = await run(g, cfg, true, steps);
    const b = await run(g, cfg, false, steps);
    assert.equal(a.replayed, steps - 2, 'steps 1 and 2 are captured, the rest replayed');
    assert.equal(b.replayed, 0);
    assert.deepEqual(a.recs, b.recs);
    assert.deepEqual(a.params, b.params);
    assert.deepEqual(a.ema, b.ema);
  });

// ------------------------------------------------------------------ the runtime's capture / replay

/** y = a + b on the first n of 64 elements (the elementwise kernel, one 256-thread group): uploads `x` (an input), adds a constant upload, releases all. */
function addInto(g: Gpu, x: Float32Array, constant: Float32Array, out: Tensor, n = 64): void {
  const a = g.upload(x, [64]);
  const b = g.upload(constant, [64]);
  const y = g.alloc([64]);
  g.dispatch(elementwiseKernel, 'add', { n, R: 0 }, [y, a, b], [1]);
  g.copy(y, out);
  g.release(a, b, y);
}

test('Gpu.replay: new inputs go where the captured uploads went; a refused replay records nothing', async () => {
  const g = await gpu();
  const out = g.view(g.persistent(64, 'replay-test.out'), 0, [64]);
  const x0 = Float32Array.from({ length: 64 }, (_, i) => i);
  const k = new Float32Array(64).fill(0.5);
  const { recording } = g.capture([x0], () => addInto(g, x0, k, out));
  assert.equal(recording.dispatches, 1);
  assert.deepEqual(Array.from(await g.read(out)), Array.from(x0, (v) => v + 0.5));
  const x1 = Float32Array.from({ length: 64 }, (_, i) => -2 * i);
  const n0 = g.dispatchCount;
  assert.equal(g.replay(recording, [x1]), true);
  assert.equal(g.dispatchCount - n0, 1);
  assert.deepEqual(Array.from(await g.read(out)), Array.from(x1, (v) => v + 0.5));
  // One of its pooled buffers held by someone else: refused (else it would overwrite theirs).
  const held: Tensor[] = [];
  for (let i = 0; i < 4; i++) held.push(g.alloc([64]));
  assert.ok(held.some((t) => recording.pooled.includes(t.buffer)), 'the pool hands the recording\'s buffers out again');
  assert.equal(g.replay(recording, [x0]), false);
  g.release(...held);
  assert.equal(g.replay(recording, [x0]), true);
  // A buffer destroyed since the capture: refused.
  g.destroyBuffer(g.persistent(64, 'replay-test.gone'));
  assert.equal(g.replay(recording, [x0]), false);
  g.destroyBuffer(out.buffer);
});

test('Recording.differsFrom: names a changed uniform, a changed upload that is not an input, another input; equal work is equal', async () => {
  const g = await gpu();
  const out = g.view(g.persistent(64, 'replay-test.out'), 0, [64]);
  const x = new Float32Array(64).fill(1);
  const k = new Float32Array(64).fill(2);
  const cap = (f: () => void, inputs: object[] = [x]) => g.capture(inputs, f).recording;
  const first = cap(() => addInto(g, x, k, out));
  assert.equal(first.differsFrom(cap(() => addInto(g, x.map((v) => v + 1), k, out), [])), 'command 0 (write): an upload of input 0, then of input -1 (−1: data not among the inputs)');
  assert.equal(cap(() => addInto(g, x, k, out)).differsFrom(first), null);
  assert.match(cap(() => addInto(g, x, k.map((v) => v + 1), out)).differsFrom(first) ?? '', /command 1 \(write\): data not among the inputs, and it changed/);
  const other = cap(() => addInto(g, x, k, out, 32));
  assert.match(other.differsFrom(first) ?? '', /command 2 \(elementwise\.add\): uniform word 0 changed/);
  g.destroyBuffer(out.buffer);
});

test('Gpu.capture: refuses a kept pooled tensor and a read-back inside it', async () => {
  const g = await gpu();
  let kept: Tensor | null = null;
  assert.throws(() => g.capture([], () => { kept = g.alloc([64]); }), /kept 1 pooled tensor/);
  g.release(kept);
  const t = g.alloc([64]);
  await assert.rejects(async () => { await g.capture([], () => g.read(t)).result; }, /cannot read back/);
  g.release(t);
  g.flush();
});

test('Trainer.forgetRecordings: the next steps run the model code again (a re-tune takes effect at once)', async () => {
  const g = await gpu();
  const tr = new Trainer(g, { ...trainDefaults(), model: base, objective: objectiveConfig('fm'), batch: 4, seed: 1 }, data, { replay: true });
  for (let i = 0; i < 4; i++) await tr.stepOnce(); // capture, check, replay, replay
  assert.equal(tr.replayedSteps, 2);
  tr.forgetRecordings();
  for (let i = 0; i < 3; i++) await tr.stepOnce(); // capture, check, replay: one more replay, not three
  assert.equal(tr.replayedSteps, 3);
  await tr.drain();
  tr.dispose();
});
