// Node's reader for the data sets shipped under public/ (the CLI and tests): the same files the
// page fetches from its own origin, read from the repository's public/ folder.

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadShipped, type ReadAsset } from './shipped';
import type { Dataset } from './dataset';

// (not `new URL('../../public/', import.meta.url)`: Vite would treat that as an asset of the page's build)
const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'public') + '/';

export const readPublic: ReadAsset = async (path) => {
  try {
    return new Uint8Array(await readFile(PUBLIC + path));
  } catch (e) {
    throw new Error(`${PUBLIC + path}: ${(e as Error).message} (the shipped data sets live under public/; see src/data/shipped.ts for the command that makes them)`);
  }
};

export const loadShippedNode = (name: string, part: 'train' | 'heldOut' = 'train'): Promise<Dataset> => loadShipped(name, readPublic, part);
