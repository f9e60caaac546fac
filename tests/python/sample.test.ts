// The bridge's samplers (python -m facm_bridge.sample) against the CLI's: the same checkpoint, noise
// seed and samplers give the same FD / precision / recall and nearest-image figures whether `eval`
// draws the samples itself (WebGPU) or reads them from the bridge's file (`eval --samples`). A
// distillation started in the bridge (--init with --teacher) is a fresh run from the init's weights.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { facm, needTorch, py } from './bridge';

const dir = mkdtempSync(join(tmpdir(), 'facm-pysample-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** eval's sample rows: the figures after "samples (<sampler>" with the sampler's words, in order. */
function rows(out: string): string[] {
  return out
    .split('\n')
    .filter((l) => /^\s+samples \(|^\s+(sampling took|from )/.test(l))
    .map((l) => l.replace(/, PyTorch\)/, ')').replace(/\b(EMA|ema|online) weights/, 'W').replace(/^\s+(sampling took [\d.]+ s|from \S+); /, '').replace(/\s+/g, ' ').trim());
}

test('python bridge: samples from the bridge measure as the CLI\'s own (eval --samples), and --init with --teacher starts a fresh student', needTorch, () => {
  const run = join(dir, 'fm');
  let r = facm('train', '--preset', 'tiny', '--objective', 'fm', '--dataset', 'blobs8', '--steps', '30', '--batch', '8', '--lr', '3e-3', '--out', run, '--autosave-every', '0');
  assert.equal(r.code, 0, r.err);
  const ckpt = join(run, 'checkpoint.safetensors');
  const file = join(dir, 'samples.safetensors');
  r = py('facm_bridge.sample', ['--ckpt', ckpt, '--samplers', 'euler3,nfe2', '--n', '48', '--seed', '5', '--out', file]);
  assert.equal(r.code, 0, r.err);
  const own = facm('eval', '--ckpt', ckpt, '--samplers', 'euler3,nfe2', '--n', '48', '--seed', '5');
  assert.equal(own.code, 0, own.err);
  const read = facm('eval', '--ckpt', ckpt, '--samples', file, '--n', '48');
  assert.equal(read.code, 0, read.err);
  const a = rows(own.out);
  assert.equal(a.length, 4, own.out);
  assert.deepEqual(rows(read.out), a, `CLI:\n${own.out}\nbridge:\n${read.out}`);
  const wrongN = facm('eval', '--ckpt', ckpt, '--samples', file, '--n', '40');
  assert.equal(wrongN.code, 2);
  assert.match(wrongN.err, /holds 48 images .* pass --n 48/);
  const bad = facm('eval', '--ckpt', ckpt, '--samplers', 'euler3,heun2');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--samplers: 'heun2' is not a sampler/);

  // Distillation in the bridge: step 0 -> 2 of a FACM run from the FM run's weights.
  const student = join(dir, 'student');
  r = py('facm_bridge.train', ['--init', ckpt, '--teacher', ckpt, '--objective', 'facm', '--dataset', 'blobs8', '--batch', '4', '--steps', '2', '--out', student]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /objective facm; .* step 0 -> 2/);
});
