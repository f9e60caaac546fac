// Trainer on SwiftShader: steps run and report finite metrics, a run is reproducible from its seed,
// a non-finite value is named in the step's record, and checkpoints round-trip bit-exactly and
// refuse another config.
import { test } from 'node:test';
import { BUILTIN } from '../../src/data/procedural';
import { PRESETS, type DiTConfig } from '../../src/model/config';
import { objectiveConfig } from '../..//src/config/keys';
import { Trainer, type TrainConfig } from '../..//src/train/trainer';
import { trainDefaults } from '../..//src/config/keys';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint';
import { gpuForFile } from '../helpers/gpu';
import { scheduledLr } from '../../src/ops/optim';

const gpu = gpuForFile();
const model: DiTConfig = { ...PRESETS.tiny.config, D: 16, depth: 1 };
const data = BUILTIN.blobs8.make(1, 64);
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({ ...trainDefaults(), model, objective: objectiveConfig('facm'), batch: 4, seed: 3, ...over });

test('trainer: steps report finite metrics, reproducibly from the seed', async () => {
  const g = await gpu();
  const runs: number[][] = [];
  for (let k = 0; k < 2; k++) {
    const tr = new Trainer(g, cfg(), data);
    for (let i = 0; i < 3; i++) await tr.stepOnce();
    const recs = await tr.drain();
    if (recs.length !== 3 || tr.step !== 3) throw new Error(`expected 3 records, got ${recs.length} at step ${tr.step}`);
    for (const r of recs) for (const key of ['loss', 'lossFM', 'lossCM', 'gradNorm', 'clampFrac', 'rmsG'] as const)
      if (!Number.isFinite(r[key])) throw new Error(`step ${r.step}: ${key} = ${r[key]}`);
    runs.push(recs.map((r) => r.loss));
    runs.push(Array.from(await tr.readParams()).slice(0, 2000));
  }
  if (runs[0].join() !== runs[2].join()) throw new Error(`same seed, different losses: ${runs[0]} vs ${runs[2]}`);
  if (runs[1].join() !== runs[3].join()) throw new Error('same seed, different parameters');
});

test('trainer: a NaN injected into the weights is caught within a step and named in its record (L_FM)', async () => {
  const g = await gpu();
  const tr = new Trainer(g, cfg(), data);
  await tr.stepOnce();
  const before = await tr.readParams();
  // Test hook: poison one attention weight, as a diverging run would.
  const spec = tr.table.byName.get('blocks.0.attn.qkv.weight')!;
  const poisoned = before.slice();
  poisoned[spec.offset + 5] = NaN;
  tr.loadState({ params: poisoned, step: tr.step });
  await tr.stepOnce();
  const rec = (await tr.drain()).at(-1);
  if (rec?.step !== 2) throw new Error(`drained step ${rec?.step}, want 2`);
  if (rec.nonFinite !== 'L_FM') throw new Error(`first non-finite quantity ${rec.nonFinite}, want L_FM`);
  // The optimizer skipped the bad step on the GPU: every weight but the poisoned one is unchanged.
  const after = await tr.readParams();
  for (let i = 0; i < after.length; i++) if (i !== spec.offset + 5 && after[i] !== poisoned[i]) throw new Error(`weight ${i} changed after a non-finite step`);
});

test('checkpoint: round-trips bit-exactly, refuses another config and a corrupt file', async () => {
  const g = await gpu();
  const tr = new Trainer(g, cfg(), data);
  await tr.stepOnce();
  await tr.stepOnce();
  const params = await tr.readParams();
  const ema = await tr.readParams('ema');
  const { m, v } = await tr.readOptimizer();
  const bytes = saveCheckpoint({ model, step: tr.step, params, ema, m, v, run: { note: 'test' } });
  const st = loadCheckpoint(bytes, model);
  for (const [name, a, b] of [['params', params, st.params], ['ema', ema, st.ema!], ['m', m, st.m!], ['v', v, st.v!]] as const) {
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) throw new Error(`${name}[${i}] differs after round trip`);
  }
  if (st.step !== 2) throw new Error(`step ${st.step}`);
  const other = { ...model, D: 32 };
  try {
    loadCheckpoint(bytes, other);
    throw new Error('loaded a checkpoint of another config');
  } catch (e) {
    if (!/another model config \(D: 16 ≠ 32\)/.test((e as Error).message)) throw e;
  }
  const bad = bytes.slice();
  bad[bad.length - 3] ^= 0x40;
  try {
    loadCheckpoint(bad);
    throw new Error('loaded a corrupt checkpoint');
  } catch (e) {
    if (!/checksum/.test((e as Error).message)) throw e;
  }
  // A resumed trainer continues from the same state and step.
  const tr2 = new Trainer(g, cfg(), data);
  tr2.loadState(st);
  if (tr2.step !== 2) throw new Error('step not restored');
  const p2 = await tr2.readParams();
  if (p2.some((x, i) => Object.is(x, params[i]) === false)) throw new Error('parameters not restored');
});

test('trainer: the learning-rate schedule reaches AdamW (a floor of 0 after the decay freezes the weights; 0.5 does not)', async () => {
  const g = await gpu();
  const moved: boolean[] = [];
  for (const lrFloor of [0, 0.5]) {
    const tr = new Trainer(g, cfg({ weightDecay: 0, lrWarmup: 2, lrDecaySteps: 2, lrFloor }), data);
    for (let i = 0; i < 4; i++) await tr.stepOnce(); // steps 1–4: warm-up, then the cosine to the floor at step 4
    const a = await tr.readParams();
    await tr.stepOnce();
    await tr.stepOnce();
    const b = await tr.readParams();
    moved.push(a.some((x, i) => x !== b[i]));
    await tr.drain();
    tr.dispose();
  }
  if (moved[0] || !moved[1]) throw new Error(`weights after the decay moved: floor 0 ${moved[0]} (want false), floor 0.5 ${moved[1]} (want true)`);
});

test('scheduledLr: warm-up, cosine and floor at known steps', () => {
  const s = { lr: 2, lrWarmup: 4, lrDecaySteps: 10, lrFloor: 0.1 };
  const want: [number, number][] = [[1, 0.5], [2, 1], [4, 2], [9, 2 * (0.1 + 0.9 * 0.5)], [14, 0.2], [100, 0.2]];
  for (const [step, lr] of want) if (Math.abs(scheduledLr(s, step) - lr) > 1e-12) throw new Error(`step ${step}: ${scheduledLr(s, step)}, want ${lr}`);
  if (scheduledLr({ lr: 3 }, 7) !== 3) throw new Error('no schedule: the constant rate');
});

