// One job: drive one run's TrainingSession from the page's messages, and map what happens to it
// (metrics, samples, rollbacks, collapses, device losses, autosaves) to messages back. The run's
// lifecycle (checkpoints, device loss, the non-finite policy, autosave) is the session's
// (src/train/session.ts); sample grids and distances are src/train/samples.ts's, metric binning
// src/train/metrics.ts's, quality figures ./quality.ts's, 2-D panels ./points2d.ts's, the
// autosave slot and its records ./autosave.ts's.
//
// One worker (and one device) per run: a collapse, a validation error or a lost device in one run
// cannot stall or corrupt the others, Pause / Step / Save answer within one step of that run, and
// there is no scheduler or shared runtime state; each worker compiling its own pipelines costs
// little next to a training run. The loop is an actor: commands queue in an inbox and run between
// steps, except Pause and Start, which only flip a flag (the step counter stops the moment a Pause
// arrives). While running it keeps at most IN_FLIGHT steps submitted ahead of the GPU, drains
// metrics every DRAIN_MS and refreshes the samples every `sampleEvery` steps. A pause or a Step
// makes that step the restore point and autosaves it.

import type { Gpu, Tensor } from '../gpu/runtime';
import type { Backend } from '../ops/backend';
import { GpuLostError } from '../gpu/runtime';
import { summarizeProfile } from '../gpu/profile';
import { forwardFlops, PRESETS } from '../model/config';
import { openCheckpoint, type ForeignHints } from '../train/foreign';
import { TrainingSession, type SessionEvent, type SessionOptions } from '../train/session';
import type { Trainer, StepRecord } from '../train/trainer';
import type { CheckpointStore } from '../train/store';
import { consistencySampler, eulerSampler, gridSamples, gridState, SAMPLE_COUNT, type GridState } from '../train/samples';
import { describeDataset, previewImages, RunData, shippedPart, userDataset } from './data';
import { chunkBuffers, Series, toChunk, type MetricsChunk } from '../train/metrics';
import { QualityMeter } from './quality';
import type { FromWorker, RunState, ToWorker } from './protocol';
import { isPointShape } from '../data/points2d';
import { pointSamples, pointState, type PointState } from './points2d';
import { configFromMetadata, CUSTOM_DATASET, defaultDatasetFor, defaults, objectiveOf, sameRun, toTrainConfig, VIEW_KEYS, type Config } from '../config';
import { objectiveSpec } from '../objectives/table';
import { RunAutosave } from './autosave';
import { resolveTeacher, TeacherPanel } from './teacher';
import { studentParams } from '../train/distill';
import { NO_TEACHER, UPLOADED_TEACHER } from '../config';
import type { TuneStore } from '../ops/tune';
import type { TrainConfig } from '../train/trainer';
import { RunTuner } from './tune';
import { browserTuneStore } from './tuneStore';

export interface Host {
  post(msg: FromWorker, transfer?: Transferable[]): void;
  openGpu(): Promise<Gpu>;
  /** The op backend on a device (default gpuBackend; a test build wraps it to inject faults). */
  backend?(gpu: Gpu): Backend<Tensor>;
  /** Where autosaves go (default this browser's IndexedDB; Node tests: memory). */
  store?: CheckpointStore;
  /** Where tuned kernel choices go (default this browser's IndexedDB; null: nothing is tuned). */
  tuneStore?: TuneStore | null;
  /** The tuning time budget (tests); default src/worker/tune.ts's. */
  tuneBudgetMs?: number;
}

const DRAIN_MS = 250; // metrics reach the page four times a second at most
const IN_FLIGHT = 2; // steps submitted ahead of the GPU: keeps it busy while the next one is recorded
const CHECKPOINT_EVERY = 50; // steps between in-memory checkpoints (a read-back of 4 parameter-sized buffers)
const MAX_LOSSES = 3; // device losses within LOSS_WINDOW_MS before the run gives up
const LOSS_WINDOW_MS = 5 * 60_000;
const NO_TRAINER = 'this run has no trainer (it failed to build): fix the config and press Reset';

export class RunSession {
  /** The device the next build starts on (kept across rebuilds of one shape, so pipelines stay compiled). */
  private gpu: Gpu | null = null;
  private gpuKey = '';
  /** The run: its Trainer, in-memory checkpoints and device-loss recovery. */
  private session: TrainingSession | null = null;
  private config: Config | null = null;
  private readonly data = new RunData();
  private files: File[] = [];
  private running = false;
  private building = false;
  /** Metrics drained and samples fresh since the run last stopped. */
  private settled = true;
  private failed: string | null = null;
  private readonly inbox: ToWorker[] = [];
  private wake: (() => void) | null = null;
  private inflight: Promise<unknown>[] = [];
  private pending: StepRecord[] = [];
  private lastDrain = 0;
  private lastSampleStep = -1;
  /** Wall-clock time spent in training steps since the run was built (ms), stamped on each sample set. */
  private trainMs = 0;
  /** FD / precision / recall (./quality.ts): made at the first measurement of a build, on the device it measured on. */
  private quality: { meter: QualityMeter; gpu: Gpu } | null = null;
  private lastQualityStep = 0;
  /** The fixed inputs of the samples: image grids (src/train/samples.ts) or, on a 2-D point set, the 2-D panels' (./points2d.ts). */
  private grids: { points: PointState } | { images: GridState } | null = null;
  /** Distillation: the user's uploaded teacher (for config.teacher 'uploaded'), and the teacher side of the teacher-vs-student panel. */
  private teacherUpload: { bytes: Uint8Array; name: string } | null = null;
  private measureTeacher = true;
  private teacherPanel: TeacherPanel | null = null;
  private rateWindow: { t: number; step: number }[] = [];
  private sps = 0;
  private collapseSent = false;
  private readonly saves: RunAutosave;
  /** The session's rollback / collapse events, posted after the metrics of the steps they concern. */
  private verdicts: FromWorker[] = [];

  constructor(private readonly host: Host) {
    this.saves = new RunAutosave(host.store);
    void this.loop();
  }

  private get trainer(): Trainer | null {
    return this.session?.trainer ?? null;
  }

  /** The session's autosave options for the current config and slot. */
  private autosave(): SessionOptions {
    return this.saves.options(this.config?.autosaveEvery ?? 0, (recs) => this.chunk([...this.pending, ...recs]));
  }

  /** Records as metric columns (L_FM absent when the objective trains no FM anchor). */
  private chunk(recs: StepRecord[]): MetricsChunk {
    return toChunk(recs, objectiveSpec(this.config!.objective).anchor(objectiveOf(this.config!)) !== null);
  }

  receive(msg: ToWorker): void {
    if (msg.type === 'pause') {
      for (let i = this.inbox.length - 1; i >= 0; i--) if (this.inbox[i].type === 'start') this.inbox.splice(i, 1);
      if (this.running) this.settled = false;
      this.running = false;
      this.postStatus();
    } else if (msg.type === 'start') {
      // Behind queued commands (an init or a load rebuilds the trainer, which would cancel it); otherwise now.
      if (this.building || this.inbox.length > 0) this.inbox.push(msg);
      else this.begin();
    } else this.inbox.push(msg);
    this.wake?.();
  }

  /** Frees the device (Node tests; in the browser the page terminates the worker). */
  async close(): Promise<void> {
    this.running = false;
    await this.dispose();
    if (this.gpu && !this.gpu.lost) this.gpu.destroy();
    this.gpu = null;
  }

  private begin(): void {
    const s = this.session;
    const collapse = s?.collapse;
    const refusal = !s
      ? (this.failed ?? NO_TRAINER) // a Train queued behind a build that failed: the build's own message stays the one shown
      : collapse && this.collapseSent
        ? `this run collapsed at step ${collapse.step}: Reset it or load a checkpoint`
        : this.capped()
          ? `this run is at step ${s.step}, the step cap (${this.config!.stopAt}): raise “train to step” to go on`
          : null;
    if (refusal) this.host.post({ type: 'error', message: refusal, fatal: false });
    else {
      this.running = true;
      this.rateWindow = [];
    }
    this.postStatus();
  }

  /** At or past the step cap (stopAt > 0): every run of a comparison stops at the same step. */
  private capped(): boolean {
    const cap = this.config?.stopAt ?? 0;
    return cap > 0 && !!this.trainer && this.trainer.step >= cap;
  }

  private stopAtCap(): void {
    this.running = false;
    this.settled = false; // settle: every metric out, samples at the cap's step
    this.postStatus(`stopped at the step cap ${this.config!.stopAt}`);
  }

  // ------------------------------------------------------------------ the loop

  private async loop(): Promise<void> {
    for (;;) {
      const cmd = this.inbox.shift();
      try {
        if (cmd) await this.handle(cmd);
        else if (this.running && this.trainer && !this.failed) await this.trainOne();
        else if (!this.settled) await this.settle();
        else {
          await new Promise<void>((r) => (this.wake = r));
          this.wake = null;
        }
      } catch (e) {
        const req = cmd && 'req' in cmd ? cmd.req : undefined;
        // A read-back on a lost device (a sample grid, a save): the request is answered with the error; the session recovers.
        if (this.session && !this.failed && (await this.session.isLost(e).catch(() => false))) {
          if (req !== undefined) this.host.post({ type: 'error', message: (e as Error).message, req, fatal: false });
          continue;
        }
        this.fail(e, req);
      }
    }
  }

  private async handle(cmd: ToWorker): Promise<void> {
    switch (cmd.type) {
      case 'start':
        this.begin();
        return;
      case 'init':
        if (cmd.files) this.files = cmd.files;
        if (cmd.teacher !== undefined) this.teacherUpload = cmd.teacher;
        this.measureTeacher = cmd.measureTeacher ?? true;
        // A Reset: the slot's autosave is of what was reset (the page forgets it too; this closes the race with a save on its way).
        if (this.session && this.saves.key) await this.saves.store.delete?.(this.saves.key);
        await this.rebuild({ ...cmd.config }, true);
        return;
      case 'step': {
        const s = this.needSession();
        this.running = false;
        for (let i = 0; i < cmd.n && !this.running; i++) this.pending.push(...(await s.stepOnce()));
        this.settled = false;
        await this.settle();
        return;
      }
      case 'view': {
        const c = this.config;
        if (!c) return;
        const changed = (['sampleWeights', 'euler', 'fieldT'] as const).some((k) => c[k] !== cmd.config[k]);
        this.config = { ...c, ...Object.fromEntries(VIEW_KEYS.map((k) => [k, cmd.config[k]])) };
        this.session?.setAutosave(this.autosave());
        if (this.running && this.capped()) this.stopAtCap();
        if (changed && this.trainer && !this.running) await this.refreshSamples();
        return;
      }
      case 'samples':
        if (this.trainer) await this.refreshSamples();
        return;
      case 'save':
        return this.save(cmd.req);
      case 'load':
        return this.load(cmd.req, cmd.bytes, cmd.name, cmd.hints, cmd.metrics);
      case 'restore': {
        const { bytes, metrics } = await this.saves.read(cmd.key);
        return this.load(cmd.req, bytes, cmd.name, undefined, metrics);
      }
      case 'autosave':
        this.saves.key = cmd.key;
        this.saves.meta = cmd.meta;
        this.session?.setAutosave(this.autosave());
        if (cmd.now && this.session) this.pending.push(...(await this.session.checkpointNow()));
        return;
      case 'probe':
        return this.probe(cmd.files);
      case 'profile':
        return this.profile(cmd.req);
      case 'retune': {
        const s = this.needSession();
        await Promise.all(this.inflight.splice(0));
        await this.tune(s.gpu, s.trainer.cfg, { retune: true, req: cmd.req });
        s.trainer.forgetRecordings(); // recorded steps hold the old choices' pipelines
        return;
      }
      default:
        return;
    }
  }

  private needSession(): TrainingSession {
    if (!this.session) throw new Error(NO_TRAINER);
    return this.session;
  }

  /** A new history of records, samples and verdicts (a build, a load, a restore after a device loss), with this metric series. */
  private newHistory(series: Series): void {
    this.pending = [];
    this.inflight = [];
    this.verdicts = [];
    this.collapseSent = false;
    this.lastSampleStep = -1;
    this.trainMs = 0;
    this.rateWindow = [];
    this.saves.series = series;
  }

  /** Maps the session's events to messages. */
  private onSessionEvent(s: TrainingSession, e: SessionEvent): void {
    if (s !== this.session) return;
    if (e.type === 'non-finite') {
      const { step, quantity, restoredTo } = e.event;
      this.verdicts.push(restoredTo !== null ? { type: 'rollback', step, quantity, restoredTo } : { type: 'collapse', step, quantity });
    } else if (e.type === 'recovery-failed') this.fail(new Error(e.message));
    else if (e.type === 'autosave' || e.type === 'autosave-failed') this.host.post({ type: 'autosaved', step: e.step, error: e.type === 'autosave-failed' ? e.message : undefined });
    else if (e.type === 'restored') {
      // The new device is the session's (dispose() destroys it); this.gpu is the lost one, so the next build takes a fresh one.
      this.newHistory(this.saves.series.upTo(e.restoredFrom)); // the steps after the checkpoint are gone
      this.settled = false;
      this.host.post({ type: 'recovered', lostAt: e.lostAt, restoredFrom: e.restoredFrom, reason: e.reason, attempt: e.attempt, adapter: s.gpu.report });
      this.postStatus();
      this.wake?.(); // settle: samples of the restored step
    }
  }

  /** GPU time per kernel of the next training step (a step is taken when paused). */
  private async profile(req: number): Promise<void> {
    const s = this.needSession();
    const gpu = s.gpu;
    if (s.collapse) throw new Error(`this run collapsed at step ${s.collapse.step}: nothing to profile; Reset it or load a checkpoint`);
    const wasRunning = this.running;
    if (!gpu.startProfile()) {
      this.host.post({ type: 'profiled', req, step: s.step, profile: null, features: gpu.report.features });
      return;
    }
    let entries;
    try {
      await Promise.all(this.inflight.splice(0)); // earlier steps are not in the profile (queue order), but wait for them anyway
      this.pending.push(...(await s.stepOnce({ checkpoint: false }))); // no checkpoint read-back in the profile
    } finally {
      entries = await gpu.stopProfile();
    }
    this.host.post({ type: 'profiled', req, step: s.step, profile: summarizeProfile(entries), features: gpu.report.features });
    if (!wasRunning) {
      this.settled = false;
      await this.settle();
    }
  }

  private async trainOne(): Promise<void> {
    const s = this.session!;
    const t = s.trainer;
    if (s.collapse) {
      // Found by a drain inside stepOnce (or a Train after a collapse): report it once, and stop.
      await this.flushMetrics();
      this.running = false;
      this.postStatus();
      return;
    }
    const t0 = performance.now();
    this.pending.push(...(await s.stepOnce()));
    if (s.trainer !== t) return; // recovered from a device loss inside the step: the loop goes on from the checkpoint
    const done = s.gpu.device.queue.onSubmittedWorkDone();
    done.catch(() => {}); // a lost device surfaces through the next read
    this.inflight.push(done);
    if (this.inflight.length >= IN_FLIGHT) await this.inflight.shift();
    if (performance.now() - this.lastDrain >= DRAIN_MS) await this.flushMetrics();
    this.trainMs += performance.now() - t0;
    // Samples at multiples of sampleEvery: every run of a comparison has grids at the same steps.
    if (this.running && t.step % this.config!.sampleEvery === 0 && t.step !== this.lastSampleStep) await this.refreshSamples();
    else if (this.running && this.teacherPanel?.pending) await this.measureTeacherStep();
    if (this.running && this.capped()) this.stopAtCap();
  }

  /** After a pause, a step or a collapse: every metric out, samples for the last step, final status. */
  private async settle(): Promise<void> {
    if (this.session) {
      // A pause or a Step is where a user expects to come back to: make it the restore point, and autosave it.
      this.pending.push(...(await this.session.checkpointNow()));
      await this.flushMetrics();
      if (this.session.step !== this.lastSampleStep) await this.refreshSamples();
    }
    this.inflight = [];
    this.settled = true;
    this.postStatus();
  }

  private async flushMetrics(): Promise<void> {
    const s = this.session!;
    const drained = await s.drain();
    const t = s.trainer; // a new one when the drain recovered from a device loss
    this.pending.push(...drained);
    this.lastDrain = performance.now();
    if (this.pending.length) {
      const chunk = this.chunk(this.pending);
      this.pending = [];
      this.saves.series.append(chunk); // before the transfer empties its arrays
      this.host.post({ type: 'metrics', chunk }, chunkBuffers(chunk));
    }
    for (const v of this.verdicts.splice(0)) {
      this.host.post(v);
      if (v.type === 'rollback') this.saves.series = this.saves.series.upTo(v.restoredTo);
      if (v.type === 'collapse') {
        this.collapseSent = true;
        if (this.running) this.settled = false;
        this.running = false; // stop, as the CLI does; the user may resume (non-finite steps are skipped)
      }
    }
    if (this.running) {
      const now = performance.now();
      this.rateWindow.push({ t: now, step: t.step });
      while (this.rateWindow.length > 2 && now - this.rateWindow[0].t > 3000) this.rateWindow.shift();
      const a = this.rateWindow[0];
      if (now - a.t > 200) this.sps = Math.max(0, ((t.step - a.step) * 1000) / (now - a.t)); // ≥ 0 across a rollback
    }
    this.postStatus();
  }

  private async refreshSamples(): Promise<void> {
    const g = this.grids!;
    const { samples, transfer } = 'points' in g ? await pointSamples(this.trainer!, this.config!, g.points) : await gridSamples(this.trainer!, this.config!, g.images);
    this.lastSampleStep = samples.step;
    this.host.post({ type: 'samples', samples: { ...samples, trainMs: this.trainMs } }, transfer);
    if ('images' in g) await this.refreshQuality(samples.step);
  }

  /** Every `qualityEvery` steps (at the first sample refresh after), the one- and two-step samples' FD / precision / recall. */
  private async refreshQuality(step: number): Promise<void> {
    const c = this.config!;
    if (c.qualityEvery <= 0 || step < this.lastQualityStep + c.qualityEvery) return;
    this.lastQualityStep = step;
    const s = this.needSession();
    try {
      const meter = await this.meter();
      this.host.post({ type: 'quality', quality: await meter.measure(step, consistencySampler(s.trainer, c), eulerSampler(s.trainer, c)) });
    } catch (e) {
      if (s.gpu.lost) throw e;
      this.host.post({ type: 'error', message: `quality metrics at step ${step}: ${(e as Error).message}`, fatal: false });
    }
  }

  /** The run's quality meter (./quality.ts), made on first use on the session's device. */
  private async meter(): Promise<QualityMeter> {
    const c = this.config!;
    const s = this.needSession();
    if (!this.quality || this.quality.gpu !== s.gpu || this.quality.meter.n !== c.qualitySamples) {
      this.progress('fitting the quality metrics\' feature space', null);
      const meter = await QualityMeter.create(s.gpu, c.dataset, this.data.current!.ds, s.trainer.model.cfg, c.qualitySamples, (name) => shippedPart(name, 'heldOut'));
      this.quality = { meter, gpu: s.gpu };
      this.progress('', 1);
    }
    return this.quality.meter;
  }

  /** One of the teacher's Euler-N FD figures (the panel's teacher line), between training steps. */
  private async measureTeacherStep(): Promise<void> {
    const panel = this.teacherPanel!;
    const s = this.needSession();
    try {
      await panel.measureNext(s.gpu, await this.meter());
      this.host.post({ type: 'teacher', teacher: panel.view });
    } catch (e) {
      if (s.gpu.lost) throw e;
      this.teacherPanel = null; // reported once, not retried every step
      panel.dispose();
      this.host.post({ type: 'error', message: `the teacher's quality figures: ${(e as Error).message}`, fatal: false });
    }
  }

  // ------------------------------------------------------------------ build, save, load

  private async rebuild(config: Config, sample: boolean): Promise<void> {
    this.running = false;
    this.building = true;
    this.failed = null;
    this.postStatus();
    try {
      const train = toTrainConfig(config);
      await this.dispose();
      const key = JSON.stringify([train.model, train.batch]);
      if (!this.gpu || this.gpu.lost || key !== this.gpuKey) {
        // A new shape: a fresh device, so pooled buffers of the old shapes do not linger.
        this.gpu?.destroy();
        this.gpu = null;
        this.gpu = await this.openGpu('requesting a WebGPU device');
        this.gpuKey = key;
      }
      const data = await this.data.get(config, this.files, (stage, fraction) => this.progress(stage, fraction));
      if (config.teacher !== NO_TEACHER) this.progress('loading the teacher', null);
      const teacher = await resolveTeacher(config, this.teacherUpload);
      this.config = config;
      // Limits are checked before allocating; the step-0 state is the first restore point.
      this.progress(`checking that batch ${train.batch} of ${config.preset} fits this adapter and the memory budget`, null);
      let made: TrainingSession | null = null; // events during create() (the step-0 checkpoint) need no report
      const session: TrainingSession = await TrainingSession.create(train, data.ds, {
        gpu: this.gpu,
        backend: this.host.backend?.bind(this.host),
        presetName: config.preset,
        ...(config.memoryBudget > 0 && { budgetBytes: config.memoryBudget * 2 ** 20, budgetWhy: `the page's memory budget setting` }),
        onAllocate: () => this.progress(`allocating the buffers and the step-0 checkpoint`, null),
        acquire: async () => this.tune(await this.openGpu('the GPU device was lost: requesting a new one'), train),
        // Distillation: v from the frozen teacher; the student starts from its weights; checkpoints name its file.
        ...(teacher && {
          teacher: { bytes: teacher.bytes, name: teacher.name },
          initParams: studentParams(teacher.ckpt, train.model, config.seed),
          run: { teacherFile: { name: teacher.name, sha256: teacher.sha256, step: teacher.ckpt.step } },
        }),
        checkpointEvery: CHECKPOINT_EVERY,
        maxRecoveries: MAX_LOSSES,
        recoveryWindowMs: LOSS_WINDOW_MS,
        recoverOnLoss: true,
        autosaveFirst: false, // a run at step 0 is its link
        ...this.autosave(),
        config,
        onEvent: (e) => made && this.onSessionEvent(made, e),
      });
      made = session;
      this.session = session;
      await this.tune(session.gpu, train); // after the memory check: a refused batch costs no tuning
      this.newHistory(new Series());
      this.quality = null;
      this.lastQualityStep = 0;
      this.sps = 0;
      this.grids = isPointShape(train.model) ? { points: pointState(data.ds, config.seed) } : { images: gridState(data.ds, config.seed, train.model) };
      this.teacherPanel?.dispose();
      this.teacherPanel = teacher && 'images' in this.grids ? new TeacherPanel(teacher, config, this.measureTeacher) : null;
      this.host.post({
        type: 'ready',
        info: {
          adapter: this.gpu.report,
          params: session.trainer.table.count,
          flopsPerImage: forwardFlops(train.model),
          dataset: data.info,
          real: previewImages(data.ds, SAMPLE_COUNT),
          config,
        },
      });
      if (this.teacherPanel && 'images' in this.grids) {
        this.progress(`the teacher's Euler samples (${this.teacherPanel.view.steps.join(', ')} steps)`, null);
        await this.teacherPanel.drawGrids(session.gpu, this.grids.images.z, SAMPLE_COUNT);
        this.host.post({ type: 'teacher', teacher: this.teacherPanel.view });
      }
      this.progress('', 1);
      this.building = false;
      if (sample) await this.refreshSamples();
    } catch (e) {
      if (this.session) await this.dispose();
      else this.gpuKey = ''; // a constructor that threw may have left buffers behind: next build, fresh device
      throw e;
    } finally {
      this.building = false;
      this.postStatus();
    }
  }

  /**
   * Frees the current run's GPU buffers. A device the session acquired after a loss is its own and
   * is destroyed with it: the next build then takes a fresh one.
   */
  private async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    this.teacherPanel?.dispose();
    this.teacherPanel = null;
    if (!s) return;
    if (!s.gpu.lost) await s.gpu.device.queue.onSubmittedWorkDone().catch(() => {});
    s.dispose();
  }

  private async save(req: number): Promise<void> {
    const s = this.needSession();
    await this.flushMetrics(); // the page then has every step up to the checkpoint's
    // Parameters, EMA, Adam moments, step, and where the data and noise streams stand (a resumed
    // run draws the same batches). A clean state also becomes the restore point after a device loss.
    const bytes = (await s.save()).slice(); // the session keeps its copy; this one is transferred
    this.host.post({ type: 'saved', req, bytes, step: s.step }, [bytes.buffer as ArrayBuffer]);
  }

  /** Loads a checkpoint (and the metric series saved with it: an autosave, a checkpoint saved in the browser). */
  private async load(req: number, bytes: Uint8Array, name: string, hints?: ForeignHints, metrics?: MetricsChunk | null): Promise<void> {
    // This project's checkpoints, or a PyTorch DiT state_dict (its notices say what was inferred).
    const { state: st, notices } = openCheckpoint(bytes, hints, undefined, name);
    const base = this.config ?? defaults();
    const { config, notes, presetMatches } = configFromMetadata(st.run, st.model, base);
    if (!presetMatches) throw new Error(`${name}: the checkpoint's model (${JSON.stringify(st.model)}) matches none of the presets (${Object.keys(PRESETS).join(', ')})`);
    notes.unshift(...notices); // the view keys stay this run's (base)
    if (config.teacher === UPLOADED_TEACHER && !this.teacherUpload) {
      config.teacher = NO_TEACHER;
      notes.push('distilled from a teacher checkpoint uploaded by its author; continuing without a teacher (upload it under Distillation and Reset to distil)');
    }
    if (config.dataset === CUSTOM_DATASET && this.files.length === 0) {
      config.dataset = base.dataset !== CUSTOM_DATASET ? base.dataset : defaultDatasetFor(config.preset);
      notes.push(`trained on the author's own files; continuing on ${config.dataset} (drop the files to use them)`);
    }
    this.running = false;
    if (!this.trainer || !this.config || !sameRun(config, this.config)) await this.rebuild(config, false);
    const s = this.needSession();
    const note = await s.loadState(st);
    if (note) notes.push(note);
    this.newHistory(Series.of(metrics));
    this.host.post({ type: 'loaded', req, step: st.step, config, notes, metrics });
    await s.checkpointNow(); // autosaved in this page's slot, with this page's records
    await this.refreshSamples();
    this.postStatus();
  }

  private async probe(files: File[]): Promise<void> {
    const ds = await userDataset(files, (stage, fraction) => this.progress(stage, fraction));
    this.host.post({ type: 'probed', info: describeDataset(ds), preview: previewImages(ds, SAMPLE_COUNT) });
  }

  // ------------------------------------------------------------------ reporting

  private progress(stage: string, fraction: number | null): void {
    this.host.post({ type: 'progress', stage, fraction });
  }

  /** Kernel variants for the run's shapes on `gpu` (src/worker/tune.ts: a warm cache times nothing); the page is told which. */
  private async tune(gpu: Gpu, train: TrainConfig, opts: { retune?: boolean; req?: number } = {}): Promise<Gpu> {
    const store = this.host.tuneStore !== undefined ? this.host.tuneStore : browserTuneStore();
    const tune = await new RunTuner(store, (stage, fraction) => this.progress(stage, fraction)).apply(gpu, train.model, train.batch, { ...opts, budgetMs: this.host.tuneBudgetMs });
    this.host.post({ type: 'tuned', req: opts.req, tune });
    return gpu;
  }

  /** A device from the host, with a progress line while it comes. */
  private async openGpu(stage: string): Promise<Gpu> {
    this.progress(stage, null);
    try {
      return await this.host.openGpu();
    } finally {
      this.progress('', 1);
    }
  }

  private state(): RunState {
    if (this.building) return 'starting';
    if (this.failed) return 'error';
    if (!this.trainer) return 'starting';
    if (this.running) return 'running';
    return this.trainer.step > 0 ? 'paused' : 'ready';
  }

  private postStatus(message?: string): void {
    const gpu = this.session?.gpu ?? this.gpu;
    const mem = gpu && !gpu.lost ? gpu.memory() : null;
    const batch = this.trainer?.cfg.batch ?? 0;
    this.host.post({
      type: 'status',
      status: {
        state: this.state(),
        step: this.trainer?.step ?? 0,
        stepsPerSec: this.sps,
        imagesPerSec: this.sps * batch,
        memory: mem && { buffers: mem.buffers, bytes: mem.bytes },
        message,
      },
    });
  }

  private fail(e: unknown, req?: number): void {
    const err = e instanceof Error ? e : new Error(String(e));
    const fatal = err instanceof GpuLostError || !!(this.session?.gpu ?? this.gpu)?.lost;
    this.running = false;
    this.building = false;
    if (!fatal && req === undefined && this.session?.collapse && !this.collapseSent) {
      // A step refused after a collapse (found inside stepOnce): the collapse is the report, not the error.
      this.settled = false;
      return;
    }
    this.settled = true;
    if (fatal || !this.trainer) this.failed = err.message;
    this.host.post({ type: 'error', message: err.message, req, fatal });
    this.postStatus();
  }
}
