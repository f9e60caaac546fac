// Autosave, the page's part. Every run that trains is saved in this browser by its own worker: the
// TrainingSession writes its checkpoint to IndexedDB (src/train/idbStore.ts, one slot per run,
// overwritten so storage does not grow) every `autosaveEvery` steps and on pause, with the records
// this module gives it (run name, order, focus, configs, address) and its metric series beside it;
// a reload of the tab brings the runs back, paused at their saved step. This module names the slots,
// keeps the records current, forgets removed or reset runs and makes the restore decision
// (autosavePolicy.ts). Autosaves written by the page itself (before the worker saved them) have the
// same records, and load as they are. The named checkpoints of "Save in browser" are idb.ts's.

import { CUSTOM_DATASET, defaultDatasetFor, type Config } from '../../config';
import { IdbCheckpointStore } from '../../train/idbStore';
import { initFromUrl } from '../state/actions';
import { pickSet, restoreDecision, restoredText, type SavedRun } from './autosavePolicy';
import * as runner from '../state/runner';
import { newRun, patchRun, say, syncUrl, useStore, type PlaygroundState, type RunView } from '../state/store';

/** One run's autosave as listed (the weights and metrics stay in the store until a worker restores them). */
type Saved = SavedRun & { name: string; config: Config; applied: Config };

const store = new IdbCheckpointStore();
/** This page load; a reload is a new one (a restored run keeps its slot, but the set becomes this page's). */
const PAGE = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
/** sessionStorage: the query string this tab had when it was last hidden or left (see restoreDecision). */
const LEFT_WITH = 'facm-playground:left-with';

const slots = new Map<string, string>();
/** The records last sent to each run's worker (JSON), so unchanged ones are not sent again. */
const sent = new Map<string, string>();
/** Runs being restored: their step passes through 0 while the worker builds, which is not a reset. */
const restoring = new Set<string>();
let prev: PlaygroundState | null = null;
let installed = false;

const slotOf = (runId: string): string => {
  let s = slots.get(runId);
  if (!s) slots.set(runId, (s = `${PAGE}:${runId}`));
  return s;
};

/** The records the run's worker keeps beside its autosave (see Saved). */
function recordsOf(s: PlaygroundState, runId: string): Record<string, unknown> | null {
  const order = s.runs.findIndex((r) => r.id === runId);
  const run = s.runs[order];
  if (!run) return null;
  return { page: PAGE, order, focused: s.focusId === runId, name: run.name, config: run.config, applied: run.applied ?? run.config, search: location.search };
}

function forget(runId: string): void {
  const slot = slots.get(runId);
  slots.delete(runId);
  sent.delete(runId);
  useStore.setState((s) => {
    if (!(runId in s.autosaved)) return {};
    const { [runId]: _, ...rest } = s.autosaved;
    return { autosaved: rest };
  });
  if (slot) void store.delete(slot).catch(() => undefined);
}

/** Watches the store: forgets runs removed or reset, and keeps each worker's records current. */
function check(s: PlaygroundState): void {
  const before = prev;
  prev = s;
  if (before) {
    const now = new Set(s.runs.map((r) => r.id));
    for (const r of before.runs) if (!now.has(r.id)) forget(r.id);
    for (const r of s.runs) {
      const old = before.runs.find((x) => x.id === r.id);
      // Back to step 0 by Reset or new settings: the autosave would bring back what was reset.
      // (Not when a lost device's worker is respawned: the autosave is then the way back.)
      if (old && old.step > 0 && r.step === 0 && !old.fatal && !restoring.has(r.id)) forget(r.id);
    }
  }
  for (const r of s.runs) {
    const json = JSON.stringify(recordsOf(s, r.id));
    if (runner.hasWorker(r.id) && sent.get(r.id) !== json) runner.sendAutosave(r.id);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  runner.setAutosaveSource((id) => {
    const meta = recordsOf(useStore.getState(), id);
    if (!meta) return null;
    sent.set(id, JSON.stringify(meta));
    return { type: 'autosave', key: slotOf(id), meta };
  });
  useStore.subscribe((s) => check(s));
  // Best effort. Hidden (another tab, a minimised window): the workers live on, so this save
  // completes. On a reload or close, pagehide comes first and the page terminates the workers
  // (Playground.tsx), and an IndexedDB write begun during unload may never commit: what a reload
  // restores is then the last periodic or on-pause autosave (a transaction commits whole or not at
  // all, so a slot is never half-written). sessionStorage is synchronous, so the address is kept.
  const leaving = () => {
    try {
      sessionStorage.setItem(LEFT_WITH, location.search);
    } catch {
      /* storage disabled: a reload with a query string then only offers the autosave */
    }
  };
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'hidden') return;
    leaving();
    for (const r of useStore.getState().runs) if (runner.hasWorker(r.id) && r.step > 0 && !r.collapse && !r.fatal) runner.sendAutosave(r.id, true);
  });
  addEventListener('pagehide', leaving);
}

/** On page load (after initFromUrl built the link's runs): restores the newest autosaved set, or offers it. */
export async function restoreOnLoad(search: string): Promise<void> {
  install();
  let all: Saved[];
  try {
    all = (await store.entries()) as unknown as Saved[];
  } catch {
    return; // no IndexedDB: no autosave either (the manual Save says why)
  }
  const { set, stale } = pickSet(all);
  void store.delete(...stale.map((m) => m.slot)).catch(() => undefined);
  let leftWith: string | null = null;
  try {
    leftWith = sessionStorage.getItem(LEFT_WITH);
  } catch {
    /* no sessionStorage */
  }
  const decision = restoreDecision(search, leftWith, set);
  if (decision === 'none') return;
  // A run the user started while the database was read also wins over the autosave.
  if (decision === 'apply' && runner.activeRuns().length === 0) await applySet(set);
  else {
    const steps = set.map((m) => m.step);
    useStore.setState({
      autosave: {
        kind: 'offered',
        text: `An autosave of ${set.length} run${set.length === 1 ? '' : 's'} (step ${[...new Set(steps)].join(', ')}) is in this browser; this link's settings are shown instead.`,
        slots: set.map((m) => m.slot),
      },
    });
  }
}

function runnable(c: Config): Config {
  // The user's own files are not saved; such a run goes on with the built-in dataset of its size.
  return c.dataset === CUSTOM_DATASET ? { ...c, dataset: defaultDatasetFor(c.preset) } : c;
}

/**
 * Replaces the page's runs by the autosaved set, each restored by its own worker, paused. Each
 * worker then rewrites its slot with this page's records (the set now belongs to this page load:
 * a later reload looks for the newest page's set).
 */
async function applySet(set: Saved[]): Promise<void> {
  runner.removeAll();
  const runs = set.reduce((acc, m) => [...acc, newRun(m.name, runnable(m.applied), acc)], [] as RunView[]);
  const focus = Math.max(0, set.findIndex((m) => m.focused));
  runs.forEach((r, i) => {
    slots.set(r.id, set[i].slot);
    restoring.add(r.id);
  });
  useStore.setState({ runs, focusId: runs[focus].id, ablation: '', autosave: null, autosaved: Object.fromEntries(runs.map((r, i) => [r.id, set[i].step])) });
  syncUrl();
  const done = await Promise.allSettled(
    set.map(async (m, i) => {
      const id = runs[i].id;
      try {
        await runner.restore(id, m.slot, `autosave · step ${m.step}`);
        patchRun(id, (r) => ({ config: { ...runnable(m.config), autosaveEvery: r.config.autosaveEvery } }));
      } finally {
        restoring.delete(id);
      }
      return m.step;
    }),
  );
  syncUrl();
  const ok = done.flatMap((d) => (d.status === 'fulfilled' ? [d.value] : []));
  done.forEach((d, i) => d.status === 'rejected' && say('error', `${set[i].name}: the autosave could not be restored: ${(d.reason as Error).message}`));
  if (ok.length) useStore.setState({ autosave: { kind: 'restored', text: restoredText(ok), slots: set.map((m) => m.slot) } });
}

/** Restore button of an offered set: the page's runs are replaced by it. */
export async function restoreOffered(): Promise<void> {
  const n = useStore.getState().autosave;
  if (!n) return;
  const want = new Set(n.slots);
  const set = pickSet(((await store.entries()) as unknown as Saved[]).filter((m) => want.has(m.slot))).set;
  if (set.length === 0) {
    useStore.setState({ autosave: null });
    say('warn', 'that autosave is gone (deleted in another tab?)');
    return;
  }
  await applySet(set);
}

/**
 * Discard: the set's slots are deleted. A restored set's runs are dropped too, and the page starts
 * over from its address (the same settings, at step 0); an offered one just goes away.
 */
export async function discardAutosave(): Promise<void> {
  const n = useStore.getState().autosave;
  if (!n) return;
  useStore.setState({ autosave: null });
  if (n.kind === 'restored') {
    const own = new Set(n.slots);
    for (const r of useStore.getState().runs) if (own.has(slots.get(r.id) ?? '')) slots.delete(r.id); // deleted below, with the rest of the set
    runner.removeAll();
    useStore.setState({ autosaved: {} });
    initFromUrl(location.search);
  }
  await store.delete(...n.slots).catch((e) => say('error', `could not delete the autosave: ${(e as Error).message}`));
  say('info', 'autosave discarded');
}
