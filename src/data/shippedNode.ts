// Node's reader for the data sets shipped under public/ (the CLI and tests): the same files the
// page fetches from its own origin, read from the repository's public/ folder.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadShipped, type ReadAsset } from './shipped';
import type { Dataset } from './dataset';

const PUBLIC = fileURLToPath(new URL('../../public/', import.meta.url));

export const readPublic: ReadAsset = async (path) => {
  try {
    return new Uint8Array(await readFile(PUBLIC + path));
  } catch (e) {
    throw new Error(`${PUBLIC + path}: ${(e as Error).message} (the shipped data sets live under public/; see src/data/shipped.ts for the command that makes them)`);
  }
};

export const loadShippedNode = (name: string, part: 'train' | 'heldOut' = 'train'): Promise<Dataset> => loadShipped(name, readPublic, part);
