// Data sets shipped with the app as static files under public/ (served by Vite from the same origin;
// the app never downloads data from elsewhere). Each file's SHA-256 is recorded here and checked
// when it is read, so a truncated or replaced file is refused with a message, not trained on.
// The files are made by a script in the repo (scripts/make-fashion16.ts for fashion16).

import { makeDataset, type Dataset } from './dataset';
import { idxPairToDataset, parseIdxRaw } from './idx';

export interface ShippedFile {
  /** Path under public/ (and under the page's base URL). */
  path: string;
  sha256: string;
}

export interface ShippedDataset {
  description: string;
  /** The images the model trains on. */
  train: { images: ShippedFile; labels: ShippedFile };
  /** Images kept out of training, for the quality metrics' held-out figure. */
  heldOut: { images: ShippedFile; labels: ShippedFile };
  licence: string;
  /** The command that makes the files. */
  command: string;
}

export const SHIPPED: Record<string, ShippedDataset> = {
  fashion16: {
    description: 'Fashion-MNIST at 16×16 grayscale, 10 classes: 6,000 training images (600 a class) and 1,000 held out (100 a class), shipped with the app',
    train: {
      images: { path: 'data/fashion16/train-images-idx3-ubyte', sha256: '528f4e5df98b5415a3dda555faac0011d51ebe65a0b02148a19d657ddaa033e1' },
      labels: { path: 'data/fashion16/train-labels-idx1-ubyte', sha256: '097b93fbcf9bd5bc648b1a457ddc55c9e4ab49afb33f9ecae8ce068399a75e3a' },
    },
    heldOut: {
      images: { path: 'data/fashion16/t10k-images-idx3-ubyte', sha256: '3895ca6b64646de5b5a7c0ec670d88d1cc97fa0d988d5a0ef0b058dd4218f927' },
      labels: { path: 'data/fashion16/t10k-labels-idx1-ubyte', sha256: '3128d790775889812b73c4f13923559c8b9e281d112c6ea7862acf60a206a909' },
    },
    licence: 'data/fashion16/LICENSE',
    command: 'node --import tsx scripts/make-fashion16.ts',
  },
};

/** Reads a file shipped under public/ by its path there: fetch in the page and the worker, the disk in Node. */
export type ReadAsset = (path: string) => Promise<Uint8Array>;

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A shipped file's bytes, refused unless their SHA-256 is the one recorded (`where`: the file that records it). */
export async function readChecked(f: ShippedFile, read: ReadAsset, where = 'src/data/shipped.ts'): Promise<Uint8Array> {
  const bytes = await read(f.path);
  const got = await sha256Hex(bytes);
  if (got !== f.sha256) {
    throw new Error(`${f.path}: SHA-256 ${got} (${bytes.length} bytes) is not the recorded ${f.sha256}; the shipped file is damaged or was remade (recorded in ${where})`);
  }
  return bytes;
}

/** A shipped data set's training part (or its held-out part), checksums verified. */
export async function loadShipped(name: string, read: ReadAsset, part: 'train' | 'heldOut' = 'train'): Promise<Dataset> {
  const s = SHIPPED[name];
  if (!s) throw new Error(`unknown shipped dataset '${name}' (have ${Object.keys(SHIPPED).join(', ')})`);
  const files = s[part];
  const [img, lab] = await Promise.all([readChecked(files.images, read), readChecked(files.labels, read)]);
  const ds = idxPairToDataset(parseIdxRaw(img, files.images.path), parseIdxRaw(lab, files.labels.path), name);
  return part === 'train' ? ds : makeDataset({ ...ds, name: `${name} (held out)` });
}

/** Reads shipped files from the page's own origin (the worker and the page; Vite serves public/ at its base URL). */
export function fetchAsset(base: string): ReadAsset {
  return async (path) => {
    const url = `${base.replace(/\/?$/, '/')}${path}`;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  };
}
