import { isPointSet } from '../../src/data/points2d';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import {
  Batcher,
  BUILTIN,
  bytesToUnit,
  CIFAR10_CLASSES,
  FASHION_MNIST_CLASSES,
  gunzip,
  identifyIdx,
  loadCifarArchive,
  loadDatasetFromFiles,
  loadIdxPair,
  makeBlobs,
  makeDataset,
  makeShapes,
  parseCifarBin,
  parseIdx,
  parseTar,
  resizeDataset,
  type Dataset,
} from '../../src/data/index';
import { presetForData, presetHint } from '../../src/model/config';
import { idxBytes } from '../helpers/idx';

// ---- helpers: tiny tar / gzip writers and CIFAR / IDX builders ----

function tarHeader(name: string, size: number, type = '0'): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, at: number) => {
    for (let i = 0; i < s.length; i++) h[at + i] = s.charCodeAt(i);
  };
  put(name, 0);
  put('0000644\0', 100);
  put('0000000\0', 108);
  put('0000000\0', 116);
  put(size.toString(8).padStart(11, '0') + '\0', 124);
  put('00000000000\0', 136);
  put('        ', 148);
  put(type, 156);
  put('ustar\0', 257);
  put('00', 263);
  let sum = 0;
  for (const v of h) sum += v;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

function makeTar(entries: { name: string; bytes: Uint8Array; type?: string }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e.name, e.bytes.length, e.type));
    const padded = new Uint8Array(Math.ceil(e.bytes.length / 512) * 512);
    padded.set(e.bytes);
    parts.push(padded);
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** n CIFAR records numbered k = i + offset: label k % 10, pixel j = (k·7 + j) % 256. */
function cifarBin(n: number, labelOffset = 0): Uint8Array {
  const b = new Uint8Array(n * 3073);
  for (let i = 0; i < n; i++) {
    b[i * 3073] = (i + labelOffset) % 10;
    for (let j = 0; j < 3072; j++) b[i * 3073 + 1 + j] = ((i + labelOffset) * 7 + j) % 256;
  }
  return b;
}

function checkCifar(ds: Dataset, n: number, labelOffset = 0) {
  assert.equal(ds.count, n);
  assert.deepEqual([ds.C, ds.H, ds.W, ds.numClasses], [3, 32, 32, 10]);
  for (let i = 0; i < n; i++) {
    assert.equal(ds.labels[i], (i + labelOffset) % 10);
    // R at (0,0), G at (0,0), B at (31,31)
    for (const j of [0, 1024, 3071]) assert.equal(ds.images[i * 3072 + j], Math.fround((((i + labelOffset) * 7 + j) % 256) / 127.5 - 1), `image ${i} pixel ${j}`);
  }
}

const idx = idxBytes;

// ---- procedural ----

test('procedural datasets are deterministic per seed and in [-1, 1] (images; 2-D point sets: tests/unit/points2d)', () => {
  for (const [key, b] of Object.entries(BUILTIN).filter(([k]) => !isPointSet(k))) {
    const a = b.make(7, 40);
    const c = b.make(7, 40);
    const d = b.make(8, 40);
    assert.equal(a.count, 40, key);
    assert.deepEqual(a.images, c.images, `${key}: same seed`);
    assert.deepEqual(a.labels, c.labels, `${key}: same seed labels`);
    assert.notDeepEqual(a.images, d.images, `${key}: other seed`);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of a.images) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    assert.ok(lo >= -1 && hi <= 1, `${key}: range [${lo}, ${hi}]`);
    assert.ok(hi - lo > 0.5, `${key}: has contrast`);
    assert.ok(a.labels.every((l) => l < a.numClasses), key);
    assert.equal(a.classNames?.length, a.numClasses);
  }
});

test('shapes: all classes appear, sizes 8/16/32 share labels, images have contrast', () => {
  const ds32 = makeShapes(200, 32, 3);
  const ds8 = makeShapes(200, 8, 3);
  assert.deepEqual([ds32.C, ds32.H, ds32.W], [3, 32, 32]);
  assert.deepEqual([ds8.H, ds8.W], [8, 8]);
  assert.deepEqual(ds32.labels, ds8.labels);
  assert.ok(ds32.numClasses >= 4);
  const seen = new Set(ds32.labels);
  assert.equal(seen.size, ds32.numClasses);
  // Per-image spread: shapes are visible, not flat.
  for (let n = 0; n < 20; n++) {
    const img = ds32.images.subarray(n * 3072, (n + 1) * 3072);
    assert.ok(Math.max(...img) - Math.min(...img) > 0.6, `image ${n} has visible structure`);
  }
});

test('blobs8: class is the quadrant of the brightest pixel', () => {
  const ds = makeBlobs(64, 1);
  assert.deepEqual([ds.C, ds.H, ds.W, ds.numClasses], [3, 8, 8, 4]);
  for (let n = 0; n < ds.count; n++) {
    let best = -Infinity;
    let bx = 0;
    let by = 0;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        let s = 0;
        for (let c = 0; c < 3; c++) s += ds.images[n * 192 + c * 64 + y * 8 + x];
        if (s > best) [best, bx, by] = [s, x, y];
      }
    }
    assert.equal(ds.labels[n], (by >= 4 ? 2 : 0) + (bx >= 4 ? 1 : 0), `image ${n}`);
  }
});

// ---- dataset / batcher / resize ----

test('makeDataset validates sizes, labels and range', () => {
  const ok = { name: 't', C: 1, H: 2, W: 2, numClasses: 2, images: new Float32Array(8), labels: new Uint8Array(2) };
  assert.equal(makeDataset(ok).count, 2);
  assert.throws(() => makeDataset({ ...ok, images: new Float32Array(7) }), /images has 7 values .* needs 8/);
  assert.throws(() => makeDataset({ ...ok, labels: new Uint8Array([0, 2]) }), /label 2 of image 1 is ≥ numClasses = 2/);
  assert.throws(() => makeDataset({ ...ok, images: new Float32Array(8).fill(1.5) }), /outside \[-1, 1\]/);
  assert.throws(() => makeDataset({ ...ok, images: new Float32Array(8).fill(NaN) }), /outside \[-1, 1\]/);
  // A wider bound (2-D point sets): inside it passes, outside it is refused with the bound named.
  assert.equal(makeDataset({ ...ok, images: new Float32Array(8).fill(1.5), bound: 2 }).count, 2);
  assert.throws(() => makeDataset({ ...ok, images: new Float32Array(8).fill(2.5), bound: 2 }), /outside \[-2, 2\]/);
  assert.throws(() => makeDataset({ ...ok, H: 0 }), /H must be a positive integer/);
  assert.deepEqual(Array.from(bytesToUnit(new Uint8Array([0, 255]))), [-1, 1]);
});

test('Batcher: deterministic per seed, epochs without replacement, flips mirror rows', () => {
  const ds = makeShapes(10, 8, 5);
  const run = (seed: number) => {
    const b = new Batcher(ds, 4, seed);
    return [b.next(), b.next(), b.next()];
  };
  const a = run(11);
  const b = run(11);
  const c = run(12);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(a[i].indices, b[i].indices);
    assert.deepEqual(a[i].flips, b[i].flips);
    assert.deepEqual(a[i].x, b[i].x);
  }
  assert.notDeepEqual([...a[0].indices, ...a[1].indices], [...c[0].indices, ...c[1].indices]);
  // The first 10 draws are one epoch: a permutation of 0..9.
  const first = [...a[0].indices, ...a[1].indices, ...a[2].indices.subarray(0, 2)].sort((p, q) => p - q);
  assert.deepEqual(first, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

  const per = 3 * 8 * 8;
  let flipped = 0;
  const bb = new Batcher(ds, 5, 3);
  for (let step = 0; step < 20; step++) {
    const { x, y, indices, flips } = bb.next();
    for (let r = 0; r < 5; r++) {
      const i = indices[r];
      assert.equal(y[r], ds.labels[i]);
      flipped += flips[r];
      for (let c = 0; c < 3; c++) {
        for (let yy = 0; yy < 8; yy++) {
          for (let xx = 0; xx < 8; xx++) {
            const src = ds.images[i * per + c * 64 + yy * 8 + (flips[r] ? 7 - xx : xx)];
            assert.equal(x[r * per + c * 64 + yy * 8 + xx], src);
          }
        }
      }
    }
  }
  assert.ok(flipped > 20 && flipped < 80, `about half flipped: ${flipped}/100`);
  const nf = new Batcher(ds, 50, 3, 0).next();
  assert.ok(nf.flips.every((f) => f === 0));
  assert.throws(() => new Batcher(ds, 0, 1), /batch must be a positive integer/);
});

test('resizeDataset: area down-sampling, bilinear up-sampling, channel replication', () => {
  // 4×4 → 2×2 averages 2×2 blocks.
  const img = new Float32Array([0, 0.2, -1, -1, 0.4, 0.6, -1, -1, 1, 1, 0.5, 0.5, 1, 1, 0.5, 0.5]);
  const ds = makeDataset({ name: 'r', C: 1, H: 4, W: 4, numClasses: 1, images: img, labels: new Uint8Array(1) });
  const small = resizeDataset(ds, 2, 2, { C: 3 });
  assert.deepEqual([small.C, small.H, small.W], [3, 2, 2]);
  const want = [0.3, -1, 1, 0.5];
  for (let c = 0; c < 3; c++) for (let i = 0; i < 4; i++) assert.ok(Math.abs(small.images[c * 4 + i] - want[i]) < 1e-6);
  // A constant image stays constant both ways; non-integer ratio 28 → 8.
  const flat = makeDataset({ name: 'f', C: 1, H: 28, W: 28, numClasses: 1, images: new Float32Array(784).fill(0.25), labels: new Uint8Array(1) });
  for (const [h, w] of [[8, 8], [40, 33]]) {
    const r = resizeDataset(flat, h, w);
    assert.equal(r.images.length, h * w);
    assert.ok(r.images.every((v) => Math.abs(v - 0.25) < 1e-6), `${h}×${w}`);
  }
  // Up-sampling a ramp keeps it monotone and in range.
  const up = resizeDataset(resizeDataset(ds, 2, 2), 8, 8);
  assert.ok(up.images.every((v) => v >= -1 && v <= 1));
  const shapes8 = resizeDataset(makeShapes(4, 32, 1), 8, 8);
  assert.deepEqual([shapes8.H, shapes8.W, shapes8.count], [8, 8, 4]);
});

// ---- CIFAR ----

test('CIFAR-10 .bin parses with known pixels and labels', () => {
  checkCifar(parseCifarBin(cifarBin(5)), 5);
  assert.deepEqual(parseCifarBin(cifarBin(1)).classNames, CIFAR10_CLASSES);
});

test('CIFAR-10 errors: truncated file, bad label, unrecognised archive', async () => {
  const b = cifarBin(3);
  assert.throws(() => parseCifarBin(b.subarray(0, 3073 * 2 + 100), 'data_batch_1.bin'), /data_batch_1\.bin: 6246 bytes is not a whole number .* 2 records \+ 100 bytes/);
  const bad = cifarBin(3);
  bad[3073 * 2] = 12;
  assert.throws(() => parseCifarBin(bad, 'x.bin'), /x\.bin: record 2 \(byte offset 6146\) has label 12/);
  await assert.rejects(loadCifarArchive(new Uint8Array([1, 2, 3, 4])), /not a CIFAR-10 archive: 4 bytes starting 01 02 03 04/);
  await assert.rejects(gunzip(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2]), 'bad.gz'), /bad\.gz: gzip data is corrupt or truncated/);
});

test('CIFAR-10 inside tar and tar.gz, as shipped, with splits and class names', async () => {
  const meta = new TextEncoder().encode(CIFAR10_CLASSES.map((c) => c.toUpperCase()).join('\n') + '\n\n');
  const tar = makeTar([
    { name: 'cifar-10-batches-bin/', bytes: new Uint8Array(0), type: '5' },
    { name: 'cifar-10-batches-bin/batches.meta.txt', bytes: meta },
    { name: 'cifar-10-batches-bin/data_batch_1.bin', bytes: cifarBin(3) },
    { name: 'cifar-10-batches-bin/data_batch_2.bin', bytes: cifarBin(2, 3) },
    { name: 'cifar-10-batches-bin/test_batch.bin', bytes: cifarBin(4, 5) },
    { name: 'cifar-10-batches-bin/readme.html', bytes: new TextEncoder().encode('<html></html>') },
  ]);
  const files = parseTar(tar);
  assert.deepEqual(
    files.map((f) => f.name),
    ['cifar-10-batches-bin/batches.meta.txt', 'cifar-10-batches-bin/data_batch_1.bin', 'cifar-10-batches-bin/data_batch_2.bin', 'cifar-10-batches-bin/test_batch.bin', 'cifar-10-batches-bin/readme.html'],
  );
  const tgz = await gzip(tar);
  for (const bytes of [tar, tgz]) {
    const train = await loadCifarArchive(bytes);
    checkCifar(train, 5); // batches 1 and 2 concatenated: records continue 0,1,2 then 3,4
    assert.equal(train.classNames?.[0], 'AIRPLANE');
    const testSplit = await loadCifarArchive(bytes, { split: 'test' });
    checkCifar({ ...testSplit }, 4, 5);
    const viaFiles = await loadDatasetFromFiles([{ name: 'cifar-10-binary.tar.gz', bytes }]);
    assert.equal(viaFiles.count, 5);
  }
  checkCifar(await loadCifarArchive(cifarBin(2)), 2);
  // Truncated tar → names the member.
  assert.throws(() => parseTar(tar.subarray(0, 512 * 4 + 100)), /data_batch_1\.bin' needs 9219 bytes .* \(truncated\)/);
  const corrupt = tar.slice();
  corrupt[512 + 3] ^= 0xff;
  assert.throws(() => parseTar(corrupt), /header at byte 512 has checksum/);
});

// ---- IDX ----

const FASHION = '/usr/share/datasets/fashion-mnist';
const haveFashion = existsSync(`${FASHION}/t10k-images-idx3-ubyte.gz`);

test('Fashion-MNIST t10k IDX (gzip) loads', { skip: !haveFashion && 'dataset-fashion-mnist not installed' }, async () => {
  const images = new Uint8Array(readFileSync(`${FASHION}/t10k-images-idx3-ubyte.gz`));
  const labels = new Uint8Array(readFileSync(`${FASHION}/t10k-labels-idx1-ubyte.gz`));
  const ds = await loadIdxPair(images, labels, 'fashion-mnist');
  assert.equal(ds.count, 10000);
  assert.deepEqual([ds.C, ds.H, ds.W, ds.numClasses], [1, 28, 28, 10]);
  assert.deepEqual(ds.classNames, FASHION_MNIST_CLASSES);
  const counts = new Array(10).fill(0);
  for (const l of ds.labels) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(1000)); // t10k is balanced
  let sum = 0;
  for (const v of ds.images) sum += (v + 1) * 127.5;
  const mean = sum / ds.images.length;
  assert.ok(mean > 65 && mean < 80, `mean pixel ${mean.toFixed(2)} (Fashion-MNIST ≈ 73)`);
  // The same pair through content detection, from a tar.
  const viaFiles = await loadDatasetFromFiles([
    { name: 'fm.tar', bytes: makeTar([{ name: 't10k-labels-idx1-ubyte.gz', bytes: labels }, { name: 't10k-images-idx3-ubyte.gz', bytes: images }]) },
  ]);
  assert.equal(viaFiles.count, 10000);
  assert.deepEqual(viaFiles.labels, ds.labels);
  assert.equal(viaFiles.name, 'fashion-mnist', 'recognised from its content: no file name says fashion');
  assert.equal(identifyIdx(await parseIdx(images), await parseIdx(labels)), 'fashion-mnist');
  // A quarter of it, cut where the classes are no longer exactly balanced: still recognised by its brightness.
  const img = await parseIdx(images);
  const lab = await parseIdx(labels);
  const n = 2503;
  assert.equal(identifyIdx({ dims: [n, 28, 28], data: img.data.subarray(0, n * 784) }, { dims: [n], data: lab.data.subarray(0, n) }), 'fashion-mnist');
  // 28 → 8 for tiny models, grey → RGB.
  const small = resizeDataset(ds, 8, 8, { C: 3 });
  assert.deepEqual([small.C, small.H, small.W, small.count], [3, 8, 8, 10000]);
});

test('IDX pairs are named by what they are: file names, balance, brightness, shape', () => {
  const n = 1000;
  // Thin bright strokes on black (MNIST-like: mean pixel ≈ 30), unbalanced labels.
  const digits = { dims: [n, 28, 28], data: Uint8Array.from({ length: n * 784 }, (_, i) => (i % 784) % 28 === 14 ? 255 : i % 97 === 0 ? 200 : 0) };
  const unbalanced = { dims: [n], data: Uint8Array.from({ length: n }, (_, i) => (i * i) % 10) };
  const balanced = { dims: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) };
  const garments = { dims: [n, 28, 28], data: Uint8Array.from({ length: n * 784 }, (_, i) => ((i % 784) % 28 > 6 && (i % 784) % 28 < 22 ? 160 : 0)) };
  assert.equal(identifyIdx(digits, unbalanced), 'mnist');
  assert.equal(identifyIdx(digits, balanced), 'fashion-mnist', 'both Fashion-MNIST splits have exactly count/10 images per class');
  assert.equal(identifyIdx(garments, unbalanced), 'fashion-mnist');
  assert.equal(identifyIdx(garments, unbalanced, ['mnist/train-images-idx3-ubyte']), 'mnist');
  assert.equal(identifyIdx(digits, unbalanced, ['fashion-mnist/train-images-idx3-ubyte.gz']), 'fashion-mnist');
  assert.equal(identifyIdx({ dims: [2, 16, 16], data: new Uint8Array(512) }, { dims: [2], data: new Uint8Array(2) }), 'idx 16×16');
  assert.equal(identifyIdx(digits, { dims: [n], data: new Uint8Array(n).fill(25) }), 'idx 28×28', 'labels past 9: not an MNIST');
});

test('a data set whose size or channels suit another preset gets a one-line hint', () => {
  const fm = { name: 'fashion-mnist', C: 1, H: 28, W: 28 };
  assert.equal(presetHint(fm, 'tiny'), 'fashion-mnist is 1×28×28; the tiny preset trains it at 3×8×8 (grey → 3 channels, 28 → 8 pixels): the mnist-16 preset (1×16×16) suits it better.');
  assert.equal(presetHint(fm, 'mnist-16'), null);
  assert.match(presetHint({ name: 'cifar10', C: 3, H: 32, W: 32 }, 'tiny-16') ?? '', /^cifar10 is 3×32×32; the tiny-16 preset trains it at 3×16×16 \(32 → 16 pixels\): the cifar-s preset/);
  assert.equal(presetHint({ name: 'cifar10', C: 3, H: 32, W: 32 }, 'cifar-b'), null, 'as good as cifar-s: no hint');
  assert.equal(presetHint({ name: 'shapes8', C: 3, H: 8, W: 8 }, 'tiny'), null);
});

test('grey data switch a preset the user did not choose to a one-channel one; a chosen preset, or matching channels, stay', () => {
  const fm = { name: 'fashion-mnist', C: 1, H: 28, W: 28 };
  assert.equal(presetForData(fm, 'tiny', false), 'mnist-16');
  assert.equal(presetForData({ ...fm, H: 16, W: 16 }, 'tiny-16', false), 'mnist-16');
  assert.equal(presetForData(fm, 'tiny', true), null, 'the user chose tiny: kept (the hint still names mnist-16)');
  assert.equal(presetForData(fm, 'mnist-16', false), null, 'already one channel');
  assert.equal(presetForData({ name: 'cifar10', C: 3, H: 32, W: 32 }, 'tiny', false), null, 'RGB on RGB: a hint, not a switch');
});

test('IDX errors: truncated, bad magic, count mismatch', async () => {
  const imgs = idx([3, 4, 4], new Uint8Array(48).map((_, i) => i));
  const labs = idx([3], new Uint8Array([0, 1, 9]));
  const ds = await loadIdxPair(imgs, labs, 'mnist');
  assert.deepEqual([ds.count, ds.H, ds.W], [3, 4, 4]);
  assert.equal(ds.images[47], Math.fround(47 / 127.5 - 1));
  await assert.rejects(loadIdxPair(imgs.subarray(0, 40), labs, 'mnist'), /mnist images: truncated: header says 3×4×4 u8 = 64 bytes in all, file has 40 bytes/);
  const gz = await gzip(imgs.subarray(0, 40));
  await assert.rejects(parseIdx(gz, 'x.gz'), /x\.gz: truncated: header says 3×4×4 u8 = 64 bytes in all, file has 40 bytes/);
  await assert.rejects(parseIdx(new Uint8Array([1, 2, 3, 4, 5]), 'junk'), /junk: not an IDX file \(starts 01 02 03 04 05/);
  await assert.rejects(loadIdxPair(imgs, idx([2], new Uint8Array([0, 1])), 'mnist'), /3 images but 2 labels/);
  await assert.rejects(loadIdxPair(labs, imgs, 'mnist'), /images file has 1 dimensions/);
  const f32 = idx([1], new Uint8Array(4));
  f32[2] = 0x0d;
  await assert.rejects(parseIdx(f32, 'f'), /element type 0x0d \(f32\) is not supported/);
  await assert.rejects(loadDatasetFromFiles([{ name: 'notes.txt', bytes: new TextEncoder().encode('hello') }]), /no dataset recognised in: notes\.txt \(5 bytes, starts 68 65 6c 6c 6f\)/);
});
