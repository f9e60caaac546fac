// The worker's part in autosave: the run's slot, the page's records kept beside each autosave (run
// name, order, focus, configs, address) and the run's metric series (the chunks posted to the page;
// steps undone by a rollback or a device loss are cut), thinned into each save. When to save is the
// TrainingSession's (autosaveEvery, and on a pause); the IndexedDB store is src/train/idbStore.ts.

import { IdbCheckpointStore } from '../train/idbStore';
import { Series, thinChunk, type MetricsChunk } from '../train/metrics';
import type { SessionOptions } from '../train/session';
import type { CheckpointStore } from '../train/store';
import type { StepRecord } from '../train/trainer';

/** Metric rows kept per autosave (about 160 bytes a row): a long run's curve is thinned to this. */
const MAX_METRIC_ROWS = 20_000;

export class RunAutosave {
  /** The run's slot (from the page); none: this run is not autosaved. */
  key: string | null = null;
  meta: Record<string, unknown> = {};
  series = new Series();

  constructor(readonly store: CheckpointStore = new IdbCheckpointStore()) {}

  /**
   * The session's autosave options: this slot every `every` steps (0: off), with the page's records
   * and the metric series up to the saved step (`unposted`: the rows not sent to the page yet).
   */
  options(every: number, unposted: (undelivered: StepRecord[]) => MetricsChunk): SessionOptions {
    if (!this.key || every <= 0) return { store: null };
    return {
      store: this.store,
      autosaveKey: this.key,
      autosaveEvery: every,
      autosaveBeside: (step, undelivered) => {
        const all = Series.of(this.series.toChunk());
        all.append(unposted(undelivered));
        return { meta: { ...this.meta, step }, data: { metrics: thinChunk(all.toChunk(), MAX_METRIC_ROWS) } };
      },
    };
  }

  /** The autosave in `key`: checkpoint bytes and the metric series saved with it. */
  async read(key: string): Promise<{ bytes: Uint8Array; metrics: MetricsChunk | null }> {
    const got = await this.store.loadWith?.(key);
    if (!got) throw new Error(`autosave ${key} is not in this browser's storage any more`);
    return { bytes: got.bytes, metrics: (got.metrics as MetricsChunk | undefined) ?? null };
  }
}
