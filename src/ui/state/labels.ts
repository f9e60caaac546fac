// Human names of the config keys (the URL and code use the keys themselves).
import type { Key } from '../../worker/runConfig';

export const LABELS: Record<Key, string> = {
  preset: 'model',
  objective: 'objective',
  dataset: 'dataset',
  batch: 'batch',
  lr: 'learning rate',
  seed: 'seed',
  lambdaFM: 'λ_FM',
  alpha: 'α = 1 − √t',
  clamp: 'clamp g to ±1',
  interval: 'anchor time',
  tMean: 't sampler mean',
  tStd: 't sampler std',
  flowRatio: 'flow ratio',
  meanflowP: 'adaptive p',
  scmWarmup: 'warm-up steps',
  scmNormalise: 'RMS-normalise g',
  emaDecay: 'EMA decay',
  onNonFinite: 'on NaN / Inf',
  sampleEvery: 'samples every',
  sampleWeights: 'sample with',
  euler: 'Euler steps',
  autosaveEvery: 'autosave every',
};

export const OBJECTIVE_NAMES: Record<string, string> = {
  fm: 'FM (teacher)',
  facm: 'FACM',
  'cm-no-anchor': 'CM, no anchor',
  scm: 'sCM-style',
  meanflow: 'MeanFlow',
};

export const CHOICE_NAMES: Partial<Record<Key, Record<string, string>>> = {
  objective: OBJECTIVE_NAMES,
  interval: { extended: 'extended, 2 − t', aux: 'aux flag, t' },
  sampleWeights: { online: 'online weights', ema: 'EMA weights' },
  onNonFinite: { stop: 'stop (collapse)', rollback: 'roll back' },
  dataset: { custom: 'your files' },
};
