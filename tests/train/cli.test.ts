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

const dir = mkdtempSync(join(tmpdir(), 'facm-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function facm(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'src/cli/main.ts', ...args], { encoding: 'utf8', env: process.env });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('cli: a missing teacher, a truncated dataset file, a bad policy and a missing autosave each end with one clear error', () => {
  let r = facm('train', '--teacher', join(dir, 'nope.safetensors'), '--steps', '1');
  assert.equal(r.code, 1);
  assert.match(r.err, /error: teacher checkpoint '.*nope\.safetensors' does not exist/);

  // An IDX images file cut short (header says 3 images of 4×4, 40 of 64 bytes there) with its labels.
  const idx = (dims: number[], data: Uint8Array) => {
    const b = new Uint8Array(4 + 4 * dims.length + data.length);
    const v = new DataView(b.buffer);
    v.setUint8(2, 0x08);
    v.setUint8(3, dims.length);
    dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
    b.set(data, 4 + 4 * dims.length);
    return b;
  };
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
  let r = facm('train', '--preset', 'tiny', '--dataset', 'blobs8', '--steps', '3', '--batch', '2', '--autosave-every', '2', '--log-every', '1', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.equal(loadCheckpoint(new Uint8Array(readFileSync(join(out, 'autosave.safetensors')))).step, 3);

  r = facm('train', '--resume', out, '--steps', '5', '--log-every', '1');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /resuming .*run at step 3 of 5/);
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
  assert.match(r.err, /error: .*checksum mismatch/);
  assert.deepEqual(readFileSync(join(out, 'autosave.safetensors')), bytes);
});
