// The typed message protocol between the page and a run's worker. The page sends configs and
// commands; the worker answers with status, metrics (columnar typed arrays, transferred), sample
// images (Float32 (N, C, H, W) in [−1, 1]) and checkpoint bytes. The page never sees a GPU buffer.

import type { MetricsChunk } from '../train/metrics';
import type { Fields, Trajectories } from '../objectives/probe2d';
import type { AdapterReport } from '../gpu/device';
import type { ProfileSummary } from '../gpu/profile';
import type { TuneView } from './tune';
import type { Config } from '../config';
import type { ForeignHints } from '../train/foreign';

// ------------------------------------------------------------------ page → worker

export type ToWorker =
  /** Build (or rebuild) the run: device on first use, dataset, trainer at step 0. `files`: the user's dataset. */
  | {
      type: 'init';
      config: Config;
      files?: File[];
      /** The user's teacher checkpoint (config.teacher 'uploaded'). */
      teacher?: { bytes: Uint8Array; name: string } | null;
      /** Measure the teacher's FD per Euler-N (false: another run with the same teacher key does, the page shares it). */
      measureTeacher?: boolean;
    }
  | { type: 'start' }
  | { type: 'pause' }
  | { type: 'step'; n: number }
  /** View keys only (sampleEvery, sampleWeights, euler): applied without a reset. */
  | { type: 'view'; config: Config }
  | { type: 'samples' }
  | { type: 'save'; req: number }
  /** Restores a checkpoint, adopting the config in its metadata (rebuilding the trainer if that differs).
   *  hints: what a PyTorch DiT checkpoint's shapes do not tell (heads, image size), as the page asked the user;
   *  metrics: the series saved with it (a checkpoint saved in the browser), kept for the run's autosaves. */
  | { type: 'load'; req: number; bytes: Uint8Array; name: string; hints?: ForeignHints; metrics?: MetricsChunk | null }
  /**
   * The run's autosave slot in this browser's IndexedDB and the page's records kept beside it (name,
   * order, focus, configs, address); sent before each build and when they change. `now`: save now.
   */
  | { type: 'autosave'; key: string; meta: Record<string, unknown>; now?: boolean }
  /** Loads the autosave in `key` (checkpoint and metric series), as 'load' does; answered by 'loaded' with the metrics. */
  | { type: 'restore'; req: number; key: string; name: string }
  /** GPU time per kernel of the next training step (one step is taken when paused); answered by 'profiled'. */
  | { type: 'profile'; req: number }
  /** Time the kernel variants on this adapter again for the run's shapes (src/worker/tune.ts); answered by 'tuned'. */
  | { type: 'retune'; req: number }
  /** Parse the user's dataset files and describe them (no run); answered by 'probed'. */
  | { type: 'probe'; files: File[] };

// ------------------------------------------------------------------ worker → page

export type RunState = 'starting' | 'ready' | 'running' | 'paused' | 'error';

export interface DatasetInfo {
  name: string;
  count: number;
  C: number;
  H: number;
  W: number;
  numClasses: number;
  classNames?: string[];
  /** Set when the images were resized / converted to the model's shape. */
  resizedFrom?: string;
}

/** Images (N, C, H, W), pixels in [−1, 1]. */
export interface ImageSet {
  N: number;
  C: number;
  H: number;
  W: number;
  pixels: Float32Array;
}

export interface SampleSet {
  step: number;
  weights: 'online' | 'ema';
  oneStep: ImageSet;
  twoStep: ImageSet;
  /** The FM anchor integrated with Euler (FM and FACM objectives), with its step count. */
  euler: (ImageSet & { steps: number }) | null;
  /** How far the samples are from the data (src/data/nearest.ts; point sets: sliced W2), with the two figures to read it against. */
  nearest: SampleDistances;
  /** Point sets (C 2, H = W = 1): the 2-D panels' data; the ImageSets above then hold (N, 2) points. */
  points2d?: Points2d;
  /** Wall-clock time the run had spent training when the grid was taken (ms; pauses and sampling excluded), for the "same wall-clock" comparison. */
  trainMs?: number;
}

/** The 2-D panels of a run on a point set (src/worker/points2d.ts). */
export interface Points2d {
  /** (n, 2) data points (drawn grey). */
  data: Float32Array;
  classes: number;
  /** Modes (classes) covered by each sampler's points (src/metrics/dist2d.ts coverage). */
  covered: { oneStep: number; twoStep: number; euler: number | null };
  trajectories: Trajectories;
  fields: Fields;
  /** (n, 2): x_t = t·x + (1 − t)·ε at the fields' t, for the data points above. */
  xt: Float32Array;
  /** The objective trains an FM anchor (else its Euler paths and v field are untrained). */
  anchor: boolean;
}

/**
 * Mean RMS-per-pixel distance of each grid's images to their nearest image among the first
 * (up to) 1024 of the dataset; `real`: the same for held-out real images (the floor), `noise`:
 * for the input noise itself (where a model that learned nothing stays).
 */
export interface SampleDistances {
  oneStep: number;
  twoStep: number;
  euler: number | null;
  real: number;
  noise: number;
}

// The metrics' columnar form is src/train/metrics.ts's (the worker and the CLI bin the same way).
export { METRIC_FIELDS, T_BINS, type MetricField, type MetricsChunk } from '../train/metrics';

/** FD / precision / recall of one set of images (src/metrics/quality.ts). */
export interface QualityFigures {
  fd: number;
  precision: number;
  recall: number;
  n: number;
}

/** The run's samples measured in the data set's feature space at `step`, with held-out real images and the input noise to read them against. */
export interface RunQuality {
  step: number;
  n: number;
  oneStep: QualityFigures;
  twoStep: QualityFigures;
  /** The FM branch's Euler samples (objectives that train an anchor, `euler` > 0), with the step count. */
  euler?: QualityFigures & { steps: number };
  real: QualityFigures;
  noise: QualityFigures;
}


/** The distillation teacher's side of the teacher-vs-student panel (src/worker/teacher.ts). */
export interface TeacherView {
  /** The teacher, the grids' noise and the quality meter (teacherKey): runs with one key show the same figures. */
  key: string;
  name: string;
  /** Euler steps of each column (= network calls). */
  steps: number[];
  /** Per column: the teacher's Euler-N samples from the run's grid noise (the student's grids start from it too). */
  grids: ImageSet[];
  /** Per column: FD / precision / recall on the quality meter's noise; null until measured. */
  quality: (QualityFigures | null)[];
}

export interface Status {
  state: RunState;
  /** Optimizer steps taken (submitted to the GPU). Stops the moment a pause is received. */
  step: number;
  stepsPerSec: number;
  imagesPerSec: number;
  /** Live GPU buffers of this run's device (pooled and persistent). */
  memory: { buffers: number; bytes: number } | null;
  message?: string;
}

export interface ReadyInfo {
  adapter: AdapterReport;
  params: number;
  flopsPerImage: number;
  dataset: DatasetInfo;
  real: ImageSet;
  /** The config the trainer was built with. */
  config: Config;
}

export type FromWorker =
  | { type: 'status'; status: Status }
  | { type: 'progress'; stage: string; fraction: number | null }
  | { type: 'ready'; info: ReadyInfo }
  | { type: 'metrics'; chunk: MetricsChunk }
  | { type: 'samples'; samples: SampleSet }
  | { type: 'quality'; quality: RunQuality }
  | { type: 'teacher'; teacher: TeacherView }
  | { type: 'collapse'; step: number; quantity: string }
  /** onNonFinite = 'rollback': step `step` went non-finite and the run went back to `restoredTo` (metrics after it are void). */
  | { type: 'rollback'; step: number; quantity: string; restoredTo: number }
  | { type: 'saved'; req: number; bytes: Uint8Array; step: number }
  | { type: 'loaded'; req: number; step: number; config: Config; notes: string[]; metrics?: MetricsChunk | null }
  /** The session autosaved step `step` (or failed to: `error`). */
  | { type: 'autosaved'; step: number; error?: string }
  | { type: 'probed'; info: DatasetInfo; preview: ImageSet }
  /**
   * The device was lost at step `lostAt` (`reason`: 'destroyed', 'unknown'); training goes on on a
   * new device (`adapter`) from the in-memory checkpoint of step `restoredFrom` (metrics after it are void).
   */
  | { type: 'recovered'; lostAt: number; restoredFrom: number; reason: string; attempt: number; adapter: AdapterReport }
  /** Per-kernel GPU time of step `step`; `profile` null: the device has no 'timestamp-query' (`features`: what it has). */
  | { type: 'profiled'; req: number; step: number; profile: ProfileSummary | null; features: string[] }
  /** The kernel variants in force after a build (req absent) or a 'retune', and how they were chosen. */
  | { type: 'tuned'; req?: number; tune: TuneView }
  /** `req` answers a save / load; `fatal`: the worker's device is gone, respawn it. */
  | { type: 'error'; message: string; req?: number; fatal: boolean };
