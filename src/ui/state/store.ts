// The page's state (zustand): the runs and their status, the focused run, the user's dataset,
// saved checkpoints and messages. Metric series live in metrics.ts (transient updates); this store
// changes a few times a second at most (worker status), so components select small slices of it.

import { create } from 'zustand';
import type { AdapterReport } from '../../gpu/device';
import type { ProfileSummary } from '../../gpu/profile';
import type { TuneView } from '../../worker/tune';
import type { DatasetInfo, ImageSet, RunQuality, RunState, SampleSet, TeacherView } from '../../worker/protocol';
import { toSearch, type Config } from '../../config';
import type { CheckpointMeta } from '../persistence/idb';
import type { CompareBy } from './compare';

export interface RunView {
  id: string;
  name: string;
  color: string;
  /** What the controls show; applied on Train (before the first step) or Reset. */
  config: Config;
  /** The config the worker's trainer was built with (null: not built yet). */
  applied: Config | null;
  state: RunState | 'idle';
  step: number;
  stepsPerSec: number;
  imagesPerSec: number;
  memory: { buffers: number; bytes: number } | null;
  adapter: AdapterReport | null;
  params: number | null;
  flopsPerImage: number | null;
  dataset: DatasetInfo | null;
  progress: { stage: string; fraction: number | null } | null;
  error: string | null;
  /** The worker's device is gone: the next action respawns it. */
  fatal: boolean;
  collapse: { step: number; quantity: string } | null;
  /** Non-finite steps undone by onNonFinite = 'rollback'. */
  rollbacks: { step: number; quantity: string; restoredTo: number }[];
  samples: SampleSet | null;
  /** The latest FD / precision / recall of the run's samples (every qualityEvery steps). */
  quality: RunQuality | null;
  /** Every quality measurement of the run, oldest first (the FD-over-steps plot). */
  qualityHistory: RunQuality[];
  /** Distilling: the teacher's Euler-N grids and FD figures (the teacher-vs-student panel). */
  teacher: TeacherView | null;
  /** Recent sample sets, oldest first (state/compare.ts): runs are compared at a step they all have. */
  sampleHistory: SampleSet[];
  real: ImageSet | null;
  /** Where the weights came from, when loaded from a checkpoint. */
  loadedFrom: string | null;
  /** The user picked the preset in the controls: dropped data never switch it (presetForData). */
  presetPicked?: true;
  /** Device losses the worker recovered from (newest last). */
  recoveries: Recovery[];
  /** The last "Profile one step" of this run. */
  profile: ProfileView | null;
  /** The kernel variants the run's worker uses and how they were chosen (autotuning; pending: a Re-tune is running). */
  tune: (TuneView & { pending?: boolean }) | null;
}

export interface Recovery {
  lostAt: number;
  restoredFrom: number;
  reason: string;
  attempt: number;
}

export interface ProfileView {
  pending: boolean;
  step: number | null;
  /** null with `pending` false: the device has no timestamp-query (`features` lists what it has). */
  summary: ProfileSummary | null;
  features: string[];
  error: string | null;
}

export interface Message {
  id: number;
  kind: 'info' | 'warn' | 'error';
  text: string;
  /** Messages about the link stay until dismissed; others fade after a while. */
  source?: 'url';
}

export interface CustomData {
  files: File[];
  label: string;
  info: DatasetInfo | null;
  preview: ImageSet | null;
  progress: { stage: string; fraction: number | null } | null;
  error: string | null;
}

/** Autosaved runs found on page load: restored (with a Discard), or only offered (a shared link won). */
export interface AutosaveNotice {
  kind: 'restored' | 'offered';
  text: string;
  /** The IndexedDB slots of that set (autosave.ts). */
  slots: string[];
}

/** A teacher checkpoint the user uploaded (config.teacher 'uploaded'), checked on upload (src/train/distill.ts). */
export interface UploadedTeacher {
  name: string;
  bytes: Uint8Array;
  sha256: string;
  /** One line: the teacher's model and step. */
  summary: string;
}

export interface PlaygroundState {
  runs: RunView[];
  focusId: string;
  ablation: string;
  messages: Message[];
  custom: CustomData | null;
  checkpoints: CheckpointMeta[];
  /** The adapter the page itself sees (before any run has a device). */
  pageAdapter: string;
  smoothing: number;
  show: { total: boolean; fm: boolean; cm: boolean };
  autosave: AutosaveNotice | null;
  /** Per run id: the step of its latest autosave in this browser. */
  autosaved: Record<string, number>;
  teacherUpload: UploadedTeacher | null;
  /** The runs table and strips: runs read at the same step, or at the same wall-clock training time (./compare.ts). */
  compareBy: CompareBy;
}

/** Run colours. No red, and nothing near black: those mark collapses (panels/LossPanel.tsx, MARKS). */
export const PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#0891b2', '#ca8a04', '#92400e', '#db2777'];

let nextId = 1;
let nextMsg = 1;

export function newRun(name: string, config: Config, used: RunView[]): RunView {
  const taken = new Set(used.map((r) => r.color));
  return {
    id: `run${nextId++}`,
    name,
    color: PALETTE.find((c) => !taken.has(c)) ?? PALETTE[used.length % PALETTE.length],
    config,
    applied: null,
    state: 'idle',
    step: 0,
    stepsPerSec: 0,
    imagesPerSec: 0,
    memory: null,
    adapter: null,
    params: null,
    flopsPerImage: null,
    dataset: null,
    progress: null,
    error: null,
    fatal: false,
    collapse: null,
    rollbacks: [],
    samples: null,
    quality: null,
    qualityHistory: [],
    teacher: null,
    sampleHistory: [],
    real: null,
    loadedFrom: null,
    recoveries: [],
    profile: null,
    tune: null,
  };
}

export const useStore = create<PlaygroundState>(() => ({
  runs: [],
  focusId: '',
  ablation: '',
  messages: [],
  custom: null,
  checkpoints: [],
  pageAdapter: '',
  smoothing: 0.6,
  show: { total: true, fm: true, cm: true },
  autosave: null,
  autosaved: {},
  teacherUpload: null,
  compareBy: 'step',
}));

export const getRun = (id: string): RunView | undefined => useStore.getState().runs.find((r) => r.id === id);
export const focused = (s: PlaygroundState): RunView | undefined => s.runs.find((r) => r.id === s.focusId) ?? s.runs[0];

export function patchRun(id: string, patch: Partial<RunView> | ((r: RunView) => Partial<RunView>)): void {
  useStore.setState((s) => ({ runs: s.runs.map((r) => (r.id === id ? { ...r, ...(typeof patch === 'function' ? patch(r) : patch) } : r)) }));
}

export function say(kind: Message['kind'], text: string, source?: Message['source']): void {
  const id = nextMsg++;
  useStore.setState((s) => ({ messages: [...s.messages.filter((m) => m.text !== text), { id, kind, text, source }] }));
  if (kind === 'info') setTimeout(() => dismiss(id), 6000);
}

export function dismiss(id: number): void {
  useStore.setState((s) => ({ messages: s.messages.filter((m) => m.id !== id) }));
}

/** Keeps the address bar on the focused run's config (replaceState: no history entry per edit). */
export function syncUrl(): void {
  const s = useStore.getState();
  const run = focused(s);
  if (!run) return;
  const search = toSearch(run.config, s.ablation);
  const url = `${location.pathname}${search}${location.hash}`;
  if (url !== `${location.pathname}${location.search}${location.hash}`) history.replaceState(null, '', url);
}

export function shareUrl(): string {
  const s = useStore.getState();
  const run = focused(s);
  return `${location.origin}${location.pathname}${run ? toSearch(run.config, s.ablation) : ''}`;
}
