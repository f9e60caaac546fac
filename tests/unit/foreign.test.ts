// PyTorch DiT state_dicts without this project's metadata: the config inferred from tensor shapes,
// heads / image size from hints, pos_embed checked against the fixed embedding, unknown and missing
// tensors named, this project's own files passed through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRESETS, type DiTConfig } from '../../src/model/config';
import { initParams, paramTable } from '../../src/model/params';
import { posEmbed2d } from '../../src/ops/patch';
import { saveCheckpoint } from '../../src/train/checkpoint';
import { ForeignConfigNeeded, headChoices, openCheckpoint } from '../../src/train/foreign';
import { writeSafetensors, type NamedTensor } from '../../src/train/safetensors';

/** What `save_file(model.state_dict())` gives for facebookresearch/DiT with this config: every parameter, pos_embed [1, T, D], no metadata. */
function stateDict(cfg: DiTConfig, opts: { pos?: boolean; prefix?: string; extra?: NamedTensor[]; drop?: string } = {}): { tensors: NamedTensor[]; flat: Float32Array } {
  const table = paramTable(cfg);
  const flat = initParams(table, 3, 0.02);
  const tensors: NamedTensor[] = table.specs.filter((s) => s.name !== opts.drop).map((s) => ({ name: (opts.prefix ?? '') + s.name, shape: s.shape, data: flat.slice(s.offset, s.offset + s.size) }));
  const grid = cfg.H / cfg.patch;
  if (opts.pos ?? true) tensors.push({ name: (opts.prefix ?? '') + 'pos_embed', shape: [1, grid * grid, cfg.D], data: Float32Array.from(posEmbed2d(cfg.D, grid)) });
  tensors.push(...(opts.extra ?? []));
  return { tensors, flat };
}
const file = (t: NamedTensor[]) => writeSafetensors(t, {}, { checksum: false });

test('foreign: a tiny DiT state_dict opens with heads given; the image size comes from pos_embed', () => {
  const cfg = PRESETS.tiny.config;
  const { tensors, flat } = stateDict(cfg);
  const o = openCheckpoint(file(tensors), { heads: 2 });
  assert.equal(o.foreign, true);
  assert.deepEqual(o.state.model, cfg);
  assert.deepEqual(o.state.params, flat);
  assert.equal(o.state.step, 0);
  assert.ok(o.notices.some((n) => /image size 8×8 from pos_embed \(16 tokens/.test(n)), o.notices.join('\n'));
  assert.ok(o.notices.some((n) => /2 attention heads as given/.test(n)));
});

test('foreign: missing heads (and image size without pos_embed) are asked for by name, with what was inferred', () => {
  const cfg = PRESETS['tiny-16'].config;
  const { tensors } = stateDict(cfg, { pos: false });
  const bytes = file(tensors);
  assert.throws(
    () => openCheckpoint(bytes),
    (e: unknown) => {
      assert.ok(e instanceof ForeignConfigNeeded);
      assert.deepEqual(e.missing, ['imageSize', 'heads']);
      assert.deepEqual(e.inferred, { C: 3, H: null, patch: 4, D: 64, depth: 2, numClasses: 0, useR: false });
      assert.match(e.message, /inferred D 64, patch 4, depth 2, 3 input channels, unconditional; still needed: the image size \(--image-size S, a multiple of the patch 4; no pos_embed is stored\) and the number of attention heads \(--heads N; for D 64: 1, 2, 4, 8, 16, 32, 64\)/);
      return true;
    },
  );
  assert.throws(() => openCheckpoint(bytes, { heads: 4 }), /still needed: the image size/);
  const o = openCheckpoint(bytes, { heads: 4, imageSize: 16 });
  assert.deepEqual(o.state.model, cfg);
  assert.ok(o.notices.some((n) => /image size 16×16 as given \(no pos_embed stored\)/.test(n)));
  assert.deepEqual(headChoices(192), [3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 192]);
});

test('foreign: classes and the r-embedder are read from the shapes', () => {
  const cfg: DiTConfig = { ...PRESETS['cifar-s'].config, D: 48, depth: 1, useR: true };
  const { tensors } = stateDict(cfg);
  const o = openCheckpoint(file(tensors), { heads: 3 });
  assert.deepEqual(o.state.model, cfg);
  assert.ok(o.notices.some((n) => /label table of 11 rows read as 10 classes \+ the null \(CFG\) class/.test(n)));
});

test('foreign: a pos_embed that is not the fixed embedding, or disagrees with the size given, is refused', () => {
  const cfg = PRESETS.tiny.config;
  const { tensors } = stateDict(cfg);
  const pos = tensors.find((t) => t.name === 'pos_embed')!;
  assert.throws(() => openCheckpoint(file(tensors), { heads: 2, imageSize: 16 }), /image size given \(16\) disagrees with pos_embed: 16 tokens of 2×2 patches make 8×8 images/);
  pos.data[5 * 32 + 7] += 0.01;
  assert.throws(() => openCheckpoint(file(tensors), { heads: 2 }), /pos_embed is not DiT's fixed 2-D sin-cos embedding \(max \|stored − fixed\| = 0\.0100 at token 5, channel 7; tolerance 0\.00001\)/);
});

test('foreign: unknown tensors are listed and ignored, missing ones listed and refused, learn_sigma refused', () => {
  const cfg = PRESETS.tiny.config;
  const extra = [{ name: 'head.extra', shape: [2], data: new Float32Array(2) }];
  const o = openCheckpoint(file(stateDict(cfg, { extra }).tensors), { heads: 2 });
  assert.ok(o.notices.some((n) => n === 'ignored 1 tensor(s) that are not part of the DiT: head.extra'), o.notices.join('\n'));
  assert.throws(() => openCheckpoint(file(stateDict(cfg, { drop: 'blocks.1.mlp.fc2.bias' }).tensors), { heads: 2 }), /lacks 1 tensor\(s\) the inferred model .* needs: blocks\.1\.mlp\.fc2\.bias/);
  const sigma = stateDict(cfg).tensors.map((t) => (t.name.startsWith('final_layer.linear') ? { ...t, shape: [24, ...t.shape.slice(1)], data: new Float32Array(24 * (t.shape[1] ?? 1)) } : t));
  assert.throws(() => openCheckpoint(file(sigma), { heads: 2 }), /outputs 6 channels for 3 input channels \(DiT's learn_sigma/);
  assert.throws(() => openCheckpoint(file([{ name: 'w', shape: [1], data: new Float32Array(1) }])), /not a DiT state_dict either: no x_embedder\.proj\.weight of shape \[D, C, p, p\] \(tensors: w\)/);
});

test("foreign: DistributedDataParallel's module. prefix is stripped; a project checkpoint passes through unchanged", () => {
  const cfg = PRESETS.tiny.config;
  const { tensors, flat } = stateDict(cfg, { prefix: 'module.' });
  const o = openCheckpoint(file(tensors), { heads: 2 });
  assert.deepEqual(o.state.params, flat);
  assert.ok(o.notices.includes(`names stripped of DistributedDataParallel's 'module.' prefix`));
  const own = openCheckpoint(saveCheckpoint({ model: cfg, step: 7, params: flat, ema: flat }), { heads: 99 });
  assert.equal(own.foreign, false);
  assert.equal(own.state.step, 7);
  assert.deepEqual(own.notices, []);
});
