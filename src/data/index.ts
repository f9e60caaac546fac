// Dataset loading by content, for the browser's file drop and the CLI: archives are unpacked, then
// each file is recognised by its bytes (IDX header, CIFAR record size), not by its name.

import { cifarFromFiles, CIFAR_RECORD, hexHead, unpackFiles, type NamedBytes, type Split } from './cifar';
import { concatDatasets, type Dataset } from './dataset';
import { identifyIdx, idxPairToDataset, isIdx, parseIdxRaw, type IdxArray } from './idx';

export * from './dataset';
export * from './procedural';
export * from './cifar';
export * from './idx';
export * from './points2d';

export interface LoadOptions {
  /** Which split when a set has both (default 'train'); falls back to whatever is present. */
  split?: Split;
  name?: string;
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const isTestName = (p: string) => /t10k|test/i.test(baseName(p));

function pickSplit<T extends { name: string }>(items: T[], split: Split): T[] {
  if (split === 'all') return items;
  const chosen = items.filter((f) => (split === 'test') === isTestName(f.name));
  return chosen.length > 0 ? chosen : items;
}

interface IdxFile extends IdxArray {
  name: string;
}

function idxDataset(idx: IdxFile[], split: Split, givenName: string | undefined, names: string[]): Dataset {
  const images = idx.filter((f) => f.dims.length === 3);
  const labels = idx.filter((f) => f.dims.length === 1);
  const other = idx.find((f) => f.dims.length !== 3 && f.dims.length !== 1);
  if (other) throw new Error(`${other.name}: IDX with ${other.dims.length} dimensions is neither images (3) nor labels (1)`);
  const both = 'give the images and labels files together (drop both on the page; in the CLI pass their folder, or both paths separated by a comma)';
  if (images.length === 0) throw new Error(`${labels.map((f) => f.name).join(', ')}: IDX labels without an images file; ${both}`);
  if (labels.length === 0) throw new Error(`${images.map((f) => f.name).join(', ')}: IDX images without a labels file; ${both}`);
  // train-images-idx3-ubyte ↔ train-labels-idx1-ubyte: same name once the kind is blanked out.
  const key = (f: IdxFile) => baseName(f.name).replace(/images?|labels?/i, '*').replace(/idx\d/i, 'idx');
  const pairs: { name: string; img: IdxFile; lab: IdxFile }[] = [];
  if (images.length === 1 && labels.length === 1) {
    pairs.push({ name: images[0].name, img: images[0], lab: labels[0] });
  } else {
    for (const img of images) {
      const lab = labels.find((l) => key(l) === key(img));
      if (!lab) throw new Error(`${img.name}: no matching IDX labels file among ${labels.map((f) => f.name).join(', ')}`);
      pairs.push({ name: img.name, img, lab });
    }
  }
  const chosen = pickSplit(pairs, split);
  const name = givenName ?? identifyIdx(chosen[0].img, chosen[0].lab, names);
  const parts = chosen.map((p) => idxPairToDataset(p.img, p.lab, name));
  return concatDatasets(parts, name);
}

/**
 * Builds a Dataset from dropped or read files: MNIST-style IDX pairs (gzip or not), CIFAR-10
 * .bin batches, or either inside .tar / .tar.gz archives.
 */
export async function loadDatasetFromFiles(files: NamedBytes[], opts: LoadOptions = {}): Promise<Dataset> {
  if (files.length === 0) throw new Error('loadDatasetFromFiles: no files given');
  const split = opts.split ?? 'train';
  const flat = await unpackFiles(files);
  const idx: IdxFile[] = [];
  const cifar: NamedBytes[] = [];
  const unknown: NamedBytes[] = [];
  for (const f of flat) {
    if (isIdx(f.bytes)) idx.push({ name: f.name, ...parseIdxRaw(f.bytes, f.name) });
    else if (f.bytes.length > 0 && f.bytes.length % CIFAR_RECORD === 0) cifar.push(f);
    else if (baseName(f.name) === 'batches.meta.txt') cifar.push(f);
    else unknown.push(f);
  }
  const cifarBins = cifar.filter((f) => baseName(f.name) !== 'batches.meta.txt');
  if (idx.length > 0 && cifarBins.length > 0) {
    throw new Error(`mixed datasets: IDX files (${idx.map((f) => f.name).join(', ')}) and CIFAR batches (${cifarBins.map((f) => f.name).join(', ')})`);
  }
  if (idx.length > 0) {
    return idxDataset(idx, split, opts.name, [...files, ...flat].map((f) => f.name));
  }
  if (cifarBins.length > 0) {
    // cifarFromFiles reads names; files recognised by size count as .bin whatever they are called.
    const named = cifar.map((f) => (baseName(f.name) === 'batches.meta.txt' || f.name.endsWith('.bin') ? f : { ...f, name: `${f.name}.bin` }));
    return cifarFromFiles(named, split, opts.name ?? 'cifar10');
  }
  const seen = unknown.map((f) => `${f.name} (${f.bytes.length} bytes, starts ${hexHead(f.bytes)})`).join('; ');
  throw new Error(
    `no dataset recognised in: ${seen}. Expected IDX files (MNIST / Fashion-MNIST, optionally .gz) or CIFAR-10 binary ` +
      `batches (3073-byte records), loose or in a .tar / .tar.gz`,
  );
}
