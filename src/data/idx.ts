// IDX format (MNIST, Fashion-MNIST): big-endian header 00 00 <type> <ndims>, then ndims u32 sizes,
// then the data. Images are 0x00000803 (count, rows, cols) of u8, labels 0x00000801 (count) of u8.
// Gzip-compressed files (as distributed) are detected by magic bytes and inflated first.

import { gunzip, hexHead, isGzip } from './cifar';
import { makeDataset, type Dataset } from './dataset';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export interface IdxArray {
  /** Sizes, outermost first: (count, rows, cols) for images, (count) for labels. */
  dims: number[];
  data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = { 0x08: 'u8', 0x09: 'i8', 0x0b: 'i16', 0x0c: 'i32', 0x0d: 'f32', 0x0e: 'f64' };

/** True when the bytes start like an (uncompressed) IDX file of any element type. */
export function isIdx(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] in TYPE_NAMES && b[3] >= 1 && b[3] <= 4 && b.length >= 4 + 4 * b[3];
}

/** Parses an uncompressed u8 IDX file, checking the header against the byte length. */
export function parseIdxRaw(bytes: Uint8Array, name = 'idx'): IdxArray {
  if (isGzip(bytes)) throw new Error(`${name}: gzip-compressed; use parseIdx (async), which inflates it`);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${name}: not an IDX file (starts ${hexHead(bytes)}; IDX starts 00 00 <type> <ndims>, e.g. 00 00 08 03)`);
  }
  const type = bytes[2];
  const ndims = bytes[3];
  if (type !== 0x08) {
    const tn = TYPE_NAMES[type] ?? 'unknown';
    throw new Error(`${name}: IDX element type 0x${type.toString(16).padStart(2, '0')} (${tn}) is not supported, only 0x08 (u8)`);
  }
  if (ndims < 1 || ndims > 4) throw new Error(`${name}: IDX header says ${ndims} dimensions (supported 1..4)`);
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) throw new Error(`${name}: truncated IDX header: ${bytes.length} bytes, need ${headerLen}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const n = dims.reduce((a, b) => a * b, 1);
  const expected = headerLen + n;
  if (bytes.length !== expected) {
    const how = bytes.length < expected ? 'truncated' : 'has trailing bytes';
    throw new Error(
      `${name}: ${how}: header says ${dims.join('×')} u8 = ${expected} bytes in all, file has ${bytes.length} bytes`,
    );
  }
  return { dims, data: bytes.subarray(headerLen) };
}

/** Parses an IDX file, gzip-compressed or not. */
export async function parseIdx(bytes: Uint8Array, name = 'idx'): Promise<IdxArray> {
  return parseIdxRaw(isGzip(bytes) ? await gunzip(bytes, name) : bytes, name);
}

/**
 * An image file (count, rows, cols) and a label file (count) → a 1-channel Dataset.
 * Class names follow the name: Fashion-MNIST's when it mentions 'fashion', else the digits.
 */
export async function loadIdxPair(imagesBytes: Uint8Array, labelsBytes: Uint8Array, name = 'mnist'): Promise<Dataset> {
  const img = await parseIdx(imagesBytes, `${name} images`);
  const lab = await parseIdx(labelsBytes, `${name} labels`);
  return idxPairToDataset(img, lab, name);
}

/**
 * What an IDX images / labels pair is, from its content (and the file names when they say it):
 * 28×28 images with labels 0..9 are Fashion-MNIST when the names mention it, when every class has
 * exactly count/10 images (both of Fashion-MNIST's splits are balanced, MNIST's are not), or when the
 * mean pixel is over 51/255 (Fashion-MNIST ≈ 73, MNIST ≈ 33: digits are thin strokes on black);
 * otherwise MNIST. Anything else is named by its shape.
 */
export function identifyIdx(img: IdxArray, lab: IdxArray, names: string[] = []): string {
  if (names.some((n) => /fashion/i.test(n))) return 'fashion-mnist';
  const [count, H, W] = img.dims;
  if (img.dims.length !== 3) return 'idx';
  let maxLabel = 0;
  const perClass = new Array<number>(256).fill(0);
  for (let i = 0; i < lab.data.length; i++) {
    maxLabel = Math.max(maxLabel, lab.data[i]);
    perClass[lab.data[i]]++;
  }
  if (H !== 28 || W !== 28 || maxLabel > 9) return `idx ${H}×${W}`;
  if (names.some((n) => /(^|[^a-z])mnist/i.test(n.replace(/fashion/gi, '')))) return 'mnist';
  const balanced = count >= 1000 && count % 10 === 0 && perClass.slice(0, 10).every((c) => c === count / 10);
  let sum = 0;
  for (let i = 0; i < img.data.length; i++) sum += img.data[i];
  const mean = sum / Math.max(1, img.data.length);
  return balanced || mean > 51 ? 'fashion-mnist' : 'mnist';
}

export function idxPairToDataset(img: IdxArray, lab: IdxArray, name: string): Dataset {
  if (img.dims.length !== 3) {
    throw new Error(`${name}: the images file has ${img.dims.length} dimensions (${img.dims.join('×')}), expected 3 (count, rows, cols)`);
  }
  if (lab.dims.length !== 1) {
    throw new Error(`${name}: the labels file has ${lab.dims.length} dimensions (${lab.dims.join('×')}), expected 1 (count)`);
  }
  const [count, H, W] = img.dims;
  if (lab.dims[0] !== count) throw new Error(`${name}: ${count} images but ${lab.dims[0]} labels`);
  let maxLabel = 0;
  for (let i = 0; i < count; i++) maxLabel = Math.max(maxLabel, lab.data[i]);
  const numClasses = Math.max(10, maxLabel + 1);
  const classNames = numClasses !== 10 ? undefined : /fashion/i.test(name) ? FASHION_MNIST_CLASSES : MNIST_CLASSES;
  const images = new Float32Array(count * H * W);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 127.5 - 1;
  return makeDataset({ name, C: 1, H, W, numClasses, classNames: classNames && [...classNames], images, labels: lab.data.slice() });
}
