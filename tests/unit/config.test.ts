// The declared config (src/config): every key's default inside its range; the URL codec (round
// trip, messages and fallbacks, the dataset rule); the CLI codec run over the same key table as
// the URL (same values, same refusals); config diffs by objective; the Trainer config; and the
// checkpoint metadata codec, which reads this project's earlier layouts too.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  configFromMetadata,
  defaults,
  diffConfigs,
  flagOf,
  KEY_NAMES,
  KEYS,
  modelOf,
  objectiveConfig,
  parseSearch,
  relevantKeys,
  runShape,
  runMetadata,
  specOf,
  toSearch,
  toTrainConfig,
  trainDefaults,
  trainConfigOfCheckpoint,
  type Config,
  type KeySpec,
} from '../../src/config';
import { CliError, helpText, parseCli } from '../../src/config/cli';
import { OBJECTIVE_TABLE, OBJECTIVES } from '../../src/objectives/table';
import { ABLATION_IDS, ablationRuns } from '../../src/ui/state/ablations';
import { PRESETS } from '../../src/model/config';

test('config: every key declares a label, a why and a default inside its own range; presets name a dataset that exists', () => {
  for (const k of KEY_NAMES) {
    const s: KeySpec = specOf(k);
    assert.ok(s.label.length > 0 && s.why.length > 10, `${k}: label / why`);
    if (s.kind === 'int' || s.kind === 'float') assert.ok(s.default >= s.min && s.default <= s.max, `${k}: default ${s.default} outside [${s.min}, ${s.max}]`);
    if (s.kind === 'choice') assert.ok(s.values.includes(s.default), `${k}: default ${s.default} not among ${s.values}`);
  }
  for (const p of Object.values(PRESETS)) assert.ok((KEYS.dataset.values as readonly string[]).includes(p.dataset), `${p.name}: dataset ${p.dataset}`);
  // Every knob an objective reads is a declared knob key.
  for (const o of OBJECTIVES) for (const k of OBJECTIVE_TABLE[o].knobs) assert.equal(specOf(k).knob, true, `${o} reads ${k}`);
});

test('config: defaults give an empty query; every key round-trips through the URL', () => {
  assert.equal(toSearch(defaults()), '');
  const c: Config = { ...defaults(), preset: 'tiny-16', dataset: 'blobs8', objective: 'meanflow', batch: 6, lr: 5e-4, seed: 7, flowRatio: 0, alpha: false, interval: 'aux', sampleWeights: 'ema', euler: 0, onNonFinite: 'rollback', beta2: 0.999, flip: 0 };
  const back = parseSearch(toSearch(c, 'lambda'), ABLATION_IDS);
  assert.deepEqual(back.messages, []);
  assert.deepEqual(back.config, c);
  assert.equal(back.ablation, 'lambda');
});

test('config: bad values, repeated and unknown keys give a message each and fall back to the default', () => {
  const { config, messages } = parseSearch('?batch=-3&lr=fast&seed=1.5&objective=gan&alpha=maybe&colour=red&ablation=nope&seed=2', ABLATION_IDS);
  assert.equal(messages.length, 8, messages.join('\n'));
  assert.equal(config.batch, KEYS.batch.default);
  assert.equal(config.lr, KEYS.lr.default);
  assert.equal(config.seed, 2);
  assert.equal(config.objective, 'facm');
  assert.equal(config.alpha, true);
  const all = messages.join('\n');
  assert.match(all, /batch=-3: must be an integer in \[1, 1024\]; using the default 16/);
  assert.match(all, /objective=gan: must be one of fm, facm/);
  assert.match(all, /unknown setting 'colour' in the link/);
  assert.match(all, /'seed' appears more than once/);
});

test("config: a link cannot carry the user's files; the dataset follows the preset unless named", () => {
  const { config, messages } = parseSearch('?preset=tiny-16&dataset=custom');
  assert.equal(config.dataset, 'shapes16');
  assert.match(messages[0], /drop them here/);
  assert.equal(parseSearch('?preset=cifar-s').config.dataset, 'shapes32');
  assert.equal(parseSearch('?preset=cifar-s&dataset=blobs8').config.dataset, 'blobs8');
  assert.equal(parseSearch('?preset=tiny-16&dataset=bogus').config.dataset, 'shapes16', 'a refused dataset falls back to the preset’s');
});

test('config: the CLI accepts every key the URL accepts, with the same values and the same refusals', () => {
  const samples: Record<string, [string, string]> = {}; // key → [a valid non-default value, an invalid one]
  for (const k of KEY_NAMES) {
    const s = specOf(k);
    if (s.kind === 'bool') samples[k] = [s.default ? 'off' : 'on', 'maybe'];
    else if (s.kind === 'choice') samples[k] = [s.values.find((v) => v !== s.default && v !== 'custom')!, 'no-such-value'];
    else samples[k] = [String(s.kind === 'int' ? Math.min(s.max, s.default + 1) : (s.min + s.max) / 2 === s.default ? s.min : (s.min + s.max) / 2), String(s.max * 2 + 1)];
  }
  for (const k of KEY_NAMES) {
    const [good, bad] = samples[k];
    const url = parseSearch(`?${k}=${encodeURIComponent(good)}`);
    assert.deepEqual(url.messages, [], `${k}=${good} in the URL`);
    const cli = parseCli([`--${flagOf(k)}`, good]);
    assert.deepEqual(cli.config[k], url.config[k], `--${flagOf(k)} ${good}`);
    assert.ok(cli.given.has(k));
    assert.equal(parseCli([`--${flagOf(k)}=${good}`]).config[k], url.config[k]);
    if (k === 'dataset') {
      // The CLI also takes files or a folder here (the URL cannot): the value is kept as a path.
      assert.equal(parseCli(['--dataset', bad]).datasetPath, bad);
      continue;
    }
    const urlMsg = parseSearch(`?${k}=${encodeURIComponent(bad)}`).messages[0];
    const refusal = urlMsg.slice(urlMsg.indexOf(': ') + 2, urlMsg.indexOf('; using'));
    assert.throws(() => parseCli([`--${flagOf(k)}`, bad]), (e: Error) => e instanceof CliError && e.message === `--${flagOf(k)} ${bad}: ${refusal}`, `--${flagOf(k)} ${bad}`);
  }
  // Switches: bare, --no-, and a value.
  assert.equal(parseCli(['--no-alpha']).config.alpha, false);
  assert.equal(parseCli(['--clamp', 'off', '--alpha']).config.clamp, false);
  assert.throws(() => parseCli(['--lambda']), /unknown option --lambda/);
  assert.throws(() => parseCli(['--lr']), /--lr needs a value: a number in \[0.000001, 1\]/);
  const help = helpText();
  for (const k of KEY_NAMES) assert.ok(help.includes(`--${flagOf(k)}`), `--help lists --${flagOf(k)}`);
  assert.match(help, /--batch <int in 1\.\.1024> \(default 16\)/);
});

test("config: a preset's own settings apply unless a link, a command line or the user names the key", () => {
  const carried = PRESETS.points.defaults!;
  assert.ok(Object.keys(carried).length > 0, 'the points preset carries its run settings');
  for (const p of Object.values(PRESETS))
    for (const [k, v] of Object.entries(p.defaults ?? {})) {
      const back = parseSearch(`?${k}=${encodeURIComponent(String(v))}`);
      assert.deepEqual(back.messages, [], `${p.name}: ${k}=${v} is a valid value`);
      assert.notEqual(v, KEYS[k as keyof typeof KEYS].default, `${p.name}: ${k} repeats the table's default`);
    }
  const points = defaults('points');
  assert.equal(points.dataset, 'eight-gaussians');
  for (const [k, v] of Object.entries(carried)) {
    assert.equal(parseSearch('?preset=points').config[k as keyof Config], v, `link: ${k}`);
    assert.equal(parseCli(['--preset', 'points']).config[k as keyof Config], v, `CLI: ${k}`);
    assert.equal(points[k as keyof Config], v);
  }
  assert.equal(toSearch(points), '?preset=points', "the preset's settings stay out of the link");
  assert.equal(parseSearch('?preset=points&batch=16').config.batch, 16);
  assert.equal(parseCli(['--preset', 'points', '--t-mean', '0.8']).config.tMean, 0.8);
  const mine: Config = { ...points, batch: KEYS.batch.default, tStd: 2, seed: 3 };
  assert.deepEqual(parseSearch(toSearch(mine)).config, mine, 'a points run with the table default batch round-trips');
  assert.equal(parseSearch('?batch=128').config.batch, 128);
  assert.equal(parseSearch('?preset=tiny').config.tMean, KEYS.tMean.default, 'other presets keep the table');
  assert.match(helpText(), /default under the points preset: 256/);
  // 2-D ablations started from an image run take the points preset's settings, knobs included.
  for (const id of ['2d-stability', '2d-high-lr'])
    for (const r of ablationRuns(id, defaults())) {
      assert.equal(r.config.preset, 'points');
      assert.equal(r.config.dataset, 'eight-gaussians');
      // 2d-stability runs at the preset's settings; 2d-high-lr at them too but for its peak rate and decay horizon.
      for (const k of ['tMean', 'batch', 'lrWarmup'] as const) assert.equal(r.config[k], carried[k], `${id} / ${r.name}: ${k}`);
      if (id === '2d-stability') for (const k of ['lr', 'lrDecaySteps'] as const) assert.equal(r.config[k], carried[k], `${id} / ${r.name}: ${k}`);
      else assert.deepEqual([r.config.lr, r.config.lrDecaySteps], [2e-2, 900], `${id} / ${r.name}`);
    }
});

test('config: diffs compare only the knobs that matter to either objective; ablations vary only what they name', () => {
  const a = defaults();
  assert.deepEqual(diffConfigs(a, { ...a, flowRatio: 0 }), [], 'flow ratio does not matter to FACM');
  assert.deepEqual(diffConfigs(a, { ...a, objective: 'meanflow', flowRatio: 0 }), ['objective', 'flowRatio']);
  assert.ok(!relevantKeys({ objective: 'fm' }).includes('lambdaFM'));
  assert.ok(relevantKeys({ objective: 'facm' }).includes('lambdaFM') && relevantKeys({ objective: 'facm' }).includes('beta2'));
  const runs = ablationRuns('stability', { ...a, batch: 4 });
  assert.equal(runs.length, 5);
  assert.ok(runs.every((r) => r.config.batch === 4 && r.config.seed === a.seed));
  assert.deepEqual(diffConfigs(runs[0].config, runs[2].config), ['objective', 'flowRatio']);
});

test('config: label dropout only for labelled models, the guidance keys only when distilling a labelled teacher', () => {
  const a = defaults();
  const has = (keys: string[], ...want: string[]) => want.every((k) => keys.includes(k));
  assert.ok(!has(relevantKeys(a), 'labelDropout') && !has(relevantKeys(a), 'cfgWeight'), 'tiny is unconditional: none');
  assert.ok(has(relevantKeys({ ...a, preset: 'cifar-s' }), 'labelDropout'), 'a labelled preset trains with label dropout');
  assert.ok(!has(relevantKeys({ ...a, preset: 'cifar-s' }), 'cfgWeight'), 'no teacher: no guidance');
  assert.ok(has(relevantKeys({ ...a, preset: 'cifar-s', teacher: 'uploaded' }), 'cfgWeight', 'cfgTMin'), 'a config naming a teacher of a labelled preset: guidance');
  assert.ok(!has(relevantKeys({ ...a, teacher: 'uploaded' }), 'cfgWeight'), 'a teacher of an unlabelled preset: no guidance');
  const labelled = { numClasses: 10 };
  const unlabelled = { numClasses: 0 };
  assert.ok(has(relevantKeys(a, runShape(labelled, labelled)), 'labelDropout', 'cfgWeight', 'cfgTMin'), 'distilling a labelled teacher');
  assert.ok(!has(relevantKeys(a, runShape(unlabelled, unlabelled)), 'cfgWeight') && !has(relevantKeys(a, runShape(unlabelled, unlabelled)), 'labelDropout'), 'an unlabelled teacher: none');
  // Diffs follow: a guidance weight differs only where a labelled teacher reads it.
  assert.deepEqual(diffConfigs(a, { ...a, cfgWeight: 3 }), []);
  assert.deepEqual(diffConfigs(a, { ...a, cfgWeight: 3 }, runShape(labelled, labelled), runShape(labelled, labelled)), ['cfgWeight']);
  // The reference's stage-2 values, and the trainer config carries them.
  assert.deepEqual([KEYS.labelDropout.default, KEYS.cfgWeight.default, KEYS.cfgTMin.default], [0.1, 1.75, 0.125]);
  assert.deepEqual(toTrainConfig({ ...a, cfgWeight: 2 }).labels, { labelDropout: 0.1, cfgWeight: 2, cfgTMin: 0.125 });
});

test('config: the trainer config carries the optimizer keys, the objective knobs and r-conditioning where needed', () => {
  const t = toTrainConfig({ ...defaults(), objective: 'meanflow', flowRatio: 0, batch: 4, beta2: 0.95 });
  assert.equal(t.model.useR, true);
  assert.equal(t.objective.flowRatio, 0);
  assert.equal(t.batch, 4);
  assert.equal(t.beta2, 0.95);
  assert.equal(toTrainConfig({ ...defaults(), objective: 'cm-no-anchor', lambdaFM: 3 }).objective.lambdaFM, 0, 'no anchor: λ_FM is 0 by definition');
  assert.equal(modelOf(defaults()).useR, false);
  assert.equal(modelOf({ ...defaults(), interval: 'aux' }).useR, true);
  assert.equal(trainDefaults().batch, KEYS.batch.default);
});

test('config: checkpoint metadata gives the config back, in this layout and the two earlier ones', () => {
  const c: Config = { ...defaults(), objective: 'meanflow', flowRatio: 0, batch: 4, seed: 3, dataset: 'blobs8', gradClip: 2 };
  const meta = JSON.parse(JSON.stringify(runMetadata(c, 'blobs8', { cli: { steps: 9 } })));
  const back = configFromMetadata(meta, modelOf(c), { ...defaults(), sampleEvery: 7 });
  assert.deepEqual(back.notes, []);
  assert.deepEqual(back.config, { ...c, sampleEvery: 7 });
  assert.deepEqual(back.run.cli, { steps: 9 });
  assert.deepEqual(trainConfigOfCheckpoint(meta, modelOf(c)), toTrainConfig(c));

  // The playground's earlier layout: the trainer config with its keys under `playground`.
  const older = { ...toTrainConfig(c), dataset: 'blobs8', playground: { objective: 'meanflow', flowRatio: 0, batch: 4, seed: 3, dataset: 'blobs8' } };
  assert.equal(configFromMetadata(older, modelOf(c)).config.flowRatio, 0);

  // The CLI's earlier layout: the trainer config itself.
  const model = { ...PRESETS['tiny-16'].config, useR: false };
  const cli = { ...trainDefaults(), model, objective: objectiveConfig('facm', { lambdaFM: 0.1 }), batch: 8, lr: 2e-4, seed: 5, dataset: '/data/cifar-10-binary.tar.gz' };
  const fromCli = configFromMetadata(cli, model);
  assert.equal(fromCli.config.preset, 'tiny-16');
  assert.equal(fromCli.config.lambdaFM, 0.1);
  assert.equal(fromCli.config.batch, 8);
  assert.match(fromCli.notes[0], /not built in/);
  assert.equal(configFromMetadata(cli, { ...model, D: 48 }).presetMatches, false);
  assert.throws(() => trainConfigOfCheckpoint({}, model), /records no training config/);
  assert.throws(() => configFromMetadata(meta, { ...modelOf(c), useR: false }), /does not match its own model config \(useR\)/);
});
