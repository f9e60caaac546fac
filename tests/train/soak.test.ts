// Memory soak (short form; `npm run soak -- --steps 3000` is the long one): ~200 steps of a very
// small config through a TrainingSession (checkpoints, drains, rollback snapshots, one poisoned step)
// and the device's live buffers and bytes, sampled every 25 steps, are flat after warm-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN } from '../../src/data/procedural';
import { PRESETS } from '../../src/model/config';
import { objectiveConfig } from '../..//src/config/keys';
import { trainDefaults } from '../..//src/config/keys';
import { TrainingSession } from '../../src/train/session';
import { flatAfter, soak } from '../../src/train/soak';
import { gpuForFile } from '../helpers/gpu';

const gpu = gpuForFile();

test('soak: 200 steps (D 16, depth 1, batch 2, 8×8) keep live GPU buffers and bytes flat after warm-up', async () => {
  const g = await gpu();
  const cfg = { ...trainDefaults(), model: { ...PRESETS.tiny.config, D: 16, depth: 1 }, objective: objectiveConfig('facm'), batch: 2, seed: 4, onNonFinite: 'rollback' as const, snapshotEvery: 20 };
  const session = await TrainingSession.create(cfg, BUILTIN.shapes8.make(0, 64), { gpu: g, checkpointEvery: 40 });
  const r = await soak(session, 200, {
    every: 25,
    drainEvery: 10,
    poisonAt: 60,
    heap: () => process.memoryUsage().heapUsed,
    onSample: (s) => console.log(`soak step ${s.step}: ${s.buffers} buffers, ${s.bytes} bytes, ${s.pooledFree} pooled free, heap ${(s.heap! / 2 ** 20).toFixed(1)} MiB, ${s.stepsPerSec.toFixed(2)} steps/s`),
  });
  assert.equal(r.samples.length, 8);
  const verdict = flatAfter(r.samples, 25);
  assert.ok(verdict.flat, verdict.message);
  assert.equal(session.events.filter((e) => e.type === 'non-finite').length, 1, 'the poisoned step was rolled back once');
  assert.ok(session.events.filter((e) => e.type === 'checkpoint').length >= 4, 'checkpoints were taken along the way');
  session.dispose();
});
