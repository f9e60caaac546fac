// The bridge's data readers against the project's: the built-in sets for a seed (bit-equal), the
// Batcher's index stream, IDX files (gzip) resized 12×12 → 8×8 and grey → RGB, and CIFAR-10 batches
// in a .tar.gz (written by Python's tarfile, read by our own tar / gzip code on the Node side).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN, Batcher, loadDatasetFromFiles, resizeDataset, type Dataset } from '../../src/data/index';
import { readSafetensors } from '../../src/train/safetensors';
import { Rng } from '../../src/util/rng';
import { needTorch, py, PYTHON } from './bridge';
import { idxBytes } from '../helpers/idx';
import { POINT_SETS } from '../../src/data/points2d';

const dir = mkdtempSync(join(tmpdir(), 'facm-pydata-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function compare(spec: string, shape: [number, number, number], seed: number, ours: Dataset, tol: number): void {
  const out = join(dir, `${spec.replace(/\W/g, '_')}.safetensors`);
  const r = py('facm_bridge.data', [spec, '--shape', shape.join(','), '--seed', String(seed), '--n', '64', '--out', out]);
  assert.equal(r.code, 0, r.err);
  const f = readSafetensors(new Uint8Array(readFileSync(out)));
  assert.equal(Number(f.metadata.count), ours.count, `${spec}: count`);
  assert.equal(Number(f.metadata.numClasses), ours.numClasses, `${spec}: classes`);
  const img = f.tensors.get('images')!.data;
  const n = img.length;
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(img[i] - ours.images[i]));
  assert.ok(worst <= tol, `${spec}: images differ by ${worst}`);
  assert.deepEqual(Array.from(f.tensors.get('labels')!.data), Array.from(ours.labels.subarray(0, f.tensors.get('labels')!.data.length)), `${spec}: labels`);
  const b = new Batcher(ours, 5, seed, 0.5);
  const idx = [b.next(), b.next(), b.next()].flatMap((x) => Array.from(x.indices));
  assert.deepEqual(Array.from(f.tensors.get('batch.indices')!.data), idx, `${spec}: batch order`);
}

test('python bridge: built-in data sets, IDX and CIFAR-10 files read as the project reads them', needTorch, async () => {
  compare('shapes8', [3, 8, 8], 4, BUILTIN.shapes8.make(4), 0);
  compare('blobs8', [3, 8, 8], 1, BUILTIN.blobs8.make(1), 0);
  for (const name of POINT_SETS) compare(name, [2, 1, 1], 7, BUILTIN[name].make(7), 0); // the 2-D point sets, bit for bit

  // IDX (gzip): 70 grey 12×12 images, resized to 3×8×8 on both sides.
  const rng = new Rng(9);
  const idx = (dims: number[], data: Uint8Array) => gzipSync(idxBytes(dims, data));
  const mn = join(dir, 'mnist');
  mkdirSync(mn);
  const pix = Uint8Array.from({ length: 70 * 144 }, () => rng.int(256));
  const lab = Uint8Array.from({ length: 70 }, () => rng.int(10));
  writeFileSync(join(mn, 'train-images-idx3-ubyte.gz'), idx([70, 12, 12], pix));
  writeFileSync(join(mn, 'train-labels-idx1-ubyte.gz'), idx([70], lab));
  const files = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'].map((n) => ({ name: n, bytes: new Uint8Array(readFileSync(join(mn, n))) }));
  compare(mn, [3, 8, 8], 0, resizeDataset(await loadDatasetFromFiles(files), 8, 8, { C: 3 }), 1e-6);

  // CIFAR-10: two batches of 40 records in a .tar.gz as shipped (cifar-10-batches-bin/...).
  const cdir = join(dir, 'cifar-10-batches-bin');
  mkdirSync(cdir);
  for (const name of ['data_batch_1.bin', 'data_batch_2.bin', 'test_batch.bin']) {
    const recs = new Uint8Array(40 * 3073);
    for (let i = 0; i < recs.length; i++) recs[i] = i % 3073 === 0 ? rng.int(10) : rng.int(256);
    writeFileSync(join(cdir, name), recs);
  }
  const tgz = join(dir, 'cifar-10-binary.tar.gz');
  const t = spawnSync(PYTHON, ['-c', `import tarfile; t = tarfile.open(${JSON.stringify(tgz)}, 'w:gz'); t.add(${JSON.stringify(cdir)}, arcname='cifar-10-batches-bin'); t.close()`], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);
  const cifar = await loadDatasetFromFiles([{ name: 'cifar-10-binary.tar.gz', bytes: new Uint8Array(readFileSync(tgz)) }]);
  assert.equal(cifar.count, 80, 'the training batches only');
  compare(tgz, [3, 32, 32], 0, cifar, 0);
});
