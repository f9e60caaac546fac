// Long memory soak on Dawn: `npm run soak -- --steps 3000 [--every 100] [--preset tiny] [--batch 4]
// [--D 16 --depth 1] [--objective facm] [--poison-at 1500]`. Runs a TrainingSession (rollback policy,
// checkpoints, drains as the UI does) and prints the live GPU buffers, their bytes and the JS heap at
// intervals; exits 1 when they grow after the first interval. A diagnostic, not part of the product:
// --poison-at injects a NaN through the tests' fault wrapper (tests/helpers/faults.ts).

import { parseArgs } from 'node:util';
import { describeAdapter } from '../src/gpu/device';
import { PRESETS } from '../src/model/config';
import { objectiveConfig, OBJECTIVES, needsR, type ObjectiveName } from '../src/objectives/objectives';
import { BUILTIN } from '../src/data/procedural';
import { resizeDataset } from '../src/data/dataset';
import { DEFAULT_TRAIN, type TrainConfig } from '../src/train/trainer';
import { TrainingSession } from '../src/train/session';
import { soak, flatAfter } from '../src/train/soak';
import { Faults } from '../tests/helpers/faults';

const { values: opt } = parseArgs({
  options: {
    steps: { type: 'string', default: '3000' },
    every: { type: 'string', default: '100' },
    preset: { type: 'string', default: 'tiny' },
    batch: { type: 'string', default: '4' },
    D: { type: 'string' },
    depth: { type: 'string' },
    objective: { type: 'string', default: 'facm' },
    'checkpoint-every': { type: 'string', default: '500' },
    'poison-at': { type: 'string' },
  },
});

const int = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x < 0) throw new Error(`--${name} must be a non-negative integer, got '${v}'`);
  return x;
};

async function main(): Promise<void> {
  const preset = PRESETS[opt.preset!];
  if (!preset) throw new Error(`unknown preset '${opt.preset}' (have ${Object.keys(PRESETS).join(', ')})`);
  const name = opt.objective as ObjectiveName;
  if (!OBJECTIVES.includes(name)) throw new Error(`unknown objective '${name}'`);
  const objective = objectiveConfig(name);
  const model = { ...preset.config, useR: needsR(objective), D: int('D', opt.D) ?? preset.config.D, depth: int('depth', opt.depth) ?? preset.config.depth };
  const steps = int('steps', opt.steps)!;
  const every = Math.max(1, int('every', opt.every)!);
  const cfg: TrainConfig = { ...DEFAULT_TRAIN, model, objective, batch: int('batch', opt.batch)!, onNonFinite: 'rollback', snapshotEvery: 50 };
  let data = BUILTIN.shapes8.make(0);
  if (data.H !== model.H) data = resizeDataset(data, model.H, model.W, { C: model.C });
  const faults = new Faults();
  const session = await TrainingSession.create(cfg, data, { checkpointEvery: int('checkpoint-every', opt['checkpoint-every']), presetName: opt.preset, backend: faults.backend });
  const poisonAt = int('poison-at', opt['poison-at']);
  console.log(`soak: ${steps} steps of ${opt.preset} (D ${model.D}, depth ${model.depth}), ${name}, batch ${cfg.batch} on ${describeAdapter(session.gpu.report)}`);
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  const t0 = performance.now();
  const r = await soak(session, steps, {
    every,
    drainEvery: 10,
    beforeStep: (i) => i === poisonAt && faults.poisonNextStep(session.trainer, { name: 'blocks.0.attn.qkv', index: 0 }),
    heap: () => process.memoryUsage().heapUsed,
    onSample: (s) =>
      console.log(`step ${String(s.step).padStart(6)}  buffers ${s.buffers}  bytes ${s.bytes} (${mib(s.bytes)} MiB)  pooled-free ${s.pooledFree}  heap ${mib(s.heap ?? 0)} MiB  ${s.stepsPerSec.toFixed(2)} steps/s`),
  });
  const verdict = flatAfter(r.samples, every);
  const nonFinite = session.events.filter((e) => e.type === 'non-finite').length;
  console.log(`${verdict.flat ? 'FLAT' : 'GROWING'}: ${verdict.message}; ${r.records} metric records, ${nonFinite} non-finite events, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  session.dispose();
  process.exit(verdict.flat ? 0 : 1);
}

main().catch((e) => {
  console.error(`error: ${(e as Error).message}`);
  process.exit(2);
});
