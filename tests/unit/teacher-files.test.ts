// The teachers shipped under public/teachers/: each is a checkpoint of this project (its config a
// preset's), at most 4 MB, holding weights only, and its metadata says how it was made: the data
// set (for fashion16, the SHA-256 of the shipped files as src/data/shipped.ts pins them), the steps
// and images seen, and the command (scripts/make-teachers.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/train/checkpoint';
import { PRESETS } from '../../src/model/config';
import { SHIPPED } from '../../src/data/shipped';

const DIR = 'public/teachers';
const files = readdirSync(DIR).filter((f) => f.endsWith('.safetensors'));

test('shipped teachers: checkpoints of a preset, ≤ 4 MB, weights only, with how they were made', () => {
  assert.ok(files.includes('fashion16-fm.safetensors') && files.includes('eight-gaussians-fm.safetensors'), `teachers: ${files.join(', ')}`);
  const script = readFileSync('scripts/make-teachers.py', 'utf8');
  for (const f of files) {
    const path = join(DIR, f);
    assert.ok(statSync(path).size <= 4 * 1024 * 1024, `${f}: ${statSync(path).size} bytes`);
    const st = loadCheckpoint(new Uint8Array(readFileSync(path)), undefined, path);
    const t = (st.run as { teacher?: { id: string; dataset: string; data: Record<string, string>; steps: number; imagesSeen: number; command: string } }).teacher;
    assert.ok(t, `${f}: no teacher entry in its run metadata`);
    assert.equal(`${t.id}.safetensors`, f);
    assert.equal(t.steps, st.step, `${f}: steps`);
    assert.ok(!st.ema && !st.m && !st.v, `${f}: a shipped teacher holds its EMA weights as the parameters and nothing else`);
    const cli = (st.run as { cli: { preset: string; dataset: string } }).cli;
    assert.deepEqual({ ...st.model, useR: false }, PRESETS[cli.preset].config, `${f}: not the ${cli.preset} preset's model`);
    assert.equal(cli.dataset, t.dataset);
    assert.match(t.command, new RegExp(`scripts/make-teachers.py ${t.id}\\b`));
    assert.ok(script.includes(`"${t.id}": dict(`) && new RegExp(`"${t.id}": dict\\([^)]*steps=${t.steps},`).test(script), `${f}: scripts/make-teachers.py does not list ${t.id} with steps=${t.steps}`);
    const shipped = SHIPPED[t.dataset];
    if (shipped) {
      assert.equal(t.data['train-images-idx3-ubyte'], shipped.train.images.sha256, `${f}: trained on other images than the shipped ${t.dataset}`);
      assert.equal(t.data['train-labels-idx1-ubyte'], shipped.train.labels.sha256);
    }
    assert.ok(st.params.every(Number.isFinite), `${f}: non-finite weights`);
  }
});
