// Node file-system CheckpointStore: one `<key>.safetensors` per key in a folder, written to a
// temporary name and renamed so a crash mid-write leaves the previous autosave intact.
// Node only (node:fs): the CLI imports it; nothing under src/train does, so it stays out of the page.

import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkKey, type CheckpointStore } from '../train/store';

const EXT = '.safetensors';

export class FsCheckpointStore implements CheckpointStore {
  constructor(readonly dir: string) {}

  path(key: string): string {
    return join(this.dir, checkKey(key) + EXT);
  }

  async save(key: string, bytes: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const final = this.path(key);
    const tmp = `${final}.tmp-${process.pid}`;
    await writeFile(tmp, bytes);
    await rename(tmp, final);
  }

  async load(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => f.endsWith(EXT)).map((f) => f.slice(0, -EXT.length));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
