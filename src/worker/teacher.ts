// The run's distillation teacher in the worker: which checkpoint (shipped, fetched from the page's
// own origin with its checksum checked, or the user's upload), checked against the run
// (src/train/distill.ts), and the teacher's side of the teacher-vs-student panel: its Euler-N
// samples from the run's grid noise for N in TEACHER_STEPS (drawn once per build), and their FD on
// the quality meter's noise, measured one N at a time between training steps so training never
// waits long. Both are kept per teacher key for the worker's life.

import type { Gpu, Tensor } from '../gpu/runtime';
import type { DiT, Params } from '../model/dit';
import { modelOnGpu } from '../model/gpu';
import { sampleEuler } from '../objectives/samplers';
import { objectiveSpec } from '../objectives/table';
import { fetchAsset, sha256Hex, type ReadAsset } from '../data/shipped';
import { loadShippedTeacher, shippedTeacher, teacherKey } from '../data/teachers';
import { openTeacher, teacherMismatch, type TeacherCheckpoint } from '../train/distill';
import { NO_TEACHER, objectiveConfig, UPLOADED_TEACHER, type Config } from '../config';
import type { QualityMeter } from './quality';
import type { ImageSet, TeacherView } from './protocol';

/** The teacher's Euler steps shown next to the student's NFE 1 and 2. */
export const TEACHER_STEPS = [1, 2, 4, 8, 16, 50];

export interface RunTeacher {
  /** The run's `teacher` key: a shipped id or 'uploaded'. */
  id: string;
  name: string;
  sha256: string;
  bytes: Uint8Array;
  ckpt: TeacherCheckpoint;
}

async function readAssets(): Promise<ReadAsset> {
  const base = (import.meta as { env?: { BASE_URL?: string } }).env?.BASE_URL;
  if (base !== undefined) return fetchAsset(base);
  return (await import('../data/shippedNode')).readPublic;
}

/** The run's teacher (null: from scratch), its file checked and matched to the run's model and objective. */
export async function resolveTeacher(config: Config, uploaded: { bytes: Uint8Array; name: string } | null): Promise<RunTeacher | null> {
  if (config.teacher === NO_TEACHER) return null;
  let bytes: Uint8Array;
  let name: string;
  if (config.teacher === UPLOADED_TEACHER) {
    if (!uploaded) throw new Error('this run distils from an uploaded teacher, but none is loaded here: upload its checkpoint under Distillation, or pick a shipped teacher');
    ({ bytes, name } = uploaded);
  } else {
    name = shippedTeacher(config.teacher).file.path;
    bytes = await loadShippedTeacher(config.teacher, await readAssets());
  }
  const ckpt = openTeacher(bytes, name);
  const why = teacherMismatch(ckpt, config.preset, config.objective);
  if (why) throw new Error(why);
  return { id: config.teacher, name, sha256: await sha256Hex(bytes), bytes, ckpt };
}

/** The panel's figures by teacher key, kept for the worker's life: a Reset or a rebuild of the same run does not compute them again. */
const CACHE = new Map<string, TeacherView>();

/** The teacher's flow as an ODE: the FM objective's own anchor branch, as `eval --euler` integrates it. */
const TEACHER_BRANCH = objectiveSpec('fm').anchor(objectiveConfig('fm')) ?? 'fm';

export class TeacherPanel {
  readonly view: TeacherView;
  private net: { gpu: Gpu; model: DiT<Tensor>; P: Params<Tensor>; buffer: GPUBuffer } | null = null;

  constructor(
    readonly teacher: RunTeacher,
    config: Config,
    /** Measure the FD per N here (false: another run with the same key does). */
    private readonly measure: boolean,
  ) {
    const key = teacherKey(teacher.sha256, config);
    const cached = CACHE.get(key);
    this.view = cached ?? { key, name: teacher.name, steps: TEACHER_STEPS, grids: [], quality: TEACHER_STEPS.map(() => null) };
    CACHE.set(key, this.view);
  }

  /** The teacher's Euler sampler on `gpu` (the run's device: a new one after a device loss). */
  private sampler(gpu: Gpu): (z: Float32Array, n: number, steps: number) => Promise<Float32Array> {
    if (this.net?.gpu !== gpu) {
      this.release();
      const { model, P, flat } = modelOnGpu(gpu, this.teacher.ckpt.model, this.teacher.ckpt.params, 'teacher (panel)');
      this.net = { gpu, model, P, buffer: flat.buffer };
    }
    const { model, P } = this.net;
    return (z, n, steps) => sampleEuler(model.be, model, P, z, n, steps, { branch: TEACHER_BRANCH });
  }

  /** Euler-N grids of the n images of noise z, for every N. */
  async drawGrids(gpu: Gpu, z: Float32Array, n: number): Promise<void> {
    if (this.view.grids.length === TEACHER_STEPS.length) return; // cached
    const { C, H, W } = this.teacher.ckpt.model;
    const sample = this.sampler(gpu);
    const grids: ImageSet[] = [];
    for (const N of TEACHER_STEPS) grids.push({ N: n, C, H, W, pixels: await sample(z, n, N) });
    this.view.grids = grids;
  }

  /** Is an FD still to be measured here? */
  get pending(): boolean {
    return this.measure && this.view.quality.some((q) => q === null);
  }

  /** Measures the FD of the next Euler-N not yet measured (one N: at most 50 network calls on the meter's images). */
  async measureNext(gpu: Gpu, meter: QualityMeter): Promise<void> {
    const i = this.view.quality.findIndex((q) => q === null);
    if (i < 0) return;
    const sample = this.sampler(gpu);
    this.view.quality[i] = await meter.figures((z, n) => sample(z, n, TEACHER_STEPS[i]));
    if (!this.pending) this.release();
  }

  private release(): void {
    if (!this.net) return;
    if (!this.net.gpu.lost) {
      this.net.model.dispose();
      this.net.gpu.destroyBuffer(this.net.buffer);
    }
    this.net = null;
  }

  dispose(): void {
    this.release();
  }
}
