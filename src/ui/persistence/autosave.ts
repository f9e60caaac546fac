// Autosave: every run that trains is saved in this browser (IndexedDB, one slot per run, overwritten
// each time so storage does not grow) every `autosaveEvery` steps and when it pauses, with its name,
// configs and metric series; a reload of the tab brings the runs back, paused at their saved step.
// The save is the worker's ordinary async 'save' request (answered between two steps), so training
// does not wait for it. The decisions are in autosavePolicy.ts; the named checkpoints of the
// "Save in browser" button are separate (idb.ts) and untouched by this.

import { CUSTOM_DATASET, defaultDatasetFor, type Config } from '../../config';
import { initFromUrl } from '../state/actions';
import { autosaveDue, pickSet, restoreDecision, restoredText, thinChunk } from './autosavePolicy';
import { deleteAutosaves, getAutosaveData, listAutosaves, patchAutosaves, putAutosave, type AutosaveMeta } from './idb';
import * as runner from '../state/runner';
import { getRun, newRun, patchRun, say, syncUrl, useStore, type PlaygroundState, type RunView } from '../state/store';

/** This page load; a reload is a new one (a restored run keeps its slot, but the set becomes this page's). */
const PAGE = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
/** sessionStorage: the query string this tab had when it was last hidden or left (see restoreDecision). */
const LEFT_WITH = 'facm-playground:left-with';
/** Metric rows kept per autosave (about 160 bytes a row): a long run's curve is thinned to this. */
const MAX_METRIC_ROWS = 20_000;

const slots = new Map<string, string>();
const lastSaved = new Map<string, number>();
const inFlight = new Set<string>();
/** Runs being restored: their step passes through 0 while the worker builds, which is not a reset. */
const restoring = new Set<string>();
let prev: PlaygroundState | null = null;
let lastError = '';
let installed = false;

const slotOf = (runId: string): string => {
  let s = slots.get(runId);
  if (!s) slots.set(runId, (s = `${PAGE}:${runId}`));
  return s;
};

function forget(runId: string): void {
  const had = lastSaved.has(runId) && lastSaved.get(runId)! > 0;
  const slot = slots.get(runId);
  lastSaved.delete(runId);
  slots.delete(runId);
  useStore.setState((s) => {
    if (!(runId in s.autosaved)) return {};
    const { [runId]: _, ...rest } = s.autosaved;
    return { autosaved: rest };
  });
  if (had && slot) void deleteAutosaves([slot]).catch(() => undefined);
}

/** Watches the store: saves runs that are due, forgets runs removed or reset. */
function check(s: PlaygroundState): void {
  const before = prev;
  prev = s;
  if (before) {
    const now = new Set(s.runs.map((r) => r.id));
    for (const r of before.runs) {
      if (!now.has(r.id)) forget(r.id);
    }
    for (const r of s.runs) {
      const old = before.runs.find((x) => x.id === r.id);
      // Back to step 0 by Reset or new settings: the autosave would bring back what was reset.
      // (Not when a lost device's worker is respawned: the autosave is then the way back.)
      if (old && old.step > 0 && r.step === 0 && !old.fatal && !restoring.has(r.id)) forget(r.id);
    }
  }
  for (const r of s.runs) {
    if (!runner.hasWorker(r.id) || restoring.has(r.id)) continue;
    const due = autosaveDue({
      every: r.config.autosaveEvery,
      step: r.step,
      state: r.state,
      lastSaved: lastSaved.get(r.id) ?? -1,
      inFlight: inFlight.has(r.id),
      collapsed: !!r.collapse || r.fatal,
    });
    if (due) void saveRun(r.id);
  }
}

async function saveRun(runId: string): Promise<void> {
  inFlight.add(runId);
  const asked = getRun(runId)?.step ?? 0;
  try {
    const { bytes, step, metrics } = await runner.save(runId);
    const s = useStore.getState();
    const order = s.runs.findIndex((r) => r.id === runId);
    const run = s.runs[order];
    if (!run) return; // removed meanwhile
    const meta: AutosaveMeta = {
      slot: slotOf(runId),
      page: PAGE,
      order,
      focused: s.focusId === runId,
      name: run.name,
      step,
      saved: Date.now(),
      bytes: bytes.length,
      config: run.config,
      applied: run.applied ?? run.config,
      search: location.search,
    };
    await putAutosave(meta, bytes, thinChunk(metrics, MAX_METRIC_ROWS));
    if (!getRun(runId)) return void deleteAutosaves([meta.slot]).catch(() => undefined);
    lastSaved.set(runId, step);
    useStore.setState((x) => ({ autosaved: { ...x.autosaved, [runId]: step } }));
    lastError = '';
  } catch (e) {
    lastSaved.set(runId, asked); // no retry loop at this step; the next due step tries again
    const text = `autosave failed: ${(e as Error).message}`;
    if (text !== lastError) say('warn', text);
    lastError = text;
  } finally {
    inFlight.delete(runId);
    check(useStore.getState()); // a pause may have come while this save was on its way
  }
}

/** Saves every run whose current step is not saved yet (the tab is being hidden). */
function saveAllNow(): void {
  for (const r of useStore.getState().runs) {
    if (!runner.hasWorker(r.id) || r.config.autosaveEvery <= 0 || r.step <= 0 || r.collapse || r.fatal) continue;
    if (!inFlight.has(r.id) && lastSaved.get(r.id) !== r.step) void saveRun(r.id);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
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
    saveAllNow();
  });
  addEventListener('pagehide', leaving);
}

/** On page load (after initFromUrl built the link's runs): restores the newest autosaved set, or offers it. */
export async function restoreOnLoad(search: string): Promise<void> {
  install();
  let all: AutosaveMeta[];
  try {
    all = await listAutosaves();
  } catch {
    return; // no IndexedDB: no autosave either (the manual Save says why)
  }
  const { set, stale } = pickSet(all);
  void deleteAutosaves(stale.map((m) => m.slot)).catch(() => undefined);
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

/** Replaces the page's runs by the autosaved set, each loaded into its own worker, paused. */
async function applySet(set: AutosaveMeta[]): Promise<void> {
  runner.removeAll();
  const runs = set.reduce((acc, m) => [...acc, newRun(m.name, runnable(m.applied), acc)], [] as RunView[]);
  const focus = Math.max(0, set.findIndex((m) => m.focused));
  runs.forEach((r, i) => {
    slots.set(r.id, set[i].slot);
    lastSaved.set(r.id, set[i].step);
    restoring.add(r.id);
  });
  useStore.setState({ runs, focusId: runs[focus].id, ablation: '', autosave: null, autosaved: Object.fromEntries(runs.map((r, i) => [r.id, set[i].step])) });
  syncUrl();
  // The set now belongs to this page load (a later reload looks for the newest page's set).
  await patchAutosaves(set.map((m) => ({ ...m, page: PAGE }))).catch(() => undefined);
  const done = await Promise.allSettled(
    set.map(async (m, i) => {
      const id = runs[i].id;
      try {
        const { bytes, metrics } = await getAutosaveData(m.slot);
        await runner.load(id, bytes, `autosave · step ${m.step}`, metrics);
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
  const set = pickSet((await listAutosaves()).filter((m) => want.has(m.slot))).set;
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
    const drop = useStore.getState().runs.filter((r) => own.has(slots.get(r.id) ?? ''));
    for (const r of drop) {
      lastSaved.delete(r.id); // deleted below, with the rest of the set
      slots.delete(r.id);
    }
    runner.removeAll();
    useStore.setState({ autosaved: {} });
    initFromUrl(location.search);
  }
  await deleteAutosaves(n.slots).catch((e) => say('error', `could not delete the autosave: ${(e as Error).message}`));
  say('info', 'autosave discarded');
}
