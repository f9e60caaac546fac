// A training run that survives its device: owns the Gpu and the Trainer, checks the adapter's
// limits before allocating, keeps the latest checkpoint (safetensors bytes) in memory every N
// steps and hands it to a CheckpointStore (autosave). When the device is lost (driver reset,
// backgrounded tab, device.destroy()) it acquires a new one, rebuilds the Trainer, restores the
// latest checkpoint (parameters, EMA, Adam moments, step count, data and noise streams) and goes on.
// Everything that happens is reported as a SessionEvent, for the UI to show.

import { acquireDevice } from '../gpu/device';
import { Gpu, GpuLostError } from '../gpu/runtime';
import type { DiTConfig } from '../model/config';
import type { Dataset } from '../data/dataset';
import { configFromMetadata, runMetadata, trainConfigOfCheckpoint } from '../config/metadata';
import type { Config } from '../config/keys';
import { loadCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint';
import { assertWithinLimits, limitsOf } from './limits';
import type { CheckpointStore } from './store';
import { Trainer, type NonFiniteEvent, type StepRecord, type TrainConfig } from './trainer';

export type SessionEvent =
  /** An in-memory checkpoint was taken (a read-back of parameters, EMA and Adam state). */
  | { type: 'checkpoint'; step: number; bytes: number }
  | { type: 'autosave'; step: number; key: string; bytes: number }
  | { type: 'autosave-failed'; step: number; key: string; message: string }
  /** The device is gone; `step` is the last step submitted to it. */
  | { type: 'device-lost'; step: number; reason: string; message: string }
  /** Training continues on a new device from the checkpoint of step `restoredFrom` ("device lost at step lostAt, restored from step restoredFrom"). */
  | { type: 'restored'; lostAt: number; restoredFrom: number; attempt: number }
  /** A non-finite loss / gradient, and what the policy did (rolled back or stopped). */
  | { type: 'non-finite'; event: NonFiniteEvent }
  /** The run stopped on a non-finite value: further steps throw CollapseError. */
  | { type: 'collapse'; step: number; quantity: string };

/** A distillation teacher: checkpoint bytes, or a key in a store (the session's store by default). */
export type TeacherSource = { bytes: Uint8Array; name?: string } | { key: string; store?: CheckpointStore };

export interface SessionOptions {
  /** Steps between in-memory checkpoints (each reads back 4 parameter-sized buffers). Default 100. */
  checkpointEvery?: number;
  /** Autosave target; none: checkpoints stay in memory. */
  store?: CheckpointStore | null;
  /** This run's key in the store. Default 'autosave'. */
  autosaveKey?: string;
  /** Steps between autosaves, rounded up to a checkpoint. Default: every checkpoint. */
  autosaveEvery?: number;
  onEvent?: (e: SessionEvent) => void;
  /** How a device is obtained, first and after a loss. Default: `new Gpu(await acquireDevice())`. */
  acquire?: () => Promise<Gpu>;
  /**
   * A device to start on, shared with its owner (e.g. a worker that keeps one device across runs,
   * so pipelines stay compiled): dispose() frees only this run's buffers on it. Devices acquired
   * after a loss belong to the session.
   */
  gpu?: Gpu;
  /** Give up after this many device losses (within `recoveryWindowMs`, when set). Default 3. */
  maxRecoveries?: number;
  /** Count only the losses of the last this-many milliseconds towards `maxRecoveries`. Default: every loss. */
  recoveryWindowMs?: number;
  teacher?: TeacherSource | null;
  /** Initial parameters (e.g. a student starting from its teacher). */
  initParams?: Float32Array;
  /** Initial state (parameters, optimizer, step; streams when `resume` is set), e.g. a CLI --init checkpoint. */
  initState?: CheckpointState;
  /** The declared config the run was built from, recorded in every checkpoint (default: read back from the TrainConfig). */
  config?: Config;
  /** The writer's own extras in every checkpoint's `run` metadata (e.g. the CLI's target step). */
  run?: Record<string, unknown>;
  /** Refuse runs whose buffers add up to more than this (bytes). */
  budgetBytes?: number;
  /** Preset name for limit messages. */
  presetName?: string;
}

/** A teacher checkpoint that is missing or cannot be loaded. */
export class TeacherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TeacherError';
  }
}

/** Reads a teacher checkpoint (EMA weights when present) with a message naming what is wrong. */
export async function loadTeacher(src: TeacherSource, fallbackStore?: CheckpointStore | null): Promise<{ cfg: DiTConfig; params: Float32Array }> {
  let bytes: Uint8Array;
  let name: string;
  if ('bytes' in src) {
    bytes = src.bytes;
    name = src.name ?? 'teacher';
  } else {
    const store = src.store ?? fallbackStore;
    name = src.key;
    if (!store) throw new TeacherError(`the run names teacher checkpoint '${src.key}' but has no checkpoint store to load it from`);
    const b = await store.load(src.key);
    if (!b) {
      const have = await store.list().catch(() => [] as string[]);
      throw new TeacherError(`teacher checkpoint '${src.key}' is not in the store (have: ${have.length ? have.join(', ') : 'nothing'}); train an 'fm' teacher first or pick another`);
    }
    bytes = b;
  }
  try {
    const st = loadCheckpoint(bytes);
    return { cfg: st.model, params: st.ema ?? st.params };
  } catch (e) {
    throw new TeacherError(`teacher checkpoint '${name}' cannot be loaded: ${(e as Error).message}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class TrainingSession {
  private _gpu!: Gpu;
  private _trainer!: Trainer;
  private latest: { step: number; bytes: Uint8Array } | null = null;
  private lastAutosave = -1;
  private seenNonFinite = 0;
  private collapseReported = false;
  private recoveries = 0;
  /** When each loss was recovered from (ms), for `recoveryWindowMs`. */
  private lossTimes: number[] = [];
  private disposed = false;
  private ownsGpu = true;
  private lock: Promise<unknown> = Promise.resolve();
  private stale = false;
  private teacher: { cfg: DiTConfig; params: Float32Array } | null = null;
  /** Every event so far, in order. */
  readonly events: SessionEvent[] = [];

  private constructor(
    readonly cfg: TrainConfig,
    readonly data: Dataset,
    readonly opts: SessionOptions,
  ) {}

  /**
   * Acquires a device, checks the run against its limits (LimitError, before any allocation),
   * loads the teacher (TeacherError), builds the Trainer and takes the step-0 checkpoint.
   */
  static async create(cfg: TrainConfig, data: Dataset, opts: SessionOptions = {}): Promise<TrainingSession> {
    return TrainingSession.open(cfg, data, opts, null);
  }

  /**
   * Continues a run from checkpoint bytes (e.g. `store.load(key)`): the config comes from its
   * metadata unless `cfg` is given; it must be for the same model. The step count, data and
   * noise streams continue where the checkpoint left them.
   */
  static async resume(bytes: Uint8Array, data: Dataset, opts: SessionOptions & { cfg?: TrainConfig } = {}): Promise<TrainingSession> {
    const st = loadCheckpoint(bytes, opts.cfg?.model);
    const cfg = opts.cfg ?? trainConfigOfCheckpoint(st.run, st.model);
    return TrainingSession.open(cfg, data, opts, st);
  }

  private static async open(cfg: TrainConfig, data: Dataset, opts: SessionOptions, state: CheckpointState | null): Promise<TrainingSession> {
    const s = new TrainingSession(cfg, data, opts);
    state ??= opts.initState ?? null;
    if (opts.teacher) s.teacher = await loadTeacher(opts.teacher, opts.store);
    if (opts.gpu) {
      if (opts.gpu.lost) throw opts.gpu.lost;
      s._gpu = opts.gpu;
      s.ownsGpu = false;
      s.watch(opts.gpu);
    } else s._gpu = await s.acquire();
    try {
      await assertWithinLimits(cfg, limitsOf(s._gpu), { teacher: s.teacher?.cfg, budgetBytes: opts.budgetBytes, presetName: opts.presetName });
      s.build(state?.params ?? opts.initParams);
      if (state) {
        s._trainer.loadState(state);
        s.lastAutosave = state.step; // that state is already where it came from
      }
      await s.checkpoint();
    } catch (e) {
      s.dispose();
      throw e;
    }
    return s;
  }

  /** The autosave under `key` in `store`, resumed; null when there is none. */
  static async resumeFromStore(store: CheckpointStore, key: string, data: Dataset, opts: SessionOptions & { cfg?: TrainConfig } = {}): Promise<TrainingSession | null> {
    const bytes = await store.load(key);
    if (!bytes) return null;
    return TrainingSession.resume(bytes, data, { ...opts, store, autosaveKey: key });
  }

  get gpu(): Gpu {
    return this._gpu;
  }
  get trainer(): Trainer {
    return this._trainer;
  }
  /** Optimizer steps taken. */
  get step(): number {
    return this._trainer.step;
  }
  /** The step of the in-memory checkpoint a device loss would restore. */
  get checkpointStep(): number | null {
    return this.latest?.step ?? null;
  }
  /** The latest in-memory checkpoint's bytes (what autosave writes). */
  get checkpointBytes(): Uint8Array | null {
    return this.latest?.bytes ?? null;
  }

  private emit(e: SessionEvent): void {
    this.events.push(e);
    this.opts.onEvent?.(e);
  }

  private async acquire(): Promise<Gpu> {
    const gpu = this.opts.acquire ? await this.opts.acquire() : new Gpu(await acquireDevice());
    this.ownsGpu = true;
    this.watch(gpu);
    return gpu;
  }

  /** Reports a loss the moment it happens (recovery waits for the next call). */
  private watch(gpu: Gpu): void {
    gpu.device.lost.then((info) => {
      if (this.disposed || gpu !== this._gpu) return;
      this.emit({ type: 'device-lost', step: this._trainer?.step ?? 0, reason: info.reason ?? 'unknown', message: info.message });
    });
  }

  /** Lets go of the current device: destroyed when the session owns it, else only this run's buffers are freed. */
  private releaseGpu(): void {
    try {
      if (this.ownsGpu) this._gpu?.destroy();
      else if (!this._gpu.lost) this._trainer?.dispose();
    } catch {
      // already gone
    }
  }

  private build(initParams?: Float32Array): void {
    this._trainer = new Trainer(this._gpu, this.cfg, this.data, { params: initParams, teacher: this.teacher ?? undefined });
    this.seenNonFinite = 0;
  }

  /** Runs `fn` after every earlier session call has finished (steps, drains, recovery never interleave). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  /** Is `e` (an error from a step, drain or read-back) a loss of the current device? */
  async isLost(e: unknown): Promise<boolean> {
    if (e instanceof GpuLostError || this._gpu.lost) return true;
    // A failed map can come before the device's lost promise settles.
    await Promise.race([this._gpu.device.lost, sleep(50)]);
    return this._gpu.lost !== null;
  }

  private report(): void {
    const tr = this._trainer;
    for (; this.seenNonFinite < tr.nonFiniteEvents.length; this.seenNonFinite++) this.emit({ type: 'non-finite', event: tr.nonFiniteEvents[this.seenNonFinite] });
    if (tr.collapse && !this.collapseReported) {
      this.collapseReported = true;
      this.emit({ type: 'collapse', ...tr.collapse });
    }
  }

  /**
   * One optimizer step (plus a checkpoint / autosave when due). Returns the metrics read back by
   * this call (often none). After a device loss it recovers and returns [] with the step count
   * of the restored checkpoint. Throws CollapseError once the run has stopped on a non-finite value.
   */
  stepOnce(): Promise<StepRecord[]> {
    return this.guarded(async () => {
      const recs = await this._trainer.stepOnce();
      const every = this.opts.checkpointEvery ?? 100;
      if (this._trainer.step % every === 0 && this._trainer.step !== this.latest?.step) recs.push(...(await this.checkpoint()));
      return recs;
    });
  }

  /** Runs `f` exclusively on an open session and reports; a lost device is recovered instead (no records). */
  private guarded(f: () => Promise<StepRecord[]>): Promise<StepRecord[]> {
    return this.exclusive(async () => {
      this.assertOpen();
      try {
        const recs = await f();
        this.report();
        return recs;
      } catch (e) {
        if (!(await this.isLost(e))) throw e;
        await this.recoverNow();
        return [];
      }
    });
  }

  /** Up to n steps; returns their metrics (drained at the end). Stops early on a collapse. */
  async steps(n: number): Promise<StepRecord[]> {
    const out: StepRecord[] = [];
    for (let i = 0; i < n && !this._trainer.collapse; i++) out.push(...(await this.stepOnce()));
    out.push(...(await this.drain()));
    return out;
  }

  /** The metrics of steps not read back yet (see Trainer.drain); recovers from a device loss. */
  drain(): Promise<StepRecord[]> {
    return this.guarded(() => this._trainer.drain());
  }

  /** Re-acquires a device and restores the latest checkpoint now (the UI's "retry"). */
  recover(): Promise<void> {
    return this.exclusive(() => this.recoverNow());
  }

  private async recoverNow(): Promise<void> {
    this.assertOpen();
    const lostAt = this._trainer.step;
    const old = this._gpu;
    if (!old.lost) this.emit({ type: 'device-lost', step: lostAt, reason: 'unknown', message: 'the device stopped answering' });
    const now = Date.now();
    const win = this.opts.recoveryWindowMs;
    this.lossTimes = [...this.lossTimes.filter((t) => win === undefined || now - t < win), now];
    this.recoveries++;
    if (this.lossTimes.length > (this.opts.maxRecoveries ?? 3))
      throw new Error(
        `the GPU device was lost ${this.lossTimes.length} times${win === undefined ? '' : ` within ${Math.round(win / 1000)} s`}; giving up. ` +
          `The last checkpoint (step ${this.latest?.step ?? 0}) is in the autosave store, if one is set`,
      );
    this.releaseGpu();
    this._gpu = await this.acquire();
    const ck = this.latest;
    if (!ck) throw new Error('no checkpoint to restore from');
    const st = loadCheckpoint(ck.bytes, this.cfg.model);
    this.build(st.params);
    this._trainer.loadState(st);
    this.collapseReported = false;
    this.emit({ type: 'restored', lostAt, restoredFrom: st.step, attempt: this.recoveries });
  }

  /**
   * Takes a checkpoint now: drains the metrics first (a checkpoint is only taken of a state whose
   * steps all drained clean), reads back the state, keeps the bytes, autosaves when due.
   * Returns the drained records.
   */
  private async checkpoint(): Promise<StepRecord[]> {
    const tr = this._trainer;
    const recs = await tr.drain();
    if (tr.collapse || tr.nonFiniteEvents.length > this.seenNonFinite) return recs; // not a state to return to
    const bytes = await this.encode();
    this.latest = { step: tr.step, bytes };
    this.emit({ type: 'checkpoint', step: tr.step, bytes: bytes.length });
    const store = this.opts.store;
    const every = Math.max(this.opts.autosaveEvery ?? 1, 1);
    if (store && (this.lastAutosave < 0 || tr.step - this.lastAutosave >= every)) {
      const key = this.opts.autosaveKey ?? 'autosave';
      try {
        await store.save(key, bytes);
        this.lastAutosave = tr.step;
        this.emit({ type: 'autosave', step: tr.step, key, bytes: bytes.length });
      } catch (e) {
        this.emit({ type: 'autosave-failed', step: tr.step, key, message: (e as Error).message });
      }
    }
    return recs;
  }

  /** The trainer's current state as checkpoint bytes (parameters, EMA, Adam moments, step, streams). */
  private async encode(): Promise<Uint8Array> {
    const tr = this._trainer;
    const [params, ema, opt] = await Promise.all([tr.readParams('params'), tr.readParams('ema'), tr.readOptimizer()]);
    return saveCheckpoint({
      model: this.cfg.model,
      run: runMetadata(this.opts.config ?? configFromMetadata(this.cfg, this.cfg.model).config, this.data.name, this.opts.run),
      step: tr.step,
      params,
      ema,
      m: opt.m,
      v: opt.v,
      resume: tr.resumeState(),
    });
  }

  /**
   * Takes an in-memory checkpoint now unless the latest is of this step (e.g. on a pause, or after
   * the trainer's state was replaced by a loaded one). Returns the drained records and the step a
   * device loss would now restore.
   */
  checkpointNow(): Promise<{ records: StepRecord[]; step: number | null }> {
    return this.exclusive(async () => {
      this.assertOpen();
      const records = this.latestIsCurrent() ? [] : await this.checkpoint();
      this.stale = false;
      return { records, step: this.checkpointStep };
    });
  }

  /** The latest checkpoint holds the trainer's current state (same step, state not replaced since). */
  private latestIsCurrent(): boolean {
    return this.latest?.step === this._trainer.step && !this.stale;
  }

  /** The next checkpointNow() or save() takes a checkpoint even at the latest one's step (the trainer's state was replaced). */
  invalidateCheckpoint(): void {
    this.stale = true;
  }

  /** The current state as checkpoint bytes, clean or not (e.g. a download after a collapse); not a restore point. */
  snapshot(): Promise<Uint8Array> {
    return this.exclusive(async () => {
      this.assertOpen();
      return this.encode();
    });
  }

  /** A checkpoint of the current state (bytes), e.g. for a download; also becomes the restore point. */
  save(): Promise<Uint8Array> {
    return this.exclusive(async () => {
      this.assertOpen();
      // A pause already took this step's checkpoint (and the page's autosave asks right after): reuse it.
      if (!this.latestIsCurrent()) await this.checkpoint();
      this.stale = false;
      if (!this.latest || this.latest.step !== this._trainer.step) throw new Error(`no clean state to save at step ${this._trainer.step} (a non-finite step is pending)`);
      return this.latest.bytes;
    });
  }

  private assertOpen(): void {
    if (this.disposed) throw new Error('this training session was disposed');
  }

  /** Releases the device. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseGpu();
  }
}
