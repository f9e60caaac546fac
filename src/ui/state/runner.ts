// The page's side of the worker protocol: one Web Worker per run (see src/worker/session.ts for
// why), spawned on the run's first Train / Step, terminated when the run is removed or its device
// is lost. Worker messages become store patches and metric appends; requests (save, load) are promises.

import type { FromWorker, TeacherView, ToWorker } from '../../worker/protocol';
import { CUSTOM_DATASET, KEY_NAMES, KEYS, NO_TEACHER, sameRun, UPLOADED_TEACHER, type Config } from '../../config';
import { TEACHERS, teacherKey } from '../../data/teachers';
import { appendMetrics, clearMetrics, dropMetrics, restoreMetrics, seriesOf } from './metrics';
import { getRun, patchRun, say, useStore, type RunView } from './store';
import type { MetricsChunk } from '../../worker/protocol';
import { pushSample } from './compare';
import type { ForeignHints } from '../../train/foreign';

const workers = new Map<string, Worker>();
type Pending = { resolve: (m: FromWorker) => void; reject: (e: Error) => void };
const requests = new Map<number, Pending>();
let nextReq = 1;
/** The run's autosave message (slot and the page's records; persistence/autosave.ts), sent after each build. */
let autosaveOf: (id: string) => Extract<ToWorker, { type: 'autosave' }> | null = () => null;
let lastAutosaveError = '';

export function setAutosaveSource(f: typeof autosaveOf): void {
  autosaveOf = f;
}

/** Gives the run's worker its autosave slot and records (`now`: and save its current step). */
export function sendAutosave(id: string, now = false): void {
  const m = autosaveOf(id);
  if (m) post(id, { ...m, now });
}

/** A worker named for what it serves ('facm-run <run id>' or 'facm-probe'), as devtools list it. */
function spawn(name: string): Worker {
  return new Worker(new URL('../../worker/worker.ts', import.meta.url), { type: 'module', name });
}

function post(id: string, msg: ToWorker, transfer: Transferable[] = []): void {
  workers.get(id)?.postMessage(msg, transfer);
}

function filesFor(config: Config): File[] | undefined {
  return config.dataset === CUSTOM_DATASET ? useStore.getState().custom?.files : undefined;
}

/** A (re)build of run `id`: its config, the user's files and uploaded teacher where it uses them. */
function initMessage(id: string, config: Config): ToWorker {
  const up = useStore.getState().teacherUpload;
  const teacher = config.teacher === UPLOADED_TEACHER && up ? { bytes: up.bytes.slice(), name: up.name } : null;
  return { type: 'init', config, files: filesFor(config), teacher, measureTeacher: measuresTeacher(id, config) };
}

/** The teacher key of a run's config (null: no teacher, or an uploaded one that is gone). */
function keyOf(config: Config): string | null {
  if (config.teacher === NO_TEACHER) return null;
  const sha = config.teacher === UPLOADED_TEACHER ? useStore.getState().teacherUpload?.sha256 : TEACHERS[config.teacher]?.file.sha256;
  return sha ? teacherKey(sha, config) : null;
}

/** Runs with one teacher key show the same teacher figures: the first such run (in table order) measures them, the page shares them. */
function measuresTeacher(id: string, config: Config): boolean {
  const key = keyOf(config);
  const first = useStore.getState().runs.find((r) => keyOf(r.config) === key);
  return !first || first.id === id;
}

/** A run's teacher figures: its own, with the FD figures another run of the same key measured. */
function shareTeacher(from: string, view: TeacherView): void {
  for (const r of useStore.getState().runs) {
    if (r.teacher?.key !== view.key) continue;
    if (r.id === from) continue;
    patchRun(r.id, { teacher: { ...r.teacher, quality: view.quality } });
  }
}

/** The run's worker, spawned (and its trainer built from `config`) if it has none or lost its device. */
function ensure(id: string): { fresh: boolean } {
  const run = getRun(id);
  if (!run) throw new Error(`no run ${id}`);
  if (workers.has(id) && !run.fatal) return { fresh: false };
  workers.get(id)?.terminate();
  const w = spawn(`facm-run ${id}`);
  workers.set(id, w);
  w.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(id, ev.data);
  w.onerror = (ev) => {
    ev.preventDefault();
    patchRun(id, { state: 'error', error: `the worker failed: ${ev.message || 'could not load its script'}`, fatal: true });
  };
  patchRun(id, { state: 'starting', error: null, fatal: false, applied: run.config, step: 0, recoveries: [], profile: null });
  clearMetrics(id);
  post(id, initMessage(id, run.config));
  sendAutosave(id);
  return { fresh: true };
}

function onMessage(id: string, m: FromWorker): void {
  switch (m.type) {
    case 'status':
      patchRun(id, (r) => ({
        state: m.status.state,
        step: m.status.step,
        stepsPerSec: m.status.stepsPerSec,
        imagesPerSec: m.status.imagesPerSec,
        memory: m.status.memory,
        error: m.status.state === 'error' ? r.error : m.status.state === 'running' ? null : r.error,
      }));
      return;
    case 'progress':
      patchRun(id, { progress: m.stage ? { stage: m.stage, fraction: m.fraction } : null });
      return;
    case 'ready':
      patchRun(id, {
        adapter: m.info.adapter,
        params: m.info.params,
        flopsPerImage: m.info.flopsPerImage,
        dataset: m.info.dataset,
        real: m.info.real,
        applied: m.info.config,
        progress: null,
        collapse: null,
        rollbacks: [],
        recoveries: [],
        profile: null,
        samples: null,
        quality: null,
        qualityHistory: [],
        teacher: null,
        sampleHistory: [],
      });
      return;
    case 'metrics':
      appendMetrics(id, m.chunk);
      return;
    case 'samples':
      patchRun(id, (r) => ({ samples: m.samples, sampleHistory: pushSample(r.sampleHistory, m.samples) }));
      return;
    case 'quality':
      patchRun(id, (r) => ({ quality: m.quality, qualityHistory: [...r.qualityHistory.filter((q) => q.step < m.quality.step), m.quality] }));
      return;
    case 'teacher': {
      // A run that does not measure the teacher's FD keeps the figures another run of its key shared.
      const shared = useStore.getState().runs.find((r) => r.id !== id && r.teacher?.key === m.teacher.key && r.teacher.quality.some((q) => q));
      patchRun(id, { teacher: shared && !m.teacher.quality.some((q) => q) ? { ...m.teacher, quality: shared.teacher!.quality } : m.teacher });
      if (m.teacher.quality.some((q) => q)) shareTeacher(id, m.teacher);
      return;
    }
    case 'collapse': {
      patchRun(id, { collapse: { step: m.step, quantity: m.quantity } });
      const r = getRun(id);
      say('warn', `${r?.name ?? id} collapsed at step ${m.step}: ${m.quantity} became non-finite. Training stopped there (the parameters are those from before that step).`);
      return;
    }
    case 'rollback': {
      clearMetrics(id, m.restoredTo); // the steps after the restored state never happened
      patchRun(id, (r) => ({ rollbacks: [...r.rollbacks, { step: m.step, quantity: m.quantity, restoredTo: m.restoredTo }] }));
      say('warn', `${getRun(id)?.name ?? id}: ${m.quantity} became non-finite at step ${m.step}; rolled back to step ${m.restoredTo} and going on.`);
      return;
    }
    case 'recovered': {
      clearMetrics(id, m.restoredFrom); // the steps after the restored checkpoint never happened
      patchRun(id, (r) => ({ recoveries: [...r.recoveries, { lostAt: m.lostAt, restoredFrom: m.restoredFrom, reason: m.reason, attempt: m.attempt }], adapter: m.adapter }));
      say('warn', `${getRun(id)?.name ?? id}: ${recoveryText(m)}.`);
      return;
    }
    case 'error': {
      const req = takeRequest(m.req);
      if (req) {
        req.reject(new Error(m.message));
        return;
      }
      patchRun(id, (r) => ({ error: m.message, fatal: m.fatal || r.fatal }));
      return;
    }
    case 'autosaved': {
      if (m.error === undefined) useStore.setState((x) => ({ autosaved: { ...x.autosaved, [id]: m.step } }));
      else if (m.error !== lastAutosaveError) say('warn', `autosave failed: ${m.error}`);
      lastAutosaveError = m.error ?? '';
      return;
    }
    case 'tuned': {
      patchRun(id, { tune: m.tune });
      takeRequest(m.req)?.resolve(m); // a Re-tune's answer
      return;
    }
    case 'saved':
    case 'loaded':
    case 'profiled': {
      takeRequest(m.req)?.resolve(m);
      return;
    }
    default:
      return;
  }
}

/** The pending request a worker's answer names (removed: each is answered once); none for an unasked message. */
function takeRequest(req: number | undefined): Pending | undefined {
  if (req === undefined) return undefined;
  const r = requests.get(req);
  requests.delete(req);
  return r;
}

function request<T extends FromWorker>(id: string, make: (req: number) => ToWorker, transfer: Transferable[] = []): Promise<T> {
  const req = nextReq++;
  return new Promise<T>((resolve, reject) => {
    requests.set(req, { resolve: resolve as (m: FromWorker) => void, reject });
    post(id, make(req), transfer);
  });
}

// ------------------------------------------------------------------ commands

export function train(id: string): void {
  const run = getRun(id)!;
  const { fresh } = ensure(id);
  // Edits made before the first step apply now; later ones wait for Reset.
  if (!fresh && run.step === 0 && run.applied && !sameRun(run.config, run.applied)) rebuild(id);
  patchRun(id, { error: null });
  post(id, { type: 'start' });
}

export function pause(id: string): void {
  post(id, { type: 'pause' });
}

export function step(id: string, n = 1): void {
  ensure(id);
  post(id, { type: 'step', n });
}

function rebuild(id: string): void {
  const run = getRun(id)!;
  patchRun(id, { applied: run.config, step: 0, collapse: null, error: null, loadedFrom: null, samples: null, sampleHistory: [], qualityHistory: [], recoveries: [], profile: null });
  clearMetrics(id);
  post(id, initMessage(id, run.config));
  sendAutosave(id);
}

/** Back to step 0 with the controls' config (a fresh worker if the old one lost its device). */
export function reset(id: string): void {
  const run = getRun(id);
  if (!run) return;
  if (!workers.has(id) || run.fatal) {
    workers.get(id)?.terminate();
    workers.delete(id);
    patchRun(id, { state: 'idle', step: 0, applied: null, collapse: null, error: null, fatal: false, samples: null, sampleHistory: [], loadedFrom: null, recoveries: [], profile: null });
    clearMetrics(id);
    if (run.fatal) ensure(id);
    return;
  }
  rebuild(id);
}

/** View keys apply to every run without a reset. */
export function applyView(config: Config): void {
  for (const r of useStore.getState().runs) if (workers.has(r.id)) post(r.id, { type: 'view', config });
}

export async function save(id: string): Promise<{ bytes: Uint8Array; step: number; metrics: MetricsChunk }> {
  if (!workers.has(id)) throw new Error('nothing to save yet: train at least one step first');
  const m = await request<Extract<FromWorker, { type: 'saved' }>>(id, (req) => ({ type: 'save', req }));
  const metrics = seriesOf(id).toChunk();
  return { bytes: m.bytes, step: m.step, metrics };
}

/** Loads a checkpoint into a run (with the metric series saved with it, if any); the run adopts the config in the checkpoint's metadata. */
export function load(id: string, bytes: Uint8Array, name: string, metrics: MetricsChunk | null, hints?: ForeignHints): Promise<void> {
  ensure(id);
  return loaded(id, name, request(id, (req) => ({ type: 'load', req, bytes, name, hints, metrics }), [bytes.buffer as ArrayBuffer]));
}

/** Loads the autosave in `slot` into a run (its worker reads checkpoint and metrics from IndexedDB). */
export function restore(id: string, slot: string, name: string): Promise<void> {
  ensure(id);
  return loaded(id, name, request(id, (req) => ({ type: 'restore', req, key: slot, name })));
}

async function loaded(id: string, name: string, answer: Promise<Extract<FromWorker, { type: 'loaded' }>>): Promise<void> {
  const m = await answer;
  // The page's view keys stay (the worker's copy of them may be older than the page's).
  const view = Object.fromEntries(KEY_NAMES.filter((k) => KEYS[k].group === 'view').map((k) => [k, getRun(id)?.config[k] ?? m.config[k]]));
  patchRun(id, { config: { ...m.config, ...view }, applied: m.config, step: m.step, collapse: null, error: null, loadedFrom: name });
  // The metrics saved with it (IndexedDB) up to its step; an uploaded file starts a fresh plot.
  restoreMetrics(id, m.metrics ?? null);
  for (const n of m.notes) say('warn', `${name}: ${n}`);
}

/** "GPU device lost at step X (reason); restored from step Y on a new device" */
export function recoveryText(r: { lostAt: number; restoredFrom: number; reason: string }): string {
  return `GPU device lost at step ${r.lostAt} (${r.reason}); restored from step ${r.restoredFrom} on a new device`;
}

/** Per-kernel GPU time of the run's next step (a step is taken when paused); the result lands in the run's `profile`. */
export async function profile(id: string): Promise<void> {
  if (!workers.has(id) || getRun(id)?.fatal) throw new Error('nothing to profile yet: train at least one step first');
  patchRun(id, (r) => ({ profile: { pending: true, step: null, summary: r.profile?.summary ?? null, features: [], error: null } }));
  try {
    const m = await request<Extract<FromWorker, { type: 'profiled' }>>(id, (req) => ({ type: 'profile', req }));
    patchRun(id, { profile: { pending: false, step: m.step, summary: m.profile, features: m.features, error: null } });
  } catch (e) {
    patchRun(id, { profile: { pending: false, step: null, summary: null, features: [], error: (e as Error).message } });
  }
}

/** Times the kernel variants on this adapter again for the run's shapes; the result lands in the run's `tune`. */
export async function retune(id: string): Promise<void> {
  if (!workers.has(id) || getRun(id)?.fatal) throw new Error('no run to tune yet: start it first');
  patchRun(id, (r) => ({ tune: r.tune && { ...r.tune, pending: true } }));
  try {
    await request<Extract<FromWorker, { type: 'tuned' }>>(id, (req) => ({ type: 'retune', req }));
  } catch (e) {
    patchRun(id, (r) => ({ tune: r.tune && { ...r.tune, pending: false, note: `re-tuning failed: ${(e as Error).message}` } }));
  }
}

/**
 * Ends a run that is starting (building its trainer, checking memory, allocating) or stuck in its
 * first step: the worker is terminated, with its device, and the run goes back to idle.
 */
export function cancel(id: string): void {
  const run = getRun(id);
  workers.get(id)?.terminate();
  workers.delete(id);
  clearMetrics(id);
  patchRun(id, { state: 'idle', step: 0, applied: null, progress: null, collapse: null, error: null, fatal: false, samples: null, sampleHistory: [], recoveries: [], profile: null });
  if (run) say('info', `${run.name}: cancelled; its settings are kept, press Train to start again`);
}

export function remove(id: string): void {
  workers.get(id)?.terminate();
  workers.delete(id);
  dropMetrics(id);
}

export function removeAll(): void {
  for (const id of [...workers.keys()]) remove(id);
}

export function hasWorker(id: string): boolean {
  return workers.has(id);
}

/** Parses dropped files in a short-lived worker: dataset description and preview, or a clear error. */
export function probeDataset(files: File[], onProgress: (stage: string, fraction: number | null) => void): Promise<Extract<FromWorker, { type: 'probed' }>> {
  const w = spawn('facm-probe');
  return new Promise((resolve, reject) => {
    w.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      if (m.type === 'progress') onProgress(m.stage, m.fraction);
      else if (m.type === 'probed') {
        w.terminate();
        resolve(m);
      } else if (m.type === 'error') {
        w.terminate();
        reject(new Error(m.message));
      }
    };
    w.onerror = (ev) => {
      w.terminate();
      reject(new Error(`the data worker failed: ${ev.message}`));
    };
    w.postMessage({ type: 'probe', files } satisfies ToWorker);
  });
}

/** Runs whose worker exists (for "pause all" and teardown). */
export function activeRuns(): RunView[] {
  return useStore.getState().runs.filter((r) => workers.has(r.id));
}
