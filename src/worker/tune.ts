// The worker's autotuning: before a run's first step on a device, the kernel variants are tuned on
// this adapter for the run's own shapes (src/ops/tune.ts, the same core as Node's bench) and the
// choice is kept in this browser's IndexedDB (./tuneStore.ts) under the adapter's identity. A page
// load with a warm cache times nothing; a new adapter (or a new TUNE_VERSION) times again, and so does
// the profile panel's Re-tune. The first tuning is cut at PAGE_BUDGET_MS (the shapes it did not reach
// keep the rule, and are stored so, so the next load does not time them either); a Re-tune asked for
// by the user gets RETUNE_BUDGET_MS.

import { GpuLostError, type Gpu } from '../gpu/runtime';
import type { DiTConfig } from '../model/config';
import { choiceRows, ditTuneItems, ensureTuned, type ChoiceRow, type TuneStore } from '../ops/tune';

export const PAGE_BUDGET_MS = 3000;
export const RETUNE_BUDGET_MS = 60_000;

/** What the profile panel shows: how the choices came about and the variant of each shape. */
export interface TuneView {
  /** The adapter key the choices are stored under. */
  adapter: string;
  /** Shapes timed now (0: the choices came from the cache, or nothing was tuned). */
  timed: number;
  /** Of those, how many the time budget left to the rule. */
  skipped: number;
  ms: number;
  /** Why nothing was tuned (no IndexedDB) or why tuning failed; the rule's choices then stand. */
  note: string | null;
  rows: ChoiceRow[];
}

export interface TuneOptions {
  retune?: boolean;
  /** Overrides the budget (tests). */
  budgetMs?: number;
}

export class RunTuner {
  /** store null: no cache to keep choices in (no IndexedDB), so nothing is timed. */
  constructor(
    private readonly store: TuneStore | null,
    private readonly progress: (stage: string, fraction: number | null) => void,
  ) {}

  /** Tunes (or applies the cached choices) for a DiT at batch B on `gpu`; returns what the panel shows. */
  async apply(gpu: Gpu, model: DiTConfig, B: number, opts: TuneOptions = {}): Promise<TuneView> {
    const view = (timed: number, skipped: number, ms: number, note: string | null, adapter = ''): TuneView => ({ adapter, timed, skipped, ms, note, rows: choiceRows(gpu, model, B) });
    if (!this.store) return view(0, 0, 0, 'this browser has no IndexedDB to keep tuned choices in: the untuned rule stands');
    try {
      const r = await ensureTuned(gpu, ditTuneItems(model, B), this.store, {
        retune: opts.retune,
        budgetMs: opts.budgetMs ?? (opts.retune ? RETUNE_BUDGET_MS : PAGE_BUDGET_MS),
        onItem: (done, total, item) => this.progress(`tuning the kernels on this adapter: ${item.label}`, done / total),
      });
      return view(r.timed, r.skipped, r.ms, null, r.record.adapter);
    } catch (e) {
      if (e instanceof GpuLostError) throw e;
      // Tuning is an optimisation: a failure leaves the rule's choices, and says so.
      return view(0, 0, 0, `tuning failed (${(e as Error).message}): the untuned rule stands`);
    } finally {
      this.progress('', 1);
    }
  }
}
