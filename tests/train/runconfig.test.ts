// The run config: declared keys with defaults and ranges; unknown keys and bad values give one
// message each and fall back to the default; the URL form round-trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_RUN_CONFIG,
  RUN_CONFIG_KEYS,
  RUN_CONFIG_KEY_NAMES,
  decodeRunConfig,
  encodeRunConfig,
  runConfigToTrainConfig,
  validateRunConfig,
  type RunConfig,
} from '../../src/train/runconfig';
import { PRESETS } from '../../src/model/config';

test('runconfig: every key declares a default inside its own range and a why', () => {
  for (const k of RUN_CONFIG_KEY_NAMES) {
    const s = RUN_CONFIG_KEYS[k];
    assert.ok(s.why.length > 10, `${k}: why`);
    if (s.kind === 'int' || s.kind === 'float') assert.ok(s.default >= s.min && s.default <= s.max, `${k}: default ${s.default} outside [${s.min}, ${s.max}]`);
    if (s.kind === 'choice') assert.ok(s.values.includes(s.default), `${k}: default ${s.default} not among ${s.values}`);
  }
  const { config, errors } = validateRunConfig({});
  assert.deepEqual(errors, []);
  assert.deepEqual(config, DEFAULT_RUN_CONFIG);
});

test('runconfig: a valid object passes unchanged and maps onto the Trainer config', () => {
  const obj = { preset: 'tiny-16', objective: 'meanflow', dataset: 'shapes16', batch: 8, lr: 3e-4, seed: 7, flowRatio: 0.5, meanflowP: 0.5, onNonFinite: 'rollback' };
  const { config, errors } = validateRunConfig(obj);
  assert.deepEqual(errors, []);
  assert.equal(config.objective, 'meanflow');
  assert.equal(config.batch, 8);
  const tc = runConfigToTrainConfig(config);
  assert.deepEqual(tc.model, { ...PRESETS['tiny-16'].config, useR: true }); // MeanFlow needs r
  assert.equal(tc.objective.flowRatio, 0.5);
  assert.equal(tc.lr, 3e-4);
  assert.equal(tc.onNonFinite, 'rollback');
  // cm-no-anchor forces λ_FM = 0 whatever the link says.
  assert.equal(runConfigToTrainConfig(validateRunConfig({ objective: 'cm-no-anchor', lambdaFM: 3 }).config).objective.lambdaFM, 0);
});

test('runconfig: unknown keys, wrong types and out-of-range values each give a message and fall back to the default', () => {
  const { config, errors } = validateRunConfig({
    preset: 'huge',
    objective: 'gan',
    batch: 0,
    lr: 5,
    seed: 1.5,
    alpha: 'maybe',
    lambdaFM: -1,
    tStd: 'wide',
    interval: 3,
    colour: 'red',
  });
  assert.deepEqual(errors, [
    "preset = 'huge': must be one of tiny, tiny-16, cifar-s, cifar-b; using the default 'tiny'",
    "objective = 'gan': must be one of fm, facm, cm-no-anchor, scm, meanflow; using the default 'facm'",
    'batch = 0: must be an integer in [1, 1024]; using the default 16',
    'lr = 5: must be a number in [0.000001, 1]; using the default 0.001',
    'seed = 1.5: must be an integer in [0, 2147483647]; using the default 0',
    "alpha = 'maybe': must be on or off (1/0, true/false); using the default true",
    'lambdaFM = -1: must be a number in [0, 100]; using the default 1',
    "tStd = 'wide': must be a number in [0.01, 5]; using the default 1.6",
    'interval = 3: must be one of extended, aux; using the default \'extended\'',
    "unknown setting 'colour'; ignored",
  ]);
  assert.deepEqual(config, DEFAULT_RUN_CONFIG);
  assert.deepEqual(validateRunConfig([1, 2]).errors, ['a run config must be an object, got an array; using the defaults']);
  assert.deepEqual(validateRunConfig('preset=tiny').errors, ['a run config must be an object, got string; using the defaults']);
});

test('runconfig: encode → decode round-trips every key; the dataset follows the preset unless given', () => {
  const cfg: RunConfig = { ...DEFAULT_RUN_CONFIG, preset: 'cifar-s', dataset: 'shapes32', objective: 'scm', batch: 64, lr: 2.5e-4, seed: 123, alpha: false, clamp: false, interval: 'aux', tMean: -0.4, scmWarmup: 0, scmNormalise: false, emaDecay: 0.9999, onNonFinite: 'rollback' };
  const q = encodeRunConfig(cfg);
  assert.match(q, /^preset=cifar-s&objective=scm&dataset=shapes32&batch=64&lr=0\.00025&seed=123&/);
  assert.match(q, /&alpha=0&clamp=0&/);
  const back = decodeRunConfig('?' + q);
  assert.deepEqual(back.errors, []);
  assert.deepEqual(back.config, cfg);
  assert.equal(decodeRunConfig('preset=tiny-16').config.dataset, 'shapes16');
  assert.equal(decodeRunConfig('').config.dataset, 'shapes8');
});

test('runconfig: decode reports bad URL values, repeated keys and a custom dataset a link cannot carry', () => {
  const { config, errors } = decodeRunConfig('?batch=abc&batch=4096&lr=&seed=-1&clamp=yes&dataset=custom&preset=tiny&utm_source=x');
  assert.deepEqual(errors, [
    "'batch' appears more than once; using the last value",
    "batch = '4096': must be an integer in [1, 1024]; using the default 16",
    "lr = '': must be a number in [0.000001, 1]; using the default 0.001",
    "seed = '-1': must be an integer in [0, 2147483647]; using the default 0",
    "unknown setting 'utm_source'; ignored",
    "dataset = 'custom': a link cannot carry the author's files; using shapes8 until files are given",
  ]);
  assert.equal(config.clamp, true);
  assert.equal(config.batch, 16);
  assert.equal(config.dataset, 'shapes8');
});
