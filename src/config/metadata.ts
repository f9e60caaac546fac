// The checkpoint metadata codec: what a checkpoint's `run` entry records about the run that made
// it, and the config read back from it. One shape is written (every run key, the dataset as
// loaded, and the writer's own extras such as the CLI's target step); three are read, so older
// checkpoints keep loading: this shape, the playground's earlier one ({ ...trainer config,
// playground: { keys } }) and the CLI's earlier one (the trainer config itself).

import { PRESETS, type DiTConfig } from '../model/config';
import { BUILTIN } from '../data/procedural';
import { defaults, modelOf, OBJECTIVE_KNOBS, RUN_KEYS, specOf, toTrainConfig, type Config, type Key } from './keys';
import type { TrainConfig } from '../train/trainer';
import { formatValue, parseValue } from './spec';

export const RUN_FORMAT = 'facm-run/2';

export interface RunMetadata {
  format: typeof RUN_FORMAT;
  /** Every run key of the config. */
  config: Partial<Config>;
  /** The dataset's name as loaded (a built-in, or the user's files). */
  dataset: string;
  [extra: string]: unknown;
}

export function runMetadata(c: Config, datasetName: string, extra: Record<string, unknown> = {}): RunMetadata {
  const config: Partial<Config> = {};
  for (const k of RUN_KEYS) (config as Record<string, unknown>)[k] = c[k];
  return { ...extra, format: RUN_FORMAT, config, dataset: datasetName };
}

export interface FromMetadata {
  /** `base` (view keys and anything the checkpoint does not record) with the checkpoint's run keys. */
  config: Config;
  /** What could not be carried over, one line each. */
  notes: string[];
  /** The checkpoint's model is one of the presets (config.preset); otherwise it is only in the checkpoint. */
  presetMatches: boolean;
  /** The whole `run` entry, for a writer's own extras (e.g. the CLI's `cli`). */
  run: Record<string, unknown>;
}

/** The preset whose model is `model` (r-conditioning aside), if any. */
export function presetOfModel(model: DiTConfig): string | null {
  const p = Object.values(PRESETS).find((x) => (Object.keys(x.config) as (keyof DiTConfig)[]).every((f) => f === 'useR' || x.config[f] === model[f]));
  return p?.name ?? null;
}

/** The config a checkpoint was trained with, from its `run` metadata and its model config. */
export function configFromMetadata(runMeta: unknown, model: DiTConfig, base: Config = defaults()): FromMetadata {
  const config = { ...base };
  const notes: string[] = [];
  const run = (runMeta && typeof runMeta === 'object' ? runMeta : {}) as Record<string, unknown>;
  const set = (k: Key, v: unknown) => {
    if (v === undefined) return;
    const x = parseValue(specOf(k), v);
    if (x instanceof Error) notes.push(`${k}=${String(v)} in the checkpoint: ${x.message}; kept ${formatValue(specOf(k), config[k])}`);
    else (config as Record<string, unknown>)[k] = x;
  };
  const keys = (run.format === RUN_FORMAT ? run.config : run.playground) as Record<string, unknown> | undefined;
  if (keys && typeof keys === 'object') {
    for (const k of RUN_KEYS) set(k, keys[k]);
  } else {
    // The CLI's earlier layout: the trainer config (objective as an object) and the dataset name.
    const o = (run.objective ?? {}) as Record<string, unknown>;
    set('objective', o.name);
    for (const k of OBJECTIVE_KNOBS) set(k, o[k]);
    for (const k of RUN_KEYS) if (k !== 'objective' && k !== 'dataset' && k !== 'preset' && !specOf(k).knob) set(k, run[k]);
    if (typeof run.dataset === 'string') {
      if (run.dataset in BUILTIN) config.dataset = run.dataset;
      else notes.push(`trained on '${run.dataset}', which is not built in: kept ${config.dataset}`);
    }
  }
  const preset = presetOfModel(model);
  if (preset) config.preset = preset;
  const presetMatches = preset !== null;
  if (presetMatches) {
    const want = modelOf(config);
    const diff = (Object.keys(want) as (keyof DiTConfig)[]).filter((f) => want[f] !== model[f]);
    if (diff.length) throw new Error(`the checkpoint's metadata does not match its own model config (${diff.join(', ')})`);
  }
  return { config, notes, presetMatches, run };
}

/** The Trainer config to continue a checkpoint with (its own model); refuses one that records no run. */
export function trainConfigOfCheckpoint(runMeta: unknown, model: DiTConfig): TrainConfig {
  const r = (runMeta ?? {}) as Record<string, unknown>;
  if (r.format !== RUN_FORMAT && !r.playground && !(r.objective && typeof r.objective === 'object'))
    throw new Error('the checkpoint records no training config (objective, optimizer) in its metadata: pass the config to resume with');
  const { config, notes } = configFromMetadata(r, model);
  if (notes.length) throw new Error(`the checkpoint's training config cannot be used: ${notes.join('; ')}`);
  return toTrainConfig(config, model);
}
