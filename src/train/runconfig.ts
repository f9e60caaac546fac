// The run config: every key that defines a training run, declared once with its type, default,
// range and a one-line why (tensorflow/playground style), serialisable to a URL query string.
// `validateRunConfig` never throws: unknown keys and bad values produce one message each and fall
// back to the default, so a stale or hand-edited link still opens a run. Key names, defaults and
// ranges match the run keys of src/worker/runConfig.ts, which can take them from here.

import { PRESETS, type DiTConfig } from '../model/config';
import { needsR, objectiveConfig, OBJECTIVES, type ObjectiveConfig, type ObjectiveName } from '../objectives/objectives';
import { BUILTIN } from '../data/procedural';
import { DEFAULT_TRAIN, type NonFinitePolicy, type TrainConfig } from './trainer';

interface Base<T> {
  default: T;
  why: string;
}
export interface NumKey extends Base<number> {
  kind: 'int' | 'float';
  min: number;
  max: number;
}
export interface BoolKey extends Base<boolean> {
  kind: 'bool';
}
export interface ChoiceKey extends Base<string> {
  kind: 'choice';
  values: readonly string[];
}
export type RunKeySpec = NumKey | BoolKey | ChoiceKey;

const int = (d: number, min: number, max: number, why: string): NumKey => ({ kind: 'int', default: d, min, max, why });
const float = (d: number, min: number, max: number, why: string): NumKey => ({ kind: 'float', default: d, min, max, why });
const bool = (d: boolean, why: string): BoolKey => ({ kind: 'bool', default: d, why });
const choice = (d: string, values: readonly string[], why: string): ChoiceKey => ({ kind: 'choice', default: d, values, why });

/** A dataset from the user's files: valid in a run, but a URL cannot carry it. */
export const CUSTOM_DATASET = 'custom';

export const RUN_CONFIG_KEYS = {
  preset: choice('tiny', Object.keys(PRESETS), 'the smallest DiT (8×8 images): trains at interactive speed even on a software adapter'),
  objective: choice('facm', OBJECTIVES, 'the method this playground is about; the others are its baselines'),
  dataset: choice('shapes8', [...Object.keys(BUILTIN), CUSTOM_DATASET], 'procedural 8×8 shapes: no download, matches the tiny preset'),
  batch: int(16, 1, 1024, 'small enough for a software adapter to step every few seconds; raise it on a real GPU'),
  lr: float(1e-3, 1e-6, 1, 'small models on toy data tolerate a high rate (the paper uses 1e-4 for DiT-XL)'),
  seed: int(0, 0, 2 ** 31 - 1, 'same seed, same init, data order and noise: ablation runs differ only in their config'),
  lambdaFM: float(1, 0, 100, "weight of the flow-matching anchor; the paper's default, and ≥ 0.1 is needed from scratch"),
  alpha: bool(true, 'relaxed fixed-point step α = 1 − √t (off: α = 1, the plain consistency target)'),
  clamp: bool(true, 'clamp the residual g to ±1 so a large dF/dt cannot dominate the target'),
  interval: choice('extended', ['extended', 'aux'], "FM branch at c = 2 − t (the paper's extended interval) or at c = t with an auxiliary flag"),
  tMean: float(0.8, -5, 5, 'location of the t sampler: median t ≈ 0.73, biased toward the data end as in the reference'),
  tStd: float(1.6, 0.01, 5, 'spread of the t sampler, as in the reference'),
  flowRatio: float(0.75, 0, 1, "MeanFlow's share of samples with r = t (plain FM); 0 reproduces its collapse"),
  meanflowP: float(1, 0, 2, "MeanFlow's adaptive-weight power p (reference: 1)"),
  scmWarmup: int(1000, 0, 1_000_000, "sCM's linear warm-up of the tangent term, in steps"),
  scmNormalise: bool(true, 'sCM: RMS-normalise the residual (on) or clamp it (off)'),
  emaDecay: float(0.999, 0, 0.99999, 'EMA of the weights (sampling can use them); about 1000 steps of memory'),
  onNonFinite: choice('stop', ['stop', 'rollback'], 'an ablation meant to collapse should end as a visible collapse; rollback retries from the last good state'),
} as const satisfies Record<string, RunKeySpec>;

export type RunConfigKey = keyof typeof RUN_CONFIG_KEYS;
type ValueOf<S> = S extends NumKey ? number : S extends BoolKey ? boolean : string;
export type RunConfig = { -readonly [K in RunConfigKey]: ValueOf<(typeof RUN_CONFIG_KEYS)[K]> } & {
  objective: ObjectiveName;
  interval: 'extended' | 'aux';
  onNonFinite: NonFinitePolicy;
};

export const RUN_CONFIG_KEY_NAMES = Object.keys(RUN_CONFIG_KEYS) as RunConfigKey[];

export const DEFAULT_RUN_CONFIG: Readonly<RunConfig> = Object.freeze(
  Object.fromEntries(RUN_CONFIG_KEY_NAMES.map((k) => [k, RUN_CONFIG_KEYS[k].default])) as RunConfig,
);

/** The built-in dataset whose images match a preset (the dataset's default when none is given). */
export function defaultDatasetFor(preset: string): string {
  const H = PRESETS[preset]?.config.H ?? 8;
  return H <= 8 ? 'shapes8' : H <= 16 ? 'shapes16' : 'shapes32';
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : String(v));

/** One value for key k, typed, or an Error naming the allowed range. Strings are parsed (URL values). */
export function parseRunValue(k: RunConfigKey, raw: unknown): string | number | boolean | Error {
  return parseKeyValue(RUN_CONFIG_KEYS[k] as RunKeySpec, raw);
}

/** One value against its declared spec (the page's view keys use the same rules). */
export function parseKeyValue(s: RunKeySpec, raw: unknown): string | number | boolean | Error {
  if (s.kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    const t = String(raw).toLowerCase();
    if (['1', 'true', 'on', 'yes'].includes(t)) return true;
    if (['0', 'false', 'off', 'no'].includes(t)) return false;
    return new Error('must be on or off (1/0, true/false)');
  }
  if (s.kind === 'choice') {
    const t = String(raw);
    return typeof raw === 'string' && s.values.includes(t) ? t : new Error(`must be one of ${s.values.join(', ')}`);
  }
  const x = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  const range = `${s.kind === 'int' ? 'an integer' : 'a number'} in [${s.min}, ${s.max}]`;
  if (!Number.isFinite(x) || (s.kind === 'int' && !Number.isInteger(x)) || x < s.min || x > s.max) return new Error(`must be ${range}`);
  return x;
}

export interface RunConfigResult {
  config: RunConfig;
  /** One line per problem; each bad or unknown value fell back to the default. */
  errors: string[];
}

/**
 * Validates a run config object (parsed JSON, checkpoint metadata, a form): every declared key
 * typed and in range, unknown keys reported. Missing keys take their defaults (the dataset the
 * one matching the preset). Never throws.
 */
export function validateRunConfig(obj: unknown): RunConfigResult {
  const config = { ...DEFAULT_RUN_CONFIG } as RunConfig;
  const errors: string[] = [];
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    if (obj !== undefined && obj !== null) errors.push(`a run config must be an object, got ${Array.isArray(obj) ? 'an array' : typeof obj}; using the defaults`);
    return { config, errors };
  }
  const given = new Set<string>();
  for (const [k, raw] of Object.entries(obj as Record<string, unknown>)) {
    if (!(k in RUN_CONFIG_KEYS)) {
      errors.push(`unknown setting '${k}'; ignored`);
      continue;
    }
    const key = k as RunConfigKey;
    const v = parseRunValue(key, raw);
    if (v instanceof Error) {
      errors.push(`${key} = ${show(raw)}: ${v.message}; using the default ${show(RUN_CONFIG_KEYS[key].default)}`);
      continue;
    }
    (config as Record<string, unknown>)[key] = v;
    given.add(key);
  }
  if (!given.has('dataset')) config.dataset = defaultDatasetFor(config.preset);
  return { config, errors };
}

/** The URL query string of a config (no leading '?'): every key in declared order, booleans as 1/0. */
export function encodeRunConfig(cfg: RunConfig): string {
  const p = new URLSearchParams();
  for (const k of RUN_CONFIG_KEY_NAMES) {
    const v = cfg[k];
    p.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  return p.toString();
}

/** Reads a config from a query string ('?a=1&b=2' or 'a=1&b=2'): as validateRunConfig, plus repeated keys and a custom dataset reported. */
export function decodeRunConfig(search: string): RunConfigResult {
  const params = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const obj: Record<string, string> = {};
  const errors: string[] = [];
  for (const [k, v] of params) {
    if (k in obj) errors.push(`'${k}' appears more than once; using the last value`);
    obj[k] = v;
  }
  const r = validateRunConfig(obj);
  if (r.config.dataset === CUSTOM_DATASET) {
    r.config.dataset = defaultDatasetFor(r.config.preset);
    r.errors.push(`dataset = '${CUSTOM_DATASET}': a link cannot carry the author's files; using ${r.config.dataset} until files are given`);
  }
  return { config: r.config, errors: [...errors, ...r.errors] };
}

export function objectiveOfRun(c: RunConfig): ObjectiveConfig {
  return objectiveConfig(c.objective, {
    lambdaFM: c.lambdaFM,
    interval: c.interval,
    alpha: c.alpha,
    clamp: c.clamp,
    tMean: c.tMean,
    tStd: c.tStd,
    scmWarmup: c.scmWarmup,
    scmNormalise: c.scmNormalise,
    flowRatio: c.flowRatio,
    meanflowP: c.meanflowP,
  });
}

export function modelOfRun(c: RunConfig): DiTConfig {
  const p = PRESETS[c.preset];
  if (!p) throw new Error(`unknown preset '${c.preset}' (have ${Object.keys(PRESETS).join(', ')})`);
  return { ...p.config, useR: needsR(objectiveOfRun(c)) };
}

/** The Trainer's config for a (validated) run config. */
export function runConfigToTrainConfig(c: RunConfig): TrainConfig {
  return { ...DEFAULT_TRAIN, model: modelOfRun(c), objective: objectiveOfRun(c), batch: c.batch, lr: c.lr, seed: c.seed, emaDecay: c.emaDecay, onNonFinite: c.onNonFinite };
}
