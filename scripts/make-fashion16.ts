// Makes the Fashion-MNIST subset shipped with the app (public/data/fashion16/) from Debian's
// dataset-fashion-mnist package (MIT licence): 16×16 grayscale, 600 training images a class (the
// first of each class in the package's training file) and 100 held-out images a class (from its
// test file), resized with the project's own resampler (src/data/dataset.ts resizeDataset) and
// rounded to bytes, written as uncompressed IDX files with the licence beside them.
//
//   apt-get install dataset-fashion-mnist && node --import tsx scripts/make-fashion16.ts
//
// It prints each file's SHA-256 and whether it matches the one recorded in src/data/shipped.ts
// (which the loader checks): exit status 1 when one differs.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadIdxPair } from '../src/data/idx';
import { resizeDataset, type Dataset } from '../src/data/dataset';
import { SHIPPED, sha256Hex, type ShippedFile } from '../src/data/shipped';

const SRC = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const OUT = process.env.FASHION16_OUT ?? 'public'; // another folder to check that the script remakes the shipped files
const SIZE = 16;
const spec = SHIPPED.fashion16;

/** The first `per` images of each class, in file order. */
function firstPerClass(ds: Dataset, per: number): number[] {
  const seen = new Array(ds.numClasses).fill(0);
  const idx: number[] = [];
  for (let i = 0; i < ds.count; i++) if (seen[ds.labels[i]]++ < per) idx.push(i);
  const short = seen.findIndex((c) => c < per);
  if (short >= 0) throw new Error(`${ds.name}: class ${short} has only ${seen[short]} images, ${per} wanted`);
  return idx;
}

function idxFile(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

async function part(split: 'train' | 't10k', per: number): Promise<{ images: Uint8Array; labels: Uint8Array }> {
  const read = (kind: string) => new Uint8Array(readFileSync(join(SRC, `${split}-${kind}.gz`)));
  const full = await loadIdxPair(read('images-idx3-ubyte'), read('labels-idx1-ubyte'), `fashion-mnist ${split}`);
  const idx = firstPerClass(full, per);
  const D = full.H * full.W;
  const images = new Float32Array(idx.length * D);
  idx.forEach((j, i) => images.set(full.images.subarray(j * D, (j + 1) * D), i * D));
  const small = resizeDataset({ ...full, count: idx.length, images, labels: Uint8Array.from(idx, (j) => full.labels[j]) }, SIZE, SIZE);
  const bytes = Uint8Array.from(small.images, (v) => Math.min(255, Math.max(0, Math.round((v + 1) * 127.5))));
  return { images: idxFile([idx.length, SIZE, SIZE], bytes), labels: idxFile([idx.length], small.labels) };
}

const licence = readFileSync('/usr/share/doc/dataset-fashion-mnist/copyright', 'utf8');
const body = licence.slice(licence.lastIndexOf('License: Expat')).split('\n').slice(1).map((l) => l.replace(/^ \.?/, '')).join('\n').trim();
const written: [ShippedFile, Uint8Array][] = [];
const train = await part('train', 600);
const held = await part('t10k', 100);
written.push([spec.train.images, train.images], [spec.train.labels, train.labels], [spec.heldOut.images, held.images], [spec.heldOut.labels, held.labels]);
const licenceText = `Fashion-MNIST, 16×16 grayscale subset (made by scripts/make-fashion16.ts from Debian's dataset-fashion-mnist package).\n\nCopyright (c) 2017 Zalando SE, https://tech.zalando.com\nSource: https://github.com/zalandoresearch/fashion-mnist\n\nThe MIT License (MIT)\n\n${body}\n`;
let bad = 0;
for (const [f, bytes] of written) {
  const p = join(OUT, f.path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, bytes);
  const h = await sha256Hex(bytes);
  const ok = h === f.sha256;
  if (!ok) bad++;
  console.log(`${p}  ${bytes.length} bytes  sha256 ${h}  ${ok ? 'matches src/data/shipped.ts' : `DIFFERS from the recorded ${f.sha256 || '(none)'}`}`);
}
writeFileSync(join(OUT, spec.licence), licenceText);
console.log(`${join(OUT, spec.licence)} written`);
process.exit(bad ? 1 : 0);
