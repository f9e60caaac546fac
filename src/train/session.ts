// One job: a training run's lifecycle around its Trainer (which only steps). Owns the Gpu, checks the
// adapter's limits before allocating, applies the non-finite policy to every drained step ('stop':
// a marked collapse; 'rollback': back to the Trainer's GPU snapshot, at most maxRollbacks times),
// keeps the latest clean checkpoint (safetensors bytes) in memory, autosaves it to a
// CheckpointStore every `autosaveEvery` steps and on request, and loads a user's checkpoint. When the
// device is lost (driver reset, backgrounded tab, device.destroy()) it acquires a new one, rebuilds
// the Trainer, restores the latest checkpoint (parameters, EMA, Adam moments, step, data and noise
// streams) and goes on. Everything that happens is a SessionEvent, recorded once in `events`.

import { acquireDevice } from '../gpu/device';
import { Gpu, GpuLostError, type Tensor } from '../gpu/runtime';
import type { Backend } from '../ops/backend';
import type { DiTConfig } from '../model/config';
import type { Dataset } from '../data/dataset';
import { configFromMetadata, runMetadata, trainConfigOfCheckpoint } from '../config/metadata';
import type { Config } from '../config/keys';
import { loadCheckpoint, loadTeacher, saveCheckpoint, type CheckpointState, type TeacherSource } from './checkpoint';
import { assertWithinLimits, limitsOf, machineMemoryBudget } from './limits';
import type { Beside, CheckpointStore } from './store';
import { Trainer, type StepRecord, type TrainConfig } from './trainer';

export type SessionEvent =
  /** An in-memory checkpoint was taken (a read-back of parameters, EMA and Adam state). */
  | { type: 'checkpoint'; step: number; bytes: number }
  | { type: 'autosave'; step: number; key: string; bytes: number }
  | { type: 'autosave-failed'; step: number; key: string; message: string }
  /** The device is gone; `step` is the last step submitted to it. */
  | { type: 'device-lost'; step: number; reason: string; message: string }
  /** Training continues on a new device from the checkpoint of step `restoredFrom` ("device lost at step lostAt, restored from step restoredFrom"). */
  | { type: 'restored'; lostAt: number; restoredFrom: number; attempt: number; reason: string }
  /** A non-finite loss / gradient, and what the policy did: rolled back, or stopped (a collapse: further steps throw CollapseError). */
  | { type: 'non-finite'; event: NonFiniteEvent }
  /** Too many device losses: the run is over (every later call throws this message). */
  | { type: 'recovery-failed'; message: string };

/** One non-finite step: what went non-finite first, and what the policy did. */
export interface NonFiniteEvent {
  /** The optimizer step (1-based, as StepRecord.step) whose loss or gradient was non-finite. */
  step: number;
  /** The first non-finite quantity in computation order (StepRecord.nonFinite). */
  quantity: string;
  action: 'stopped' | 'rolled-back';
  /** Rollback: the step of the snapshot restored (the step count afterwards); null when stopped. */
  restoredTo: number | null;
}

export type Collapse = Pick<NonFiniteEvent, 'step' | 'quantity'>;

/** Thrown by `stepOnce` after a collapse under onNonFinite = 'stop' (or rollbacks exhausted). */
export class CollapseError extends Error {
  constructor(readonly collapse: Collapse) {
    super(
      `training stopped: ${collapse.quantity} became non-finite at step ${collapse.step}. The parameters are those from before that step. ` +
        `Lower the learning rate, keep the flow-matching anchor on, or set onNonFinite to 'rollback'.`,
    );
    this.name = 'CollapseError';
  }
}

export interface SessionOptions {
  /** Steps between in-memory checkpoints (each reads back 4 parameter-sized buffers). Default 100. */
  checkpointEvery?: number;
  /** Autosave target; none: checkpoints stay in memory. */
  store?: CheckpointStore | null;
  /** This run's key in the store. Default 'autosave'. */
  autosaveKey?: string;
  /** Steps between autosaves (a checkpoint is taken when one is due). Default: at every checkpoint. */
  autosaveEvery?: number;
  /** Autosave the first checkpoint (step 0, or the loaded state) too. Default true; the page's runs start at autosaveEvery. */
  autosaveFirst?: boolean;
  /** What the writer keeps beside each autosave (the page's run name, metrics, ...); `undelivered`: records drained by that checkpoint, not yet returned. */
  autosaveBeside?: (step: number, undelivered: StepRecord[]) => Beside;
  /** Recover from a device loss as soon as it is known (the worker, even while paused); default: at the next call. */
  recoverOnLoss?: boolean;
  onEvent?: (e: SessionEvent) => void;
  /** How a device is obtained, first and after a loss. Default: `new Gpu(await acquireDevice())`. */
  acquire?: () => Promise<Gpu>;
  /** The op backend on each device (default gpuBackend; tests/helpers/faults.ts wraps it to inject faults). */
  backend?: (gpu: Gpu) => Backend<Tensor>;
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
  /** Refuse runs whose buffers add up to more than this (bytes). Default: machineMemoryBudget(). */
  budgetBytes?: number;
  /** Where budgetBytes comes from, for the refusal's message. */
  budgetWhy?: string;
  /** Called once the run has passed the limit check, before its buffers are allocated (progress reports). */
  onAllocate?: () => void;
  /** Preset name for limit messages. */
  presetName?: string;
}

export class TrainingSession {
  private _gpu!: Gpu;
  private _trainer!: Trainer;
  private latest: { step: number; bytes: Uint8Array } | null = null;
  /** The step of the last autosave (-Infinity: none yet, the first checkpoint is due). */
  private lastAutosave: number;
  private _collapse: Collapse | null = null;
  /** Rollbacks to the Trainer's current snapshot (maxRollbacks). */
  private rollbacks = 0;
  /** When each loss was recovered from (ms), for `recoveryWindowMs`. */
  private lossTimes: number[] = [];
  private gaveUp: Error | null = null;
  private disposed = false;
  private ownsGpu = true;
  private lock: Promise<unknown> = Promise.resolve();
  /** The trainer's state was replaced (a load) since the latest checkpoint. */
  private stale = false;
  private teacher: { cfg: DiTConfig; params: Float32Array } | null = null;
  /** Every event so far, in order (the one record of non-finite steps, device losses, autosaves). */
  readonly events: SessionEvent[] = [];

  private constructor(
    readonly cfg: TrainConfig,
    readonly data: Dataset,
    private opts: SessionOptions,
  ) {
    const policy = cfg.onNonFinite ?? 'stop';
    if (policy !== 'stop' && policy !== 'rollback') throw new Error(`onNonFinite must be 'stop' or 'rollback', got '${String(policy)}'`);
    this.lastAutosave = opts.autosaveFirst === false ? 0 : -Infinity;
  }

  /**
   * Acquires a device, checks the run against its limits (LimitError, before any allocation),
   * loads the teacher (TeacherError), builds the Trainer and takes the step-0 checkpoint.
   */
  static async create(cfg: TrainConfig, data: Dataset, opts: SessionOptions = {}): Promise<TrainingSession> {
    return TrainingSession.open(cfg, data, opts, null);
  }

  /**
   * Continues a run from checkpoint bytes (e.g. an autosave, `store.load(key)`): the config comes from its
   * metadata unless `cfg` is given; it must be for the same model. The step count, data and
   * noise streams continue where the checkpoint left them.
   */
  static async resume(bytes: Uint8Array, data: Dataset, opts: SessionOptions & { cfg?: TrainConfig } = {}): Promise<TrainingSession> {
    const st = loadCheckpoint(bytes, opts.cfg?.model);
    return TrainingSession.open(opts.cfg ?? trainConfigOfCheckpoint(st.run, st.model), data, opts, st);
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
      // Buffers against the adapter's limits and the memory there is (the machine's unless a budget is given).
      const budget = opts.budgetBytes !== undefined ? { bytes: opts.budgetBytes, why: opts.budgetWhy ?? '' } : await machineMemoryBudget();
      await assertWithinLimits(cfg, limitsOf(s._gpu), { teacher: s.teacher?.cfg, budgetBytes: budget?.bytes, budgetWhy: budget?.why || undefined, presetName: opts.presetName });
      opts.onAllocate?.();
      s.build(state ?? { params: opts.initParams });
      if (state) s.lastAutosave = state.step; // that state is already where it came from
      await s.checkpoint();
    } catch (e) {
      s.dispose();
      throw e;
    }
    return s;
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
  /** Set when the run stopped on a non-finite value; `stepOnce` then throws CollapseError. */
  get collapse(): Collapse | null {
    return this._collapse;
  }
  /** Every non-finite step so far, in order (read from `events`). */
  get nonFinite(): NonFiniteEvent[] {
    return this.events.flatMap((e) => (e.type === 'non-finite' ? [e.event] : []));
  }
  /** The step of the in-memory checkpoint a device loss would restore. */
  get checkpointStep(): number | null {
    return this.latest?.step ?? null;
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

  /** Reports a loss the moment it happens; recovers then under `recoverOnLoss`, else at the next call. */
  private watch(gpu: Gpu): void {
    gpu.device.lost.then((info) => {
      if (this.disposed || gpu !== this._gpu) return;
      this.emit({ type: 'device-lost', step: this._trainer?.step ?? 0, reason: info.reason ?? 'unknown', message: info.message });
      if (this.opts.recoverOnLoss) this.exclusive(() => this.recoverNow()).catch(() => {}); // a failure is its own event
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

  /** A new Trainer on the current device, in `st`'s state (a fresh run when only params or nothing is given). */
  private build(st: Partial<CheckpointState>): void {
    this._trainer = new Trainer(this._gpu, this.cfg, this.data, { params: st.params, teacher: this.teacher ?? undefined, backend: this.opts.backend?.(this._gpu) });
    if (st.step !== undefined) this._trainer.loadState(st as CheckpointState);
    this._collapse = null;
    this.rollbacks = 0;
  }

  /** Runs `fn` after every earlier session call has finished (steps, drains, recovery never interleave). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(() => {
      this.assertOpen();
      return fn();
    });
    this.lock = run.catch(() => {});
    return run;
  }

  /** Is `e` (an error from a step, drain or read-back) a loss of the current device? */
  async isLost(e: unknown): Promise<boolean> {
    if (e instanceof GpuLostError || this._gpu.lost) return true;
    // A failed map can come before the device's lost promise settles.
    await Promise.race([this._gpu.device.lost, new Promise((r) => setTimeout(r, 50))]);
    return this._gpu.lost !== null;
  }

  /**
   * The non-finite policy over freshly drained records: the first non-finite step (none after a
   * collapse) is rolled back to the Trainer's snapshot or stops the run; a clean drain with no step
   * recorded since may become the new snapshot. Returns whether a non-finite step was found.
   */
  private judge(recs: StepRecord[]): boolean {
    const tr = this._trainer;
    const bad = this._collapse ? undefined : recs.find((r) => r.nonFinite);
    if (!bad) {
      if (recs.length && !this._collapse && tr.snapshotStep !== null && tr.undrained === 0 && tr.step - tr.snapshotStep >= (this.cfg.snapshotEvery ?? 50)) {
        tr.takeSnapshot();
        this.rollbacks = 0;
      }
      return false;
    }
    const at = { step: bad.step, quantity: bad.nonFinite! };
    const rollback = tr.snapshotStep !== null && this.rollbacks < (this.cfg.maxRollbacks ?? 3);
    if (rollback) this.rollbacks++;
    else this._collapse = at;
    this.emit({ type: 'non-finite', event: { ...at, action: rollback ? 'rolled-back' : 'stopped', restoredTo: rollback ? tr.restoreSnapshot() : null } });
    return true;
  }

  /** The trainer's records since its last drain, judged. */
  private async drained(): Promise<StepRecord[]> {
    const recs = await this._trainer.drain();
    this.judge(recs);
    return recs;
  }

  /**
   * One optimizer step (plus a checkpoint / autosave when due; not with `checkpoint: false`, e.g. a
   * profiled step). Returns the metrics read back by this call (often none). After a device loss it
   * recovers and returns [] with the step count of the restored checkpoint. Throws CollapseError
   * once the run has stopped on a non-finite value.
   */
  stepOnce(opts: { checkpoint?: boolean } = {}): Promise<StepRecord[]> {
    return this.guarded(async () => {
      if (this._collapse) throw new CollapseError(this._collapse);
      const tr = this._trainer;
      const recs = await tr.stepOnce();
      this.judge(recs);
      const due = tr.step % (this.opts.checkpointEvery ?? 100) === 0 || (this.opts.autosaveEvery !== undefined && this.autosaveDue(tr.step));
      if (opts.checkpoint !== false && due && tr.step !== this.latest?.step) recs.push(...(await this.checkpoint()));
      return recs;
    });
  }

  /** Runs `f` exclusively on an open session; a lost device is recovered instead (no records). */
  private guarded(f: () => Promise<StepRecord[]>): Promise<StepRecord[]> {
    return this.exclusive(async () => {
      try {
        return await f();
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
    for (let i = 0; i < n && !this._collapse; i++) out.push(...(await this.stepOnce()));
    out.push(...(await this.drain()));
    return out;
  }

  /** The metrics of steps not read back yet (see Trainer.drain); recovers from a device loss. */
  drain(): Promise<StepRecord[]> {
    return this.guarded(() => this.drained());
  }

  /** Re-acquires a device and restores the latest checkpoint, if the current device is lost. */
  private async recoverNow(): Promise<void> {
    if (this.gaveUp) throw this.gaveUp;
    if (!this._gpu.lost) return; // recovered already (a call and the loss watcher both asked)
    const [lostAt, reason, now] = [this._trainer.step, this._gpu.lost.reason, Date.now()];
    const win = this.opts.recoveryWindowMs;
    this.lossTimes = [...this.lossTimes.filter((t) => win === undefined || now - t < win), now];
    if (this.lossTimes.length > (this.opts.maxRecoveries ?? 3)) {
      this.gaveUp = new Error(
        `the GPU device was lost ${this.lossTimes.length} times${win === undefined ? '' : ` within ${Math.round(win / 1000)} s`}; giving up. ` +
          `The last checkpoint (step ${this.latest?.step ?? 0}) is in the autosave store, if one is set`,
      );
      this.emit({ type: 'recovery-failed', message: this.gaveUp.message });
      throw this.gaveUp;
    }
    this.releaseGpu();
    this._gpu = await this.acquire();
    const st = loadCheckpoint(this.latest!.bytes, this.cfg.model);
    this.build(st);
    this.emit({ type: 'restored', lostAt, restoredFrom: st.step, attempt: this.events.filter((e) => e.type === 'restored').length + 1, reason });
  }

  /** Changes where and how often autosaves go (e.g. the page changed autosaveEvery, or named the run's slot after the build). */
  setAutosave(o: Pick<SessionOptions, 'store' | 'autosaveKey' | 'autosaveEvery' | 'autosaveBeside'>): void {
    this.opts = { ...this.opts, ...o };
  }

  /** An autosave is due: `autosaveEvery` steps since the last (unset: at every checkpoint). */
  private autosaveDue(step: number): boolean {
    return !!this.opts.store && step - this.lastAutosave >= Math.max(this.opts.autosaveEvery ?? 1, 1);
  }

  /**
   * Takes a checkpoint now: drains the metrics first (a checkpoint is only taken of a state whose
   * steps all drained clean), reads back the state, keeps the bytes, autosaves when due (or when
   * `autosave` asks and the latest autosave is of another step). Returns the drained records.
   */
  private async checkpoint(autosave = false): Promise<StepRecord[]> {
    const tr = this._trainer;
    const recs = await tr.drain();
    if (this.judge(recs) || this._collapse) return recs; // not a state to return to
    if (!this.latest || this.latest.step !== tr.step || this.stale) {
      const bytes = await this.encode();
      this.latest = { step: tr.step, bytes };
      this.stale = false;
      this.emit({ type: 'checkpoint', step: tr.step, bytes: bytes.length });
    }
    if (this.autosaveDue(tr.step) || (autosave && this.lastAutosave !== tr.step)) await this.autosave(recs);
    return recs;
  }

  /** Writes the latest checkpoint (and the writer's records beside it) to the store. */
  private async autosave(undelivered: StepRecord[] = []): Promise<void> {
    const { store } = this.opts;
    const ck = this.latest;
    if (!store || !ck) return;
    const key = this.opts.autosaveKey ?? 'autosave';
    try {
      await store.save(key, ck.bytes, this.opts.autosaveBeside?.(ck.step, undelivered));
      this.lastAutosave = ck.step;
      this.emit({ type: 'autosave', step: ck.step, key, bytes: ck.bytes.length });
    } catch (e) {
      this.emit({ type: 'autosave-failed', step: ck.step, key, message: (e as Error).message });
    }
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

  /** Makes the current state the restore point (a pause, a Step, a run's end) and autosaves it, unless both are of this step already. Returns the drained records. */
  checkpointNow(): Promise<StepRecord[]> {
    return this.exclusive(() => this.checkpoint(true));
  }

  /**
   * Replaces the run's state by a checkpoint's (a user's load): the collapse, if any, is over, and
   * the loaded state becomes the restore point. The data and noise streams follow `st.resume` when
   * it fits this dataset; otherwise the weights alone, and the returned note says so.
   */
  loadState(st: CheckpointState): Promise<string | null> {
    return this.exclusive(async () => {
      await this.drained(); // records of the steps before the load belong to another history
      const tr = this._trainer;
      let note: string | null = null;
      try {
        tr.loadState(st);
      } catch (e) {
        if (!st.resume) throw e;
        tr.loadState({ ...st, resume: null });
        note = `batches continue from a fresh data order (${(e as Error).message})`;
      }
      this._collapse = null;
      this.rollbacks = 0;
      this.stale = true;
      await this.checkpoint(); // the loaded state is what a device loss restores
      return note;
    });
  }

  /**
   * The current state as checkpoint bytes (e.g. a download): a clean one also becomes the restore
   * point; after a collapse it is the state as it is (AdamW skipped the bad step), not a restore point.
   */
  save(): Promise<Uint8Array> {
    return this.exclusive(async () => {
      await this.checkpoint(); // reuses the latest when it is of this step
      return this.latest?.step === this._trainer.step ? this.latest.bytes : this.encode();
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
