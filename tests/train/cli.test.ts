// The CLI's bad-input messages (missing teacher, truncated dataset, missing or corrupt autosave,
// bad flags) and `train --resume dir` continuing an autosaved run, run as a user would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { loadCheckpoint } from '../../src/train/checkpoint';
import { idxBytes } from '../helpers/idx';

const dir = mkdtempSync(join(tmpdir(), 'facm-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function facm(...args: string[]): { code: number; out: string; err: string } {
  return facmEnv(process.env, ...args);
}

function facmEnv(env: NodeJS.ProcessEnv, ...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'src/cli/main.ts', ...args], { encoding: 'utf8', env });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('cli: --help says what --dataset takes', () => {
  const r = facm('--help');
  assert.equal(r.code, 0);
  assert.equal(r.err, '');
  assert.match(r.out, /--dataset takes a built-in name \(shapes32, .*\), *\n.*a folder holding your images, or image files separated by commas/);
  assert.match(r.out, /CIFAR-10 binary: cifar-10-binary\.tar\.gz/);
  assert.match(r.out, /train-images-idx3-ubyte\.gz \+ train-labels-idx1-ubyte\.gz; give the folder or both paths/);
  // A command's --help says it beside its --dataset flag too.
  assert.match(facm('train', '--help').out, /--dataset [^\n]*\n[^\n]*\n *--dataset takes a built-in name/);
});

test('cli: a missing teacher, a truncated dataset file, a bad policy and a missing autosave each end with one clear error', () => {
  let r = facm('train', '--teacher', join(dir, 'nope.safetensors'), '--steps', '1');
  assert.equal(r.code, 1);
  assert.match(r.err, /error: teacher checkpoint '.*nope\.safetensors' does not exist/);

  // An IDX images file cut short (header says 3 images of 4×4, 40 of 64 bytes there) with its labels.
  const idx = idxBytes;
  const ds = join(dir, 'mnist');
  mkdirSync(ds);
  writeFileSync(join(ds, 'train-images-idx3-ubyte'), idx([3, 4, 4], new Uint8Array(48)).subarray(0, 4 + 12 + 40));
  writeFileSync(join(ds, 'train-labels-idx1-ubyte'), idx([3], new Uint8Array([0, 1, 2])));
  r = facm('train', '--dataset', ds, '--steps', '1');
  assert.equal(r.code, 1);
  assert.match(r.err, /error: .*train-images-idx3-ubyte: truncated: header says 3×4×4 u8 = 64 bytes in all, file has 56 bytes/);

  r = facm('train', '--on-non-finite', 'ignore', '--steps', '1');
  assert.equal(r.code, 2);
  assert.match(r.err, /error: --on-non-finite ignore: must be one of stop, rollback/);

  mkdirSync(join(dir, 'empty'));
  r = facm('train', '--resume', join(dir, 'empty'));
  assert.equal(r.code, 1);
  assert.match(r.err, /error: --resume: no autosave in '.*empty' \(looked for .*autosave\.safetensors\)/);
  r = facm('train', '--resume', join(dir, 'not-there'));
  assert.match(r.err, /error: --resume: '.*not-there' does not exist/);
});

test('cli: train autosaves; train --resume continues the run from its autosave to a new target', () => {
  const out = join(dir, 'run');
  // A normal run prints nothing on stderr, also without XDG_RUNTIME_DIR (Vulkan's loader complains then).
  const { XDG_RUNTIME_DIR: _, ...bare } = process.env;
  let r = facmEnv(bare, 'train', '--preset', 'tiny', '--dataset', 'blobs8', '--steps', '3', '--batch', '2', '--autosave-every', '2', '--log-every', '1', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  assert.match(r.out, /^adapter: /m);
  assert.equal(loadCheckpoint(new Uint8Array(readFileSync(join(out, 'autosave.safetensors')))).step, 3);

  r = facm('train', '--resume', out, '--steps', '5', '--log-every', '1');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /resuming .*run at step 3 of 5/);
  assert.match(r.out, /done: 2 steps/);
  const ck = loadCheckpoint(new Uint8Array(readFileSync(join(out, 'checkpoint.safetensors'))));
  assert.equal(ck.step, 5);
  assert.equal((ck.run as { cli: { dataset: string } }).cli.dataset, 'blobs8');
  const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5]);

  // A corrupt autosave is refused by its checksum, and the file is left as it was.
  const bytes = readFileSync(join(out, 'autosave.safetensors'));
  bytes[bytes.length - 9] ^= 0x20;
  writeFileSync(join(out, 'autosave.safetensors'), bytes);
  r = facm('train', '--resume', out, '--steps', '6');
  assert.equal(r.code, 1);
  assert.match(r.err, /^error: .*autosave\.safetensors: checksum mismatch: .*\. Choose a \.safetensors checkpoint/);
  assert.equal(r.err.split('autosave.safetensors').length - 1, 1, r.err);
  assert.deepEqual(readFileSync(join(out, 'autosave.safetensors')), bytes);

  // sample: a file that is not a checkpoint, and a folder given for a file.
  writeFileSync(join(dir, 'x.safetensors'), new Uint8Array(64).fill(0x41));
  r = facm('sample', '--ckpt', join(dir, 'x.safetensors'));
  assert.equal(r.code, 1);
  assert.match(r.err, /^error: .*x\.safetensors: bad header: .*\. Choose a \.safetensors checkpoint saved by the playground or by `npm run facm -- train`\.\n$/);
  assert.equal(r.err.split('x.safetensors').length - 1, 1, r.err);
  r = facm('sample', '--ckpt', out);
  assert.match(r.err, /^error: --ckpt .*run: a folder; pass the \.safetensors file \(e\.g\. .*run\/checkpoint\.safetensors\)/);
});

test('cli: --teacher takes a shipped teacher by id; a MeanFlow student of it gets its r embedder, and its checkpoint records the teacher', () => {
  const out = join(dir, 'distil-meanflow');
  const r = facm('train', '--preset', 'mnist-16', '--dataset', 'fashion16', '--objective', 'meanflow', '--init', 'public/teachers/fashion16-fm.safetensors', '--teacher', 'fashion16-fm', '--steps', '1', '--batch', '2', '--autosave-every', '0', '--out', out);
  assert.equal(r.code, 0, r.err);
  const ck = loadCheckpoint(new Uint8Array(readFileSync(join(out, 'checkpoint.safetensors'))));
  assert.ok(ck.model.useR, 'the student has the r input the teacher lacks');
  assert.equal(ck.step, 1);
  assert.equal((ck.run as { config: { teacher: string } }).config.teacher, 'fashion16-fm');
  assert.match(facm('train', '--teacher', 'fashion16', '--steps', '1').err, /teacher checkpoint 'fashion16' does not exist \(shipped teachers: fashion16-fm, eight-gaussians-fm\)/);
});
