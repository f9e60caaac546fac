// Every setting of the project, declared once: type, default, range, label and why. The URL codec
// (url.ts), the checkpoint metadata codec (metadata.ts), the CLI flags (cli.ts) and the page's
// fields all read this table, and the objectives table (src/objectives/table.ts) names which of
// these keys each objective reads. To add a setting, add one line here (see the README's layout
// section); it is then in the URL, the checkpoints, `--help` and the controls.

import { PRESETS, type DiTConfig } from '../model/config';
import { BUILTIN } from '../data/procedural';
import { SHIPPED } from '../data/shipped';
import { TEACHER_IDS, TEACHERS } from '../data/teachers';
import { OBJECTIVE_TABLE, OBJECTIVES, objectiveSpec, type ObjectiveName } from '../objectives/table';
import type { TrainConfig } from '../train/trainer';
import { bool, choice, float, formatValue, int, parseValue, type BoolSpec, type ChoiceSpec, type KeySpec, type Needs, type NumSpec } from './spec';

/** A dataset from the user's files: valid in a run, but a URL cannot carry it. */
export const CUSTOM_DATASET = 'custom';
/** No teacher: the run trains from scratch. */
export const NO_TEACHER = 'none';
/** A teacher checkpoint the user uploaded: valid in a run, but a URL cannot carry it. */
export const UPLOADED_TEACHER = 'uploaded';

const knob = { knob: true } as const;
const view = { group: 'view' } as const;

export const KEYS = {
  // the run: model, data, objective
  preset: choice('tiny', Object.keys(PRESETS), 'model', 'the smallest DiT (8×8 images): trains at interactive speed even on a software adapter'),
  objective: choice('facm', OBJECTIVES, 'objective', 'the method this playground is about; the others are its baselines', {
    names: Object.fromEntries(OBJECTIVES.map((o) => [o, OBJECTIVE_TABLE[o].label])),
  }),
  dataset: choice('shapes8', [...Object.keys(BUILTIN), ...Object.keys(SHIPPED), CUSTOM_DATASET], 'dataset', "the preset's own built-in set unless one is named (shapes8 for tiny): procedural or shipped with the app, no download", {
    names: { [CUSTOM_DATASET]: 'your files' },
  }),
  teacher: choice(NO_TEACHER, [NO_TEACHER, ...TEACHER_IDS, UPLOADED_TEACHER], 'teacher', 'distil from a frozen FM teacher (v = teacher(x_t, c = t)), the student starting from its weights; none: from scratch, v = x − ε', {
    names: { [NO_TEACHER]: 'none (from scratch)', ...Object.fromEntries(TEACHER_IDS.map((id) => [id, TEACHERS[id].label])), [UPLOADED_TEACHER]: 'your checkpoint' },
  }),
  // objective knobs (which objective reads which: src/objectives/table.ts)
  lambdaFM: float(1, 0, 100, 'λ_FM', "weight of the flow-matching anchor; the paper's default, and ≥ 0.1 is needed from scratch", knob),
  interval: choice('extended', ['extended', 'aux'], 'anchor time', "FM branch at c = 2 − t (the paper's extended interval) or at c = t with an auxiliary flag", {
    ...knob,
    names: { extended: 'extended, 2 − t', aux: 'aux flag, t' },
  }),
  alpha: bool(true, 'α = 1 − √t', 'relaxed fixed-point step α = 1 − √t (off: α = 1, the plain consistency target)', knob),
  clamp: bool(true, 'clamp g to ±1', 'clamp the residual g to ±1 so a large dF/dt cannot dominate the target', knob),
  tMean: float(0.8, -5, 5, 't sampler mean', 'location of the t sampler: median t ≈ 0.73, biased toward the data end as in the reference', knob),
  tStd: float(1.6, 0.01, 5, 't sampler std', 'spread of the t sampler, as in the reference', knob),
  flowRatio: float(0.75, 0, 1, 'flow ratio', "MeanFlow's share of samples with r = t (plain FM); 0 reproduces its collapse", knob),
  meanflowP: float(1, 0, 2, 'adaptive p', "MeanFlow's adaptive-weight power p (reference: 1)", knob),
  scmWarmup: int(1000, 0, 1_000_000, 'warm-up steps', "sCM's linear warm-up of the tangent term, in steps", knob),
  scmNormalise: bool(true, 'RMS-normalise g', 'sCM: RMS-normalise the residual (on) or clamp it (off)', knob),
  // class labels (src/objectives/objectives.ts): read only by runs whose model, or teacher, takes labels (relevantKeys)
  labelDropout: float(0.1, 0, 1, 'label dropout', "class-conditional models: share of training labels replaced by the null class (DiT's class_dropout_prob), so the model also learns the unconditional velocity that guidance needs", { needs: 'labels' }),
  cfgWeight: float(1.75, 1, 20, 'guidance weight', "distilling a class-conditional teacher: v = v_u + w·(v_c − v_u), the reference's stage-2 weight (1: the conditional teacher alone)", { needs: 'labelled-teacher' }),
  cfgTMin: float(0.125, 0, 1, 'guided from t', "distillation guidance applies where t ≥ this; below it (near the noise) v is the conditional teacher's, as the reference's window", { needs: 'labelled-teacher' }),
  // optimizer
  batch: int(16, 1, 1024, 'batch', 'small enough for a software adapter to step every few seconds; raise it on a real GPU'),
  lr: float(1e-3, 1e-6, 1, 'learning rate', 'small models on toy data tolerate a high rate (the paper uses 1e-4 for DiT-XL)'),
  lrWarmup: int(0, 0, 1_000_000, 'lr warm-up', 'steps over which the learning rate rises linearly from lr/warm-up to lr (0: none); helps Adam past its noisy first moments'),
  lrDecaySteps: int(0, 0, 10_000_000, 'lr decay steps', 'after the warm-up, a cosine from lr down to lr × floor over this many steps, then held at the floor (0: a constant rate); annealing sharpens samples at the end of a run'),
  lrFloor: float(0, 0, 1, 'lr floor', 'the decayed rate as a share of lr (PyTorch CosineAnnealingLR: eta_min = floor·lr)'),
  beta1: float(0.9, 0, 0.9999, 'Adam β₁', "AdamW's first-moment decay, PyTorch's default"),
  beta2: float(0.99, 0, 0.99999, 'Adam β₂', 'shorter memory than 0.999 suits short interactive runs'),
  weightDecay: float(0, 0, 1, 'weight decay', 'none: the reference trains its DiT without weight decay'),
  gradClip: float(1, 0, 1e6, 'grad clip', 'global gradient-norm clip (0: off); the reference clips at 1'),
  emaDecay: float(0.999, 0, 0.99999, 'EMA decay', 'EMA of the weights (sampling can use them); about 1000 steps of memory, with a warm-up'),
  flip: float(0.5, 0, 1, 'flip prob.', 'horizontal-flip augmentation, as DiT trains; 0 for data whose left and right differ'),
  seed: int(0, 0, 2 ** 31 - 1, 'seed', 'same seed, same init, data order and noise: ablation runs differ only in their config'),
  onNonFinite: choice('stop', ['stop', 'rollback'], 'on NaN / Inf', 'an ablation meant to collapse should end as a visible collapse; rollback retries from the last good state', {
    names: { stop: 'stop (collapse)', rollback: 'roll back' },
  }),
  // view: what is shown and saved, not what is trained
  sampleEvery: int(50, 1, 1_000_000, 'samples every', 'refresh the sample grids every this many steps (sampling costs a few forward passes)', view),
  sampleWeights: choice('online', ['online', 'ema'], 'sample with', 'sample with the online weights (short runs) or their EMA (long runs)', {
    ...view,
    names: { online: 'online weights', ema: 'EMA weights' },
  }),
  fieldT: float(0.5, 0, 1, 'field t', "2-D runs: the time t at which the field panel shows v, F and the residual g, and x_t", view),
  euler: int(16, 0, 256, 'Euler steps', "Euler steps for the FM anchor's own samples (0: off); shown for objectives that train an anchor", view),
  qualityEvery: int(500, 0, 1_000_000, 'quality every', 'FD / precision / recall of the one- and two-step samples every this many steps, at the first sample refresh after (0: off); a few forward passes over `quality samples` images', view),
  qualitySamples: int(256, 16, 4096, 'quality samples', 'images per quality measurement: 256 keep a software adapter responsive; `eval` uses 1000, where two sets agree within 5 % in FD', view),
  autosaveEvery: int(200, 0, 1_000_000, 'autosave every', 'save every training run every this many steps and on pause (the page: this browser; the CLI: its --out folder), so a reload or --resume continues it (0: off)', view),
  stopAt: int(0, 0, 10_000_000, 'train to step', 'train every run to this step and stop there (0: no cap), so runs are compared at the same step', view),
  memoryBudget: int(0, 0, 1_048_576, 'memory budget, MiB', "MiB a run's GPU buffers may take (0: 75 % of the memory the machine or browser reports; WebGPU cannot see a discrete GPU's own memory, so set it there)", view),
} as const satisfies Record<string, KeySpec>;

export type Key = keyof typeof KEYS;
type ValueOf<S> = S extends NumSpec ? number : S extends BoolSpec ? boolean : S extends ChoiceSpec<infer V> ? V : never;
export type Config = { -readonly [K in Key]: ValueOf<(typeof KEYS)[K]> };

export const KEY_NAMES = Object.keys(KEYS) as Key[];
export const RUN_KEYS = KEY_NAMES.filter((k) => KEYS[k].group === 'run');
export const VIEW_KEYS = KEY_NAMES.filter((k) => KEYS[k].group === 'view');
/** The keys that change what an objective does (src/objectives/table.ts says which objective reads which). */
export type ObjectiveKnob = { [K in Key]: (typeof KEYS)[K] extends { knob: true } ? K : never }[Key];
export const OBJECTIVE_KNOBS = KEY_NAMES.filter((k) => (KEYS[k] as KeySpec).knob) as ObjectiveKnob[];

/** The spec of key k, widened (for code that handles any key). */
export const specOf = (k: Key): KeySpec => KEYS[k];

/** Every key's default; under `preset`, with the settings that preset carries and its dataset. */
export function defaults(preset?: string): Config {
  const c = Object.fromEntries(KEY_NAMES.map((k) => [k, KEYS[k].default])) as Config;
  if (preset === undefined) return c;
  return { ...c, ...presetDefaults(preset), preset: preset as Config['preset'], dataset: defaultDatasetFor(preset) as Config['dataset'] };
}

/** The built-in dataset a preset is made for (a run's dataset unless one is named). */
export function defaultDatasetFor(preset: string): string {
  return PRESETS[preset]?.dataset ?? KEYS.dataset.default;
}

/** The settings a preset carries (its departures from the key table's defaults). */
export function presetDefaults(preset: string): Partial<Config> {
  return (PRESETS[preset]?.defaults ?? {}) as Partial<Config>;
}

/** Key k's default for a run of `preset`: the preset's value when it carries one, else the table's. */
export function defaultFor<K extends Key>(k: K, preset: string): Config[K] {
  const p = presetDefaults(preset);
  return (k in p ? p[k] : KEYS[k].default) as Config[K];
}

/** After reading a link or a command line: each setting the preset carries applies unless `given` names it. */
export function settlePresetDefaults(config: Config, given: ReadonlySet<string>): void {
  for (const [k, v] of Object.entries(presetDefaults(config.preset))) if (!given.has(k)) (config as Record<string, unknown>)[k] = v;
}

// ------------------------------------------------------------------ objectives and models from a config

/** What one objective step reads: its name and every knob (src/objectives/objectives.ts planStep). */
export type ObjectiveConfig = { name: ObjectiveName } & Pick<Config, ObjectiveKnob>;

/** The objective of `name` with the knobs' defaults, `overrides`, and the knobs the objective fixes. */
export function objectiveConfig(name: ObjectiveName, overrides: Partial<Pick<Config, ObjectiveKnob>> = {}): ObjectiveConfig {
  const base = Object.fromEntries(OBJECTIVE_KNOBS.map((k) => [k, KEYS[k].default]));
  return { ...base, ...overrides, ...objectiveSpec(name).fixed, name } as ObjectiveConfig;
}

export function objectiveOf(c: Config): ObjectiveConfig {
  return objectiveConfig(c.objective, Object.fromEntries(OBJECTIVE_KNOBS.map((k) => [k, c[k]])));
}

/** The keys read by class-conditional runs only (each key's `needs`). */
export type LabelKey = { [K in Key]: (typeof KEYS)[K] extends { needs: Needs } ? K : never }[Key];
export const LABEL_KEYS = KEY_NAMES.filter((k) => (KEYS[k] as KeySpec).needs) as LabelKey[];
/** What a class-conditional step reads (src/objectives/objectives.ts planStep). */
export type LabelConfig = Pick<Config, LabelKey>;

/** What a run is beyond its keys: does its model take class labels, does it distil from a teacher that does. */
export interface RunShape {
  labels: boolean;
  labelledTeacher: boolean;
}

/** The shape of a run with this model and teacher (null: trained from scratch). */
export function runShape(model: Pick<DiTConfig, 'numClasses'>, teacher: Pick<DiTConfig, 'numClasses'> | null = null): RunShape {
  return { labels: model.numClasses > 0, labelledTeacher: !!teacher && teacher.numClasses > 0 };
}

/** A config's shape as far as its keys tell: its preset's model, and a teacher of the same model when
 *  it names one (a student starts from its teacher's weights, so they share the architecture). */
export function presetShape(c: Partial<Pick<Config, 'preset' | 'teacher'>>): RunShape {
  const model = PRESETS[c.preset ?? KEYS.preset.default]?.config ?? { numClasses: 0 };
  return runShape(model, c.teacher && c.teacher !== NO_TEACHER ? model : null);
}

/** The keys that matter to a run: every plain run key, its objective's knobs, and the label keys its shape reads. */
export function relevantKeys(c: Pick<Config, 'objective'> & Partial<Pick<Config, 'preset' | 'teacher'>>, shape: RunShape = presetShape(c)): Key[] {
  const knobs = new Set<Key>(objectiveSpec(c.objective).knobs);
  const reads = { labels: shape.labels, 'labelled-teacher': shape.labelledTeacher };
  return RUN_KEYS.filter((k) => {
    const s = KEYS[k] as KeySpec;
    return (!s.knob || knobs.has(k)) && (!s.needs || reads[s.needs]);
  });
}

/** Run keys on which a and b differ (relevant to either run). */
export function diffConfigs(a: Config, b: Config, shapeA?: RunShape, shapeB?: RunShape): Key[] {
  const keys = new Set([...relevantKeys(a, shapeA), ...relevantKeys(b, shapeB)]);
  return RUN_KEYS.filter((k) => keys.has(k) && a[k] !== b[k]);
}

export function sameRun(a: Config, b: Config): boolean {
  return RUN_KEYS.every((k) => a[k] === b[k]);
}

/** The preset's model, with the second condition r when the objective needs it. */
export function modelOf(c: Pick<Config, 'preset'> & Config): DiTConfig {
  const p = PRESETS[c.preset];
  if (!p) throw new Error(`unknown preset '${c.preset}' (have ${Object.keys(PRESETS).join(', ')})`);
  return { ...p.config, useR: objectiveSpec(c.objective).needsR(objectiveOf(c)) };
}

/** The Trainer's config of a run: the optimizer keys, the objective, and the model (the preset's unless given, e.g. a checkpoint's). */
export function toTrainConfig(c: Config, model: DiTConfig = modelOf(c)): TrainConfig {
  return {
    model,
    objective: objectiveOf(c),
    batch: c.batch,
    lr: c.lr,
    lrWarmup: c.lrWarmup,
    lrDecaySteps: c.lrDecaySteps,
    lrFloor: c.lrFloor,
    beta1: c.beta1,
    beta2: c.beta2,
    weightDecay: c.weightDecay,
    gradClip: c.gradClip,
    emaDecay: c.emaDecay,
    flip: c.flip,
    seed: c.seed,
    onNonFinite: c.onNonFinite,
    labels: { labelDropout: c.labelDropout, cfgWeight: c.cfgWeight, cfgTMin: c.cfgTMin },
  };
}

/** The optimizer part of a run's Trainer config at the declared defaults (tests and benches add model and objective). */
export function trainDefaults(): Omit<TrainConfig, 'model' | 'objective'> {
  const { model: _m, objective: _o, ...rest } = toTrainConfig(defaults(), PRESETS[KEYS.preset.default].config);
  return rest;
}

/** Key k's value from text (a field, a flag), or an Error saying what is allowed. */
export const parseKey = (k: Key, raw: unknown) => parseValue(specOf(k), raw);
/** Key k's value as the page shows it. */
export const formatKey = (k: Key, v: unknown): string => formatValue(specOf(k), v);
