// The playground's declared config keys: URL round trip, validation messages and fallbacks, config
// diffs, and the config recovered from checkpoint metadata (the playground's own and the CLI's).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configFromCheckpoint, defaults, diffConfigs, KEYS, modelOf, parseSearch, runMetadata, toSearch, toTrainConfig, type Config } from '../../src/worker/runConfig';
import { ABLATION_IDS, ablationRuns } from '../../src/ui/state/ablations';
import { DEFAULT_TRAIN } from '../../src/train/trainer';
import { objectiveConfig } from '../../src/objectives/objectives';
import { PRESETS } from '../../src/model/config';

test('defaults give an empty query; every key round-trips through the URL', () => {
  assert.equal(toSearch(defaults()), '');
  const c: Config = { ...defaults(), preset: 'tiny-16', dataset: 'blobs8', objective: 'meanflow', batch: 6, lr: 5e-4, seed: 7, flowRatio: 0, alpha: false, interval: 'aux', sampleWeights: 'ema', euler: 0, onNonFinite: 'rollback' };
  const back = parseSearch(toSearch(c, 'lambda'), ABLATION_IDS);
  assert.deepEqual(back.messages, []);
  assert.deepEqual(back.config, c);
  assert.equal(back.ablation, 'lambda');
});

test('bad values and unknown keys give a message each and fall back to the default', () => {
  const { config, messages } = parseSearch('?batch=-3&lr=fast&seed=1.5&objective=gan&alpha=maybe&colour=red&ablation=nope', ABLATION_IDS);
  assert.equal(messages.length, 7, messages.join('\n'));
  assert.equal(config.batch, KEYS.batch.default);
  assert.equal(config.lr, KEYS.lr.default);
  assert.equal(config.seed, KEYS.seed.default);
  assert.equal(config.objective, 'facm');
  assert.equal(config.alpha, true);
  assert.match(messages.join('\n'), /batch=-3: must be an integer in \[1, 1024\]; using the default 16/);
  assert.match(messages.join('\n'), /objective=gan: must be one of fm, facm/);
  assert.match(messages.join('\n'), /unknown setting 'colour'/);
});

test('a link cannot carry the user\'s files: dataset=custom falls back with a message', () => {
  const { config, messages } = parseSearch('?preset=tiny-16&dataset=custom');
  assert.equal(config.dataset, 'shapes16');
  assert.match(messages[0], /drop them here/);
});

test('the dataset follows the preset unless the link names one', () => {
  assert.equal(parseSearch('?preset=cifar-s').config.dataset, 'shapes32');
  assert.equal(parseSearch('?preset=cifar-s&dataset=blobs8').config.dataset, 'blobs8');
});

test('diffs compare only the knobs that matter to either objective', () => {
  const a = defaults();
  assert.deepEqual(diffConfigs(a, { ...a, flowRatio: 0 }), [], 'flow ratio does not matter to FACM');
  assert.deepEqual(diffConfigs(a, { ...a, objective: 'meanflow', flowRatio: 0 }), ['objective', 'flowRatio']);
  const runs = ablationRuns('stability', { ...a, batch: 4 });
  assert.equal(runs.length, 5);
  assert.ok(runs.every((r) => r.config.batch === 4 && r.config.seed === a.seed));
  assert.deepEqual(diffConfigs(runs[0].config, runs[2].config), ['objective', 'flowRatio']);
});

test('trainer config: the objective knobs, and r-conditioning where the objective needs it', () => {
  const t = toTrainConfig({ ...defaults(), objective: 'meanflow', flowRatio: 0, batch: 4 });
  assert.equal(t.model.useR, true);
  assert.equal(t.objective.flowRatio, 0);
  assert.equal(t.batch, 4);
  assert.equal(toTrainConfig({ ...defaults(), objective: 'cm-no-anchor' }).objective.lambdaFM, 0);
  assert.equal(modelOf(defaults()).useR, false);
});

test('checkpoint metadata gives the config back: the playground\'s own and the CLI\'s', () => {
  const c: Config = { ...defaults(), objective: 'meanflow', flowRatio: 0, batch: 4, seed: 3, dataset: 'blobs8' };
  const meta = JSON.parse(JSON.stringify(runMetadata(c, 'blobs8')));
  const back = configFromCheckpoint(meta, modelOf(c), { ...defaults(), sampleEvery: 7 });
  assert.deepEqual(back.notes, []);
  assert.deepEqual(back.config, { ...c, sampleEvery: 7 });

  const objective = objectiveConfig('facm', { lambdaFM: 0.1 });
  const model = { ...PRESETS['tiny-16'].config, useR: false };
  const cli = { ...DEFAULT_TRAIN, model, objective, batch: 8, lr: 2e-4, seed: 5, dataset: '/data/cifar-10-binary.tar.gz' };
  const fromCli = configFromCheckpoint(cli, model, defaults());
  assert.equal(fromCli.config.preset, 'tiny-16');
  assert.equal(fromCli.config.lambdaFM, 0.1);
  assert.equal(fromCli.config.batch, 8);
  assert.match(fromCli.notes[0], /not built in/);
  assert.throws(() => configFromCheckpoint(cli, { ...model, D: 48 }, defaults()), /matches none of the presets/);
});
