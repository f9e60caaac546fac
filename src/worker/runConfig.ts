// The playground's configuration: one declared list of keys, each with a default, a valid range and
// a one-line why (tensorflow/playground style). The run-defining keys are src/train/runconfig.ts's
// (the CLI and the trainer's session read the same list); this module adds the keys that only change
// what the page shows, and the URL, diff and checkpoint plumbing. Plain data: the UI and the worker
// both import it, and `toTrainConfig` turns it into the Trainer's config.

import type { DiTConfig } from '../model/config';
import { PRESETS } from '../model/config';
import type { ObjectiveConfig } from '../objectives/objectives';
import type { TrainConfig } from '../train/trainer';
import { BUILTIN } from '../data/procedural';
import {
  CUSTOM_DATASET,
  defaultDatasetFor,
  modelOfRun,
  objectiveOfRun,
  parseKeyValue,
  RUN_CONFIG_KEYS,
  runConfigToTrainConfig,
  type BoolKey,
  type ChoiceKey,
  type NumKey,
  type RunConfig,
  type RunConfigKey,
} from '../train/runconfig';

export { CUSTOM_DATASET, defaultDatasetFor };

/** 'run' keys define a training run (they go into checkpoints and config diffs); 'view' keys only change what is shown. */
type Group = 'run' | 'view';
export type NumSpec = NumKey & { group: Group };
export type BoolSpec = BoolKey & { group: Group };
export type ChoiceSpec = ChoiceKey & { group: Group };
export type KeySpec = NumSpec | BoolSpec | ChoiceSpec;

const VIEW_KEYS = {
  sampleEvery: { kind: 'int', default: 50, min: 1, max: 1_000_000, why: 'refresh the sample grids every this many steps (sampling costs a few forward passes)', group: 'view' },
  sampleWeights: { kind: 'choice', default: 'online', values: ['online', 'ema'], why: 'sample with the online weights (short runs) or their EMA (long runs)', group: 'view' },
  euler: { kind: 'int', default: 16, min: 0, max: 256, why: "Euler steps for the FM anchor's own samples (0: off); shown for FM and FACM", group: 'view' },
  autosaveEvery: { kind: 'int', default: 200, min: 0, max: 1_000_000, why: 'save every training run in this browser every this many steps and on pause, so a reload resumes it (0: off)', group: 'view' },
  memoryBudget: { kind: 'int', default: 0, min: 0, max: 1_048_576, why: "MiB a run's GPU buffers may take (0: 75 % of the memory the browser reports; WebGPU cannot see a GPU's own memory, so set it for a discrete GPU)", group: 'view' },
  stopAt: { kind: 'int', default: 0, min: 0, max: 10_000_000, why: 'train every run to this step and stop there (0: no cap), so runs are compared at the same step', group: 'view' },
} as const satisfies Record<string, KeySpec>;

export type ViewKey = keyof typeof VIEW_KEYS;
export type Key = RunConfigKey | ViewKey;
export type Config = RunConfig & { sampleEvery: number; sampleWeights: 'online' | 'ema'; euler: number; autosaveEvery: number; stopAt: number; memoryBudget: number };

export const KEYS: Record<Key, KeySpec> = {
  ...(Object.fromEntries(Object.entries(RUN_CONFIG_KEYS).map(([k, s]) => [k, { ...s, group: 'run' }])) as Record<RunConfigKey, KeySpec>),
  ...VIEW_KEYS,
};

export const KEY_NAMES = Object.keys(KEYS) as Key[];
export const RUN_KEYS = KEY_NAMES.filter((k) => KEYS[k].group === 'run');

export function defaults(): Config {
  const out: Record<string, unknown> = {};
  for (const k of KEY_NAMES) out[k] = KEYS[k].default;
  return out as Config;
}

export function formatValue(k: Key, v: unknown): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number' && KEYS[k].kind === 'float') return String(Number(v.toPrecision(6)));
  return String(v);
}

/** Parses one value for key k: a typed value, or an Error saying what range is allowed. */
export function parseValue(k: Key, raw: unknown): unknown | Error {
  return parseKeyValue(KEYS[k], raw);
}

export interface Parsed {
  config: Config;
  /** Ablation preset named in the link ('' for none). */
  ablation: string;
  /** What was wrong with the link, one line each (shown on the page; bad values fall back to defaults). */
  messages: string[];
}

/** Keys in the URL that are not config: routes. */
const ROUTE_KEYS = new Set(['smoke']);

/**
 * Reads a config from a query string. Unknown keys and out-of-range values produce a message and
 * fall back to the default; they never throw. `ablationIds` are the valid values of `ablation`.
 */
export function parseSearch(search: string, ablationIds: readonly string[] = []): Parsed {
  const config = defaults();
  const messages: string[] = [];
  let ablation = '';
  const params = new URLSearchParams(search);
  const given = new Set<string>();
  for (const [k, raw] of params) {
    if (ROUTE_KEYS.has(k)) continue;
    if (k === 'ablation') {
      if (ablationIds.includes(raw)) ablation = raw;
      else messages.push(`ablation=${raw} is not a preset (have ${ablationIds.join(', ')}); ignored`);
      continue;
    }
    if (!(k in KEYS)) {
      messages.push(`unknown setting '${k}' in the link; ignored`);
      continue;
    }
    const key = k as Key;
    const v = parseValue(key, raw);
    if (v instanceof Error) {
      messages.push(`${key}=${raw}: ${v.message}; using the default ${formatValue(key, KEYS[key].default)}`);
      continue;
    }
    (config as Record<string, unknown>)[key] = v;
    given.add(key);
  }
  if (config.dataset === CUSTOM_DATASET) {
    const fallback = defaultDatasetFor(config.preset);
    messages.push(`dataset=${CUSTOM_DATASET}: the link's run used files from its author's disk, which a link cannot carry; drop them here to use them. Using ${fallback} meanwhile`);
    config.dataset = fallback;
  } else if (!given.has('dataset')) config.dataset = defaultDatasetFor(config.preset);
  return { config, ablation, messages };
}

/** The query string for a config: only keys that differ from their defaults, in declared order. */
export function toSearch(config: Config, ablation = ''): string {
  const p = new URLSearchParams();
  for (const k of KEY_NAMES) {
    const v = config[k];
    if (k === 'dataset' && v === defaultDatasetFor(config.preset)) continue;
    if (k !== 'dataset' && v === KEYS[k].default) continue;
    p.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  if (ablation) p.set('ablation', ablation);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** The keys that change what an objective does (the controls show these, the diff compares these). */
export function relevantKeys(c: Pick<Config, 'objective'>): Key[] {
  const base: Key[] = ['preset', 'objective', 'dataset', 'batch', 'lr', 'seed', 'emaDecay', 'onNonFinite'];
  const tS: Key[] = ['tMean', 'tStd'];
  switch (c.objective) {
    case 'fm':
      return base;
    case 'facm':
      return [...base, 'lambdaFM', 'alpha', 'clamp', 'interval', ...tS];
    case 'cm-no-anchor':
      return [...base, 'alpha', 'clamp', 'interval', ...tS];
    case 'scm':
      return [...base, 'scmWarmup', 'scmNormalise', ...tS];
    case 'meanflow':
      return [...base, 'flowRatio', 'meanflowP', ...tS];
  }
}

/** Run keys on which a and b differ (relevant to either's objective). */
export function diffConfigs(a: Config, b: Config): Key[] {
  const keys = new Set([...relevantKeys(a), ...relevantKeys(b)]);
  return RUN_KEYS.filter((k) => keys.has(k) && a[k] !== b[k]);
}

export function sameRun(a: Config, b: Config): boolean {
  return RUN_KEYS.every((k) => a[k] === b[k]);
}

export function objectiveOf(c: Config): ObjectiveConfig {
  return objectiveOfRun(c);
}

export function modelOf(c: Config): DiTConfig {
  return modelOfRun(c);
}

export function toTrainConfig(c: Config): TrainConfig {
  return runConfigToTrainConfig(c);
}

/** A checkpoint's `run` metadata: the CLI's (the TrainConfig and the dataset name) plus this playground's keys. */
export type RunMetadata = TrainConfig & { dataset: string; playground: Partial<Config> };

export function runMetadata(c: Config, datasetName: string): RunMetadata {
  const playground: Partial<Config> = {};
  for (const k of RUN_KEYS) (playground as Record<string, unknown>)[k] = c[k];
  return { ...toTrainConfig(c), dataset: datasetName, playground };
}

/**
 * The playground config a checkpoint was trained with: from this playground's own metadata, or
 * mapped from the CLI's (a TrainConfig plus the dataset name). View keys come from `base`.
 * Returns the config and what could not be carried over.
 */
export function configFromCheckpoint(run: unknown, model: DiTConfig, base: Config): { config: Config; notes: string[] } {
  const config = { ...base };
  const notes: string[] = [];
  const set = (k: Key, v: unknown) => {
    if (v === undefined) return;
    const x = parseValue(k, v);
    if (x instanceof Error) notes.push(`${k}=${String(v)} in the checkpoint: ${x.message}; kept ${formatValue(k, config[k])}`);
    else (config as Record<string, unknown>)[k] = x;
  };
  const r = (run ?? {}) as Partial<RunMetadata>;
  if (r.playground) {
    for (const k of RUN_KEYS) set(k, (r.playground as Record<string, unknown>)[k]);
  } else {
    const preset = Object.values(PRESETS).find((p) => (Object.keys(p.config) as (keyof DiTConfig)[]).every((f) => f === 'useR' || p.config[f] === model[f]));
    if (!preset) throw new Error(`the checkpoint's model (${JSON.stringify(model)}) matches none of the presets (${Object.keys(PRESETS).join(', ')})`);
    config.preset = preset.name;
    const o = r.objective as Partial<ObjectiveConfig> | undefined;
    if (o) for (const k of ['lambdaFM', 'interval', 'alpha', 'clamp', 'tMean', 'tStd', 'scmWarmup', 'scmNormalise', 'flowRatio', 'meanflowP'] as const) set(k, o[k]);
    set('objective', o?.name);
    set('batch', r.batch);
    set('lr', r.lr);
    set('seed', r.seed);
    set('emaDecay', r.emaDecay);
    set('onNonFinite', r.onNonFinite);
    if (typeof r.dataset === 'string') {
      if (r.dataset in BUILTIN) config.dataset = r.dataset;
      else notes.push(`trained on '${r.dataset}', which is not built in: kept ${config.dataset}`);
    }
  }
  const want = modelOf(config);
  const diff = (Object.keys(want) as (keyof DiTConfig)[]).filter((f) => want[f] !== model[f]);
  if (diff.length) throw new Error(`the checkpoint's metadata does not match its own model config (${diff.join(', ')})`);
  return { config, notes };
}
