// The Node side of the autotuning cache (src/ops/tune.ts): one JSON file of tune records keyed by
// adapter, in $FACM_TUNE_FILE or $XDG_CACHE_HOME/facm-playground/tune.json (~/.cache by default).

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TuneRecord, TuneStore } from '../ops/tune';

export function defaultTuneFile(): string {
  if (process.env.FACM_TUNE_FILE) return process.env.FACM_TUNE_FILE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'facm-playground', 'tune.json');
}

export class FileTuneStore implements TuneStore {
  constructor(readonly file = defaultTuneFile()) {}

  private readAll(): Record<string, TuneRecord> {
    try {
      const all = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return all && typeof all === 'object' ? (all as Record<string, TuneRecord>) : {};
    } catch {
      return {}; // no file yet, or unreadable: tune again
    }
  }

  async load(adapter: string): Promise<TuneRecord | null> {
    return this.readAll()[adapter] ?? null;
  }

  async save(record: TuneRecord): Promise<void> {
    const all = this.readAll();
    all[record.adapter] = record;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(all, null, 1));
    renameSync(tmp, this.file); // a reader never sees half a file
  }
}
