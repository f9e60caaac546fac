// Long memory soak on Dawn: `npm run soak -- --steps 3000 [--every 100] [--preset tiny] [--batch 4]
// [--D 16 --depth 1] [--objective facm] [--poison-at 1500]`. Runs a TrainingSession (rollback policy,
// checkpoints, drains as the UI does) and prints the live GPU buffers, their bytes and the JS heap at
// intervals; exits 1 when they grow after the first interval.

import { describeAdapter } from '../gpu/device';
import { BUILTIN } from '../data/procedural';
import { resizeDataset } from '../data/dataset';
import { TrainingSession } from '../train/session';
import { soak, flatAfter } from '../train/soak';
import { parseCli, type OptionSpec } from '../config/cli';
import { int } from '../config/spec';
import { modelOf, toTrainConfig } from '../config';

const OPTIONS: Record<string, OptionSpec> = {
  steps: int(3000, 1, 1e9, 'steps', 'steps to run'),
  every: int(100, 1, 1e9, 'every', 'sample the live buffers every this many steps'),
  D: int(0, 0, 4096, 'D', 'override the preset width (0: the preset\'s)'),
  depth: int(0, 0, 64, 'depth', 'override the preset depth (0: the preset\'s)'),
  'checkpoint-every': int(500, 1, 1e9, 'checkpoint every', 'in-memory checkpoints every this many steps'),
  'poison-at': int(0, 0, 1e9, 'poison at', 'poison one activation with NaN at this step (0: never), to exercise the rollback'),
};

async function main(): Promise<void> {
  // Soak defaults: a small batch and the rollback policy (the poisoned step must roll back, not stop).
  const p = parseCli(process.argv.slice(2), OPTIONS);
  const config = { ...p.config, batch: p.given.has('batch') ? p.config.batch : 4, onNonFinite: p.given.has('onNonFinite') ? p.config.onNonFinite : ('rollback' as const) };
  const opt = p.opts as { steps: number; every: number; D: number; depth: number; 'checkpoint-every': number; 'poison-at': number };
  const base = modelOf(config);
  const model = { ...base, D: opt.D || base.D, depth: opt.depth || base.depth };
  const { steps, every } = opt;
  const cfg = { ...toTrainConfig(config, model), snapshotEvery: 50 };
  const name = config.objective;
  let data = BUILTIN.shapes8.make(0);
  if (data.H !== model.H) data = resizeDataset(data, model.H, model.W, { C: model.C });
  const session = await TrainingSession.create(cfg, data, { checkpointEvery: opt['checkpoint-every'], presetName: config.preset });
  console.log(`soak: ${steps} steps of ${config.preset} (D ${model.D}, depth ${model.depth}), ${name}, batch ${cfg.batch} on ${describeAdapter(session.gpu.report)}`);
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  const t0 = performance.now();
  const r = await soak(session, steps, {
    every,
    drainEvery: 10,
    poisonAt: opt['poison-at'] || undefined,
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
