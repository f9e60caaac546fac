// The decisions behind autosave (src/ui/autosave.ts), as pure functions: when a run is due for a
// save, which saved set a page load looks at, whether it is applied or only offered, and how the
// metric series is thinned so a long run's autosave stays small.

import { METRIC_FIELDS, T_BINS, type MetricsChunk } from '../../worker/protocol';

export interface DueInput {
  /** autosaveEvery (0: off). */
  every: number;
  step: number;
  state: string;
  /** The step of the run's last autosave (or of the autosave it was restored from); -1 if none. */
  lastSaved: number;
  /** A save of this run is still on its way. */
  inFlight: boolean;
  /** A collapsed run keeps its last autosave from before the collapse. */
  collapsed: boolean;
}

/**
 * Every `every` steps while training; when paused, as soon as the step differs from the saved one
 * (a pause, a Step, a loaded checkpoint). A failed save also counts as saved for that step (the
 * caller sets lastSaved), so a paused run does not retry in a loop.
 */
export function autosaveDue(r: DueInput): boolean {
  if (r.every <= 0 || r.step <= 0 || r.inFlight || r.collapsed || r.step === r.lastSaved) return false;
  if (r.state === 'running') return r.step - Math.max(r.lastSaved, 0) >= r.every;
  return r.state === 'paused';
}

export interface SavedRun {
  slot: string;
  page: string;
  order: number;
  focused: boolean;
  step: number;
  saved: number;
  search: string;
}

/**
 * The set a page load considers: every slot written by the newest page load (one page's runs
 * belong together). Older pages' slots are stale: the caller deletes them. (Two tabs of the
 * playground open at once both autosave; a reload of either restores the newer one's set.)
 */
export function pickSet<T extends SavedRun>(all: T[]): { set: T[]; stale: T[] } {
  if (all.length === 0) return { set: [], stale: [] };
  const newest = all.reduce((a, b) => (b.saved > a.saved ? b : a)).page;
  return {
    set: all.filter((m) => m.page === newest).sort((a, b) => a.order - b.order),
    stale: all.filter((m) => m.page !== newest),
  };
}

/**
 * Whether a page load restores the autosaved set by itself ('apply'), only offers it ('offer'), or
 * has none ('none'). The address bar always carries the focused run's settings (store.ts syncUrl),
 * so a query string alone does not mean "a shared link". The rule:
 *  - no query string: nothing competes with the autosave; apply it.
 *  - the query string is the one this tab had when it was last hidden or left (`leftWith`, kept in
 *    sessionStorage, which survives a reload of the tab but not a new tab), or the one saved with
 *    the autosave: this is a reload of the autosaved page; apply it.
 *  - any other query string is an explicit shared link (or an edited address): the link wins, and the
 *    autosave is only offered (a Restore button), never applied over it.
 */
export function restoreDecision(search: string, leftWith: string | null, set: SavedRun[]): 'apply' | 'offer' | 'none' {
  if (set.length === 0) return 'none';
  const q = search === '?' ? '' : search;
  if (q === '') return 'apply';
  if (leftWith !== null && q === leftWith) return 'apply';
  const main = set.find((m) => m.focused) ?? set[0];
  return q === main.search ? 'apply' : 'offer';
}

/** "restored 2 runs from autosave at step 400, press Train to continue" (steps listed when they differ). */
export function restoredText(steps: number[]): string {
  const distinct = [...new Set(steps)];
  const at = distinct.length === 1 ? `step ${distinct[0]}` : `steps ${distinct.join(', ')}`;
  return `restored ${steps.length} run${steps.length === 1 ? '' : 's'} from autosave at ${at}, press Train to continue`;
}

/**
 * At most `max` rows of a metric chunk, evenly spread, the first and last kept (the loss plot and its
 * latest value survive). Shorter chunks are returned as they are. An autosave of a long run keeps
 * the curve's shape in a bounded size; the CSV export of a restored run then has the kept rows only.
 */
export function thinChunk(c: MetricsChunk, max: number): MetricsChunk {
  if (c.n <= max || max < 2) return c;
  const idx: number[] = [];
  for (let i = 0; i < max - 1; i++) idx.push(Math.floor((i * (c.n - 1)) / (max - 1)));
  idx.push(c.n - 1);
  const out = { n: idx.length, step: Float64Array.from(idx, (i) => c.step[i]) } as MetricsChunk;
  for (const k of METRIC_FIELDS) out[k] = Float32Array.from(idx, (i) => c[k][i]);
  const bins = (a: Float32Array) => {
    const b = new Float32Array(idx.length * T_BINS);
    idx.forEach((i, j) => b.set(a.subarray(i * T_BINS, (i + 1) * T_BINS), j * T_BINS));
    return b;
  };
  out.binCount = bins(c.binCount);
  out.binClamp = bins(c.binClamp);
  out.binG2 = bins(c.binG2);
  return out;
}
