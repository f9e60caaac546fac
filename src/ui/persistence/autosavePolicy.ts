// The page's decisions about autosaves (src/ui/persistence/autosave.ts), as pure functions: which
// saved set a page load looks at, whether it is applied or only offered, and the notice's text.
// When a run is saved is the TrainingSession's (src/train/session.ts, autosaveEvery).

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
