// Datasets for a run: the built-ins (drawn from the run's seed) and the user's files (CIFAR-10
// archives / batches, IDX), read with progress and fitted to the model's image shape; RunData keeps
// a run's dataset across rebuilds that ask for the same one.

import { BUILTIN, loadDatasetFromFiles, resizeDataset, type Dataset, type NamedBytes } from '../data/index';
import { SHIPPED, fetchAsset, loadShipped } from '../data/shipped';
import type { DiTConfig } from '../model/config';
import { CUSTOM_DATASET, toTrainConfig, type Config } from '../config';
import type { DatasetInfo, ImageSet } from './protocol';

export type Progress = (stage: string, fraction: number | null) => void;

/** Reads File objects chunk by chunk so a large archive reports progress. */
export async function readFiles(files: File[], progress: Progress): Promise<NamedBytes[]> {
  const total = files.reduce((s, f) => s + f.size, 0) || 1;
  let done = 0;
  const out: NamedBytes[] = [];
  for (const f of files) {
    const bytes = new Uint8Array(f.size);
    const reader = f.stream().getReader();
    let at = 0;
    let last = 0;
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      bytes.set(value, at);
      at += value.length;
      done += value.length;
      if (done - last > 1 << 20) {
        last = done;
        progress(`reading ${f.name}`, done / total);
      }
    }
    out.push({ name: f.name, bytes: bytes.subarray(0, at) });
  }
  progress('reading files', 1);
  return out;
}

/** Parses the user's files: an error message names the file and what was expected. */
export async function userDataset(files: File[], progress: Progress): Promise<Dataset> {
  if (files.length === 0) throw new Error('no files given for the custom dataset');
  const named = await readFiles(files, progress);
  progress('unpacking and parsing', null);
  return loadDatasetFromFiles(named);
}

/** A built-in set (drawn from the seed) or one shipped with the app (fetched from the page's own origin; read from public/ in Node). */
export async function builtinDataset(name: string, seed: number): Promise<Dataset> {
  if (SHIPPED[name]) return shippedPart(name, 'train');
  const b = BUILTIN[name];
  if (!b) throw new Error(`unknown built-in dataset '${name}' (have ${[...Object.keys(BUILTIN), ...Object.keys(SHIPPED)].join(', ')})`);
  return b.make(seed);
}

/** Resizes / converts channels so the images match the model (as the CLI does). */
export function fitToModel(ds: Dataset, model: DiTConfig, progress: Progress): { ds: Dataset; resizedFrom?: string } {
  if (ds.C === model.C && ds.H === model.H && ds.W === model.W) return { ds };
  progress(`resizing ${ds.count} images to ${model.C}×${model.H}×${model.W}`, null);
  return { ds: resizeDataset(ds, model.H, model.W, { C: model.C }), resizedFrom: `${ds.C}×${ds.H}×${ds.W}` };
}

/** A shipped set's part: fetched from the page's own origin (Vite serves public/ at its base URL); read from public/ in Node. */
export async function shippedPart(name: string, part: 'train' | 'heldOut'): Promise<Dataset> {
  const base = (import.meta as { env?: { BASE_URL?: string } }).env?.BASE_URL;
  if (base !== undefined) return loadShipped(name, fetchAsset(base), part);
  return (await import('../data/shippedNode')).loadShippedNode(name, part);
}

export function describeDataset(ds: Dataset, resizedFrom?: string): DatasetInfo {
  return { name: ds.name, count: ds.count, C: ds.C, H: ds.H, W: ds.W, numClasses: ds.numClasses, classNames: ds.classNames, resizedFrom };
}

/** N images spread over the set (every count/N-th), so the preview shows its variety. */
export function previewImages(ds: Dataset, N: number): ImageSet {
  const n = Math.min(N, ds.count);
  const per = ds.C * ds.H * ds.W;
  const pixels = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    const j = Math.floor((i * ds.count) / n + (ds.count / n) * 0.37) % ds.count;
    pixels.set(ds.images.subarray(j * per, (j + 1) * per), i * per);
  }
  return { N: n, C: ds.C, H: ds.H, W: ds.W, pixels };
}

/** A run's dataset, kept while the next build asks for the same one (name, files or seed, image shape). */
export class RunData {
  current: { key: string; ds: Dataset; info: DatasetInfo } | null = null;

  async get(config: Config, files: File[], progress: Progress): Promise<{ ds: Dataset; info: DatasetInfo }> {
    const model = toTrainConfig(config).model;
    const custom = config.dataset === CUSTOM_DATASET;
    if (custom && files.length === 0) throw new Error('the custom dataset has no files: drop CIFAR-10 or IDX files on the page (or pick them) first');
    const key = JSON.stringify([config.dataset, custom ? files.map((f) => [f.name, f.size, f.lastModified]) : config.seed, model.C, model.H, model.W]);
    if (this.current?.key === key) return this.current;
    this.current = null; // free the old images before making new ones
    let raw: Dataset;
    if (custom) raw = await userDataset(files, progress);
    else {
      progress(`drawing ${config.dataset}`, null);
      raw = await builtinDataset(config.dataset, config.seed);
    }
    const { ds, resizedFrom } = fitToModel(raw, model, progress);
    this.current = { key, ds, info: describeDataset(ds, resizedFrom) };
    return this.current;
  }
}
