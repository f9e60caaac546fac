// What the controls do: edits of the focused run's config (kept in the URL), runs added and removed,
// ablation presets, checkpoints (IndexedDB, download, upload) and the user's dataset files.

import { fileError } from '../../util/errors';
import { PRESETS, presetForData, presetHint } from '../../model/config';
import { ablationRuns, ABLATION_IDS, findAblation } from './ablations';
import { download } from '../persistence/exporters';
import { deleteCheckpoint, getCheckpoint, listCheckpoints, putCheckpoint } from '../persistence/idb';
import * as runner from './runner';
import { focused, getRun, newRun, patchRun, say, syncUrl, useStore } from './store';
import { CUSTOM_DATASET, defaultDatasetFor, defaultFor, KEYS, NO_TEACHER, presetDefaults, parseSearch, sameRun, UPLOADED_TEACHER, type Config, type Key } from '../../config';
import { BUILTIN } from '../../data/procedural';
import { SHIPPED } from '../../data/shipped';
import { hintsNeeded } from '../../train/foreign';
import { TEACHERS } from '../../data/teachers';
import { sha256Hex } from '../../data/shipped';
import { openTeacher, teacherMismatch } from '../../train/distill';
import { describeConfig } from '../../train/checkpoint';
import { askForeignHints } from '../widgets/ForeignDialog';

/** Builds the initial runs from the page's address: one run, or an ablation preset's set. */
export function initFromUrl(search: string): void {
  const { config, ablation, messages } = parseSearch(search, ABLATION_IDS);
  const runs = ablation ? ablationRuns(ablation, config).reduce((acc, r) => [...acc, newRun(r.name, r.config, acc)], [] as ReturnType<typeof newRun>[]) : [newRun(config.objective.toUpperCase(), config, [])];
  useStore.setState({ runs, focusId: runs[0].id, ablation });
  for (const m of messages) say('warn', m, 'url');
  syncUrl();
  void refreshCheckpoints();
}

export function setFocus(id: string): void {
  useStore.setState({ focusId: id });
  syncUrl();
}

/** An edit of the focused run's config; `by: 'app'` for edits the page makes itself (not the user's choice). */
export function updateConfig<K extends Key>(key: K, value: Config[K], by: 'user' | 'app' = 'user'): void {
  const s = useStore.getState();
  const run = focused(s);
  if (!run) return;
  const next = { ...run.config, [key]: value } as Config;
  // A new preset gets the built-in dataset of its image size (user files are resized instead).
  if (key === 'preset' && next.dataset !== CUSTOM_DATASET && (next.dataset in BUILTIN || next.dataset in SHIPPED)) next.dataset = defaultDatasetFor(String(value));
  // A shipped teacher brings its model and data; a model it is not drops it.
  const shipped = TEACHERS[next.teacher];
  if (key === 'teacher' && shipped) Object.assign(next, { preset: shipped.preset, dataset: next.dataset === CUSTOM_DATASET ? next.dataset : shipped.dataset });
  if (key === 'preset' && shipped && shipped.preset !== value) {
    next.teacher = NO_TEACHER;
    say('info', `${shipped.label} is a ${shipped.preset} model: the run no longer distils from it`);
  }
  // Settings left at the old preset's default follow the new one's (a points run's batch and t
  // sampler); a view setting among them changes for every run, as when it is set by hand.
  const views: Key[] = [];
  if (next.preset !== run.config.preset)
    for (const k of new Set([...Object.keys(presetDefaults(run.config.preset)), ...Object.keys(presetDefaults(String(value)))]) as Set<Key>)
      if (run.config[k] === defaultFor(k, run.config.preset) && run.config[k] !== defaultFor(k, next.preset))
        if (KEYS[k].group === 'run') (next as Record<string, unknown>)[k] = defaultFor(k, next.preset);
        else views.push(k);
  if (KEYS[key].group === 'view') {
    // What is shown applies to every run, at once.
    useStore.setState({ runs: s.runs.map((r) => ({ ...r, config: { ...r.config, [key]: value } })) });
    runner.applyView(next);
  } else {
    patchRun(run.id, { config: next, ...(key === 'preset' && by === 'user' && { presetPicked: true as const }) });
    if (s.ablation) useStore.setState({ ablation: '' }); // the set is no longer the preset's
  }
  syncUrl();
  for (const k of views) updateConfig(k, defaultFor(k, String(value)));
}

/** Edited run settings that the trainer does not use yet (they apply on Reset). */
export function pendingEdits(runId: string): boolean {
  const r = getRun(runId);
  return !!r && !!r.applied && r.step > 0 && !sameRun(r.config, r.applied);
}

export function addRun(): void {
  const s = useStore.getState();
  const base = focused(s);
  if (!base) return;
  const run = newRun(`${base.name} (copy)`, { ...base.config }, s.runs);
  useStore.setState({ runs: [...s.runs, run], focusId: run.id, ablation: '' });
  syncUrl();
}

export function removeRun(id: string): void {
  const s = useStore.getState();
  if (s.runs.length <= 1) return;
  runner.remove(id);
  const runs = s.runs.filter((r) => r.id !== id);
  useStore.setState({ runs, focusId: s.focusId === id ? runs[0].id : s.focusId, ablation: '' });
  syncUrl();
}

export function applyAblation(id: string): void {
  const s = useStore.getState();
  const base = focused(s);
  if (!base) return;
  runner.removeAll();
  // A click takes the preset's own step cap (a link's stopAt, read at load, wins there).
  const runs = ablationRuns(id, { ...base.config, stopAt: 0 }).reduce((acc, r) => [...acc, newRun(r.name, r.config, acc)], [] as ReturnType<typeof newRun>[]);
  useStore.setState({ runs, focusId: runs[0].id, ablation: id });
  syncUrl();
  for (const r of runs) runner.train(r.id);
  const a = findAblation(id)!;
  say('info', `${a.title}: ${runs.length} runs started on one dataset, each to step ${runs[0].config.stopAt} (“train all to step”).`);
}

export function togglePlay(id: string): void {
  const r = getRun(id);
  if (!r) return;
  if (r.state === 'running') runner.pause(id);
  else runner.train(id);
}

// ------------------------------------------------------------------ checkpoints

export async function refreshCheckpoints(): Promise<void> {
  try {
    useStore.setState({ checkpoints: await listCheckpoints() });
  } catch (e) {
    say('warn', `saved checkpoints unavailable: ${(e as Error).message}`);
  }
}

const stamp = () => new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');

export async function saveToBrowser(id: string): Promise<void> {
  const run = getRun(id);
  if (!run) return;
  try {
    const { bytes, step, metrics } = await runner.save(id);
    const cfg = run.applied ?? run.config;
    await putCheckpoint({ name: `${run.name} · ${cfg.preset} · step ${step}`, step, created: Date.now(), bytes: bytes.length, config: cfg }, bytes, metrics);
    await refreshCheckpoints();
    say('info', `saved ${run.name} at step ${step} in this browser`);
  } catch (e) {
    say('error', `save failed: ${(e as Error).message}`);
  }
}

export async function loadFromBrowser(ckId: number): Promise<void> {
  const run = focused(useStore.getState());
  if (!run) return;
  try {
    const { meta, bytes, metrics } = await getCheckpoint(ckId);
    await runner.load(run.id, bytes, meta.name, metrics);
    syncUrl();
    say('info', `loaded ${meta.name} into ${run.name}`);
  } catch (e) {
    say('error', `load failed: ${(e as Error).message}`);
  }
}

export async function removeCheckpoint(ckId: number): Promise<void> {
  await deleteCheckpoint(ckId).catch((e) => say('error', (e as Error).message));
  await refreshCheckpoints();
}

export async function downloadSaved(ckId: number): Promise<void> {
  const { meta, bytes } = await getCheckpoint(ckId);
  download(`facm-${meta.config.objective}-${meta.config.preset}-step${meta.step}.safetensors`, bytes, 'application/octet-stream');
}

export async function downloadCurrent(id: string): Promise<void> {
  const run = getRun(id);
  if (!run) return;
  try {
    const { bytes, step } = await runner.save(id);
    download(`facm-${run.config.objective}-${run.config.preset}-step${step}-${stamp()}.safetensors`, bytes, 'application/octet-stream');
  } catch (e) {
    say('error', `download failed: ${(e as Error).message}`);
  }
}

export async function uploadCheckpoint(file: File): Promise<void> {
  const run = focused(useStore.getState());
  if (!run) return;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    // A PyTorch DiT state_dict: its shapes do not tell the heads (nor, without pos_embed, the image size): ask.
    const need = hintsNeeded(bytes);
    const hints = need ? await askForeignHints(file.name, need) : undefined;
    if (hints === null) return say('info', `${file.name} not loaded`);
    await runner.load(run.id, bytes, file.name, null, hints);
    syncUrl();
    say('info', `loaded ${file.name} into ${run.name}`);
  } catch (e) {
    say('error', fileError(file.name, e).message);
  }
}

// ------------------------------------------------------------------ the user's dataset

/** Parses dropped / picked files in a worker; on success the focused run uses them. */
export async function takeDatasetFiles(files: File[]): Promise<void> {
  if (files.length === 0) return;
  if (files.length === 1 && /\.safetensors$/i.test(files[0].name)) return uploadCheckpoint(files[0]);
  const label = files.length === 1 ? files[0].name : `${files.length} files`;
  useStore.setState({ custom: { files, label, info: null, preview: null, progress: { stage: 'starting', fraction: 0 }, error: null } });
  const setProgress = (stage: string, fraction: number | null) =>
    useStore.setState((s) => (s.custom && s.custom.files === files ? { custom: { ...s.custom, progress: { stage, fraction } } } : {}));
  try {
    const { info, preview } = await runner.probeDataset(files, setProgress);
    useStore.setState((s) => (s.custom?.files === files ? { custom: { ...s.custom, info, preview, progress: null } } : {}));
    updateConfig('dataset', CUSTOM_DATASET);
    say('info', `${label}: ${info.name}, ${info.count.toLocaleString()} images ${info.C}×${info.H}×${info.W}; press Reset or Train to use it`);
    // Grey data on an RGB preset the user did not choose: switch to a preset with the data's channels.
    const run = focused(useStore.getState());
    const preset = run?.config.preset;
    const chosen = !!run && (!!run.presetPicked || run.loadedFrom !== null || preset !== KEYS.preset.default);
    const to = preset ? presetForData(info, preset, chosen) : null;
    if (to) {
      updateConfig('preset', to, 'app');
      const m = PRESETS[to].config;
      say('info', `${info.name} has ${info.C === 1 ? '1 channel' : `${info.C} channels`}: the model is now ${to} (${m.C}×${m.H}×${m.W}), so it trains a ${m.C === 1 ? 'one-channel' : `${m.C}-channel`} model; pick another preset under model to override.`);
    }
    const hint = preset && !to ? presetHint(info, preset) : null;
    if (hint) say('info', `${hint.replace(/ suits it better\.$/, ' suits it better (pick it under model).')}`);
  } catch (e) {
    useStore.setState((s) => (s.custom?.files === files ? { custom: { ...s.custom, progress: null, error: (e as Error).message } } : {}));
  }
}

// ------------------------------------------------------------------ distillation

/**
 * A teacher checkpoint from the user's disk: checked here (an FM teacher of this project, the focused
 * run's model and image size) so a wrong file is refused at once, with its name and what to do; then
 * the focused run distils from it. A link cannot carry it (the page says so).
 */
export async function uploadTeacher(file: File): Promise<void> {
  const run = focused(useStore.getState());
  if (!run) return;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const t = openTeacher(bytes, file.name);
    const why = teacherMismatch(t, run.config.preset, run.config.objective);
    if (why) throw new Error(why);
    useStore.setState({ teacherUpload: { name: file.name, bytes, sha256: await sha256Hex(bytes), summary: `${describeConfig(t.model)}, step ${t.step}` } });
    updateConfig('teacher', UPLOADED_TEACHER);
    say('info', `${file.name}: distilling from it; press Reset or Train to start`);
  } catch (e) {
    say('error', fileError(file.name, e).message);
  }
}
