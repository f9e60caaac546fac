// One job: drive one run's TrainingSession from the page's messages, and map what happens to it
// (metrics, samples, rollbacks, collapses, device losses) to messages back. The run's lifecycle
// (checkpoints, device loss, the non-finite policy) is the session's (src/train/session.ts); sample
// grids and distances are src/train/samples.ts's, metric binning src/train/metrics.ts's.
//
// Why one worker (and one device) per run, not one worker round-robining several runs: a run is
// then isolated: a collapse, a validation error or a lost device in one ablation run cannot stall
// or corrupt the others; Pause / Step / Save answer within one step of that run, not one step of
// every run; and the code has no scheduler and no shared mutable runtime state (the Gpu's open
// encoder, pool and arenas belong to one trainer). The cost, each worker compiling its own
// pipelines and the driver time-slicing the GPU between devices, is small next to a training run.
//
// The loop is an actor: commands queue in an inbox and run between steps, except Pause and Start,
// which only flip a flag (so the step counter stops the moment a Pause arrives). While running it
// keeps at most IN_FLIGHT steps submitted ahead of the GPU, drains metrics every DRAIN_MS and
// refreshes the samples every `sampleEvery` steps.
//
// The session keeps an in-memory checkpoint every CHECKPOINT_EVERY steps (and on a pause, a Step,
// a save and a load). When the device is lost (driver reset, backgrounded tab, device.destroy())
// the session acquires a new one through host.openGpu() and restores that checkpoint; this loop
// asks it to as soon as the loss is known, and goes on (training again if it was); the page gets a
// 'recovered' message naming both steps. MAX_LOSSES losses within LOSS_WINDOW_MS end the run with
// a fatal error instead.

import type { Gpu, Tensor } from '../gpu/runtime';
import type { Backend } from '../ops/backend';
import { GpuLostError } from '../gpu/runtime';
import { summarizeProfile } from '../gpu/profile';
import { forwardFlops, PRESETS } from '../model/config';
import { openCheckpoint, type ForeignHints } from '../train/foreign';
import { TrainingSession, type SessionEvent } from '../train/session';
import type { Trainer, StepRecord } from '../train/trainer';
import type { Dataset } from '../data/index';
import { distanceScale, sampleGrids, sampleNoise, SAMPLE_COUNT, RENOISE_SEED, type DistanceScale } from '../train/samples';
import { builtinDataset, describeDataset, fitToModel, previewImages, shippedPart, userDataset } from './data';
import { chunkBuffers, toChunk } from '../train/metrics';
import { sampleConsistency } from '../objectives/samplers';
import { Rng } from '../util/rng';
import { QualityMeter } from './quality';
import type { DatasetInfo, FromWorker, ImageSet, RunState, ToWorker } from './protocol';
import { isPointShape } from '../data/points2d';
import { pointSamples, pointState, type PointState } from './points2d';
import { configFromMetadata, CUSTOM_DATASET, defaultDatasetFor, defaults, objectiveOf, sameRun, toTrainConfig, type Config } from '../config';
import { objectiveSpec } from '../objectives/table';

export interface Host {
  post(msg: FromWorker, transfer?: Transferable[]): void;
  openGpu(): Promise<Gpu>;
  /** The op backend on a device (default gpuBackend; a test build wraps it to inject faults). */
  backend?(gpu: Gpu): Backend<Tensor>;
}

const DRAIN_MS = 250; // metrics reach the page four times a second at most
const IN_FLIGHT = 2; // steps submitted ahead of the GPU: keeps it busy while the next one is recorded
const CHECKPOINT_EVERY = 50; // steps between in-memory checkpoints (a read-back of 4 parameter-sized buffers)
const MAX_LOSSES = 3; // device losses within LOSS_WINDOW_MS before the run gives up
const LOSS_WINDOW_MS = 5 * 60_000;

/** Does the run's objective train an FM anchor, and through which condition does Euler integrate it? */
const anchorOf = (c: Config) => objectiveSpec(c.objective).anchor(objectiveOf(c));

export class RunSession {
  /** The device the next build starts on (kept across rebuilds of one shape, so pipelines stay compiled). */
  private gpu: Gpu | null = null;
  private gpuKey = '';
  /** The run: its Trainer, in-memory checkpoints and device-loss recovery. */
  private session: TrainingSession | null = null;
  private config: Config | null = null;
  private dataset: { key: string; ds: Dataset; info: DatasetInfo } | null = null;
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
  /** Runs on a 2-D point set: the fixed noise and reference figures of the 2-D panels. */
  private points: PointState | null = null;
  private rateWindow: { t: number; step: number }[] = [];
  private sps = 0;
  private collapseSent = false;
  private lostReason = 'unknown';
  /** The session's rollback / collapse events, posted after the metrics of the steps they concern. */
  private verdicts: FromWorker[] = [];
  private z: Float32Array = new Float32Array(0);
  private y: Float32Array | null = null;
  /** The dataset images the samples are measured against, and the reference figures (held-out real, noise). */
  private near: DistanceScale | null = null;

  constructor(private readonly host: Host) {
    void this.loop();
  }

  private get trainer(): Trainer | null {
    return this.session?.trainer ?? null;
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
    if (!this.trainer) {
      // A Train queued behind a build that failed: the build's own message stays the one shown.
      this.host.post({ type: 'error', message: this.failed ?? 'this run has no trainer (it failed to build): fix the config and press Reset', fatal: false });
      return;
    }
    if (this.trainer.collapse && this.collapseSent) {
      this.host.post({ type: 'error', message: `this run collapsed at step ${this.trainer.collapse.step}: Reset it or load a checkpoint`, fatal: false });
      return;
    }
    if (this.capped()) {
      this.host.post({ type: 'error', message: `this run is at step ${this.trainer.step}, the step cap (${this.config!.stopAt}): raise “train to step” to go on`, fatal: false });
      this.postStatus();
      return;
    }
    this.running = true;
    this.rateWindow = [];
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
      const lost = !!this.session && !this.failed && !!this.session.gpu.lost; // the session's to recover from
      const cmd = lost ? undefined : this.inbox.shift();
      try {
        if (lost) await this.recover();
        else if (cmd) await this.handle(cmd);
        else if (this.running && this.trainer && !this.failed) await this.trainOne();
        else if (!this.settled) await this.settle();
        else {
          await new Promise<void>((r) => (this.wake = r));
          this.wake = null;
        }
      } catch (e) {
        const req = cmd && (cmd.type === 'save' || cmd.type === 'load' || cmd.type === 'profile') ? cmd.req : undefined;
        // A read-back on a lost device (a sample grid, a save): the request is answered with the error, and the loop recovers.
        if (!lost && this.session && !this.failed && (await this.session.isLost(e).catch(() => false))) {
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
        const changed = c.sampleWeights !== cmd.config.sampleWeights || c.euler !== cmd.config.euler || c.fieldT !== cmd.config.fieldT;
        this.config = { ...c, sampleEvery: cmd.config.sampleEvery, sampleWeights: cmd.config.sampleWeights, euler: cmd.config.euler, stopAt: cmd.config.stopAt, fieldT: cmd.config.fieldT };
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
        return this.load(cmd.req, cmd.bytes, cmd.name, cmd.hints);
      case 'probe':
        return this.probe(cmd.files);
      case 'profile':
        return this.profile(cmd.req);
      default:
        return;
    }
  }

  private needSession(): TrainingSession {
    if (!this.session) throw new Error('this run has no trainer (it failed to build): fix the config and press Reset');
    return this.session;
  }

  /** Gets a new device and the latest checkpoint back after a loss (TrainingSession.recover); `restored` reports it. */
  private async recover(): Promise<void> {
    await this.session!.recover();
  }

  /** Maps the session's events to messages. */
  private onSessionEvent(s: TrainingSession, e: SessionEvent): void {
    if (s !== this.session) return;
    if (e.type === 'non-finite' && e.event.action === 'rolled-back' && e.event.restoredTo !== null)
      this.verdicts.push({ type: 'rollback', step: e.event.step, quantity: e.event.quantity, restoredTo: e.event.restoredTo });
    else if (e.type === 'collapse') this.verdicts.push({ type: 'collapse', step: e.step, quantity: e.quantity });
    else if (e.type === 'device-lost') {
      this.lostReason = e.reason;
      this.wake?.(); // the loop recovers, even while paused
    } else if (e.type === 'restored') {
      // The new device is the session's (dispose() destroys it); this.gpu is the lost one, so the next build takes a fresh one.
      this.pending = []; // the records of steps after the checkpoint belong to a history that is gone
      this.inflight = [];
      this.verdicts = [];
      this.lastSampleStep = -1;
      this.rateWindow = [];
      this.settled = false;
      this.host.post({ type: 'recovered', lostAt: e.lostAt, restoredFrom: e.restoredFrom, reason: this.lostReason, attempt: e.attempt, adapter: s.gpu.report });
      this.postStatus();
    }
  }

  /** GPU time per kernel of the next training step (a step is taken when paused). */
  private async profile(req: number): Promise<void> {
    const s = this.needSession();
    const gpu = s.gpu;
    const t = s.trainer;
    if (t.collapse) throw new Error(`this run collapsed at step ${t.collapse.step}: nothing to profile; Reset it or load a checkpoint`);
    const wasRunning = this.running;
    if (!gpu.startProfile()) {
      this.host.post({ type: 'profiled', req, step: t.step, profile: null, features: gpu.report.features });
      return;
    }
    let entries;
    try {
      await Promise.all(this.inflight.splice(0)); // earlier steps are not in the profile (queue order), but wait for them anyway
      this.pending.push(...(await t.stepOnce())); // the Trainer, not the session: no checkpoint read-back in the profile
    } finally {
      entries = await gpu.stopProfile();
    }
    const step = t.step;
    this.host.post({ type: 'profiled', req, step, profile: summarizeProfile(entries), features: gpu.report.features });
    if (!wasRunning) {
      this.settled = false;
      await this.settle();
    }
  }

  private async trainOne(): Promise<void> {
    const s = this.session!;
    const t = s.trainer;
    if (t.collapse) {
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
    if (this.running && this.capped()) this.stopAtCap();
  }

  /** After a pause, a step or a collapse: every metric out, samples for the last step, final status. */
  private async settle(): Promise<void> {
    if (this.session) {
      // A pause or a Step is where a user expects to come back to: make it the restore point.
      this.pending.push(...(await this.session.checkpointNow()).records);
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
      const chunk = toChunk(this.pending, anchorOf(this.config!) !== null);
      this.pending = [];
      this.host.post({ type: 'metrics', chunk }, chunkBuffers(chunk));
    }
    for (const v of this.verdicts.splice(0)) {
      this.host.post(v);
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
    const t = this.trainer!;
    const c = this.config!;
    const m = t.model;
    const { C, H, W } = m.cfg;
    if (this.points) {
      const { samples, transfer } = await pointSamples(t, c, this.points);
      this.lastSampleStep = samples.step;
      this.host.post({ type: 'samples', samples: { ...samples, trainMs: this.trainMs } }, transfer);
      return;
    }
    const P = t.weights(c.sampleWeights === 'ema' ? 'ema' : 'params');
    const set = (pixels: Float32Array): ImageSet => ({ N: SAMPLE_COUNT, C, H, W, pixels });
    const step = t.step;
    const g = await sampleGrids(m, P, this.z, SAMPLE_COUNT, { seed: c.seed, y: this.y, meanflow: objectiveSpec(c.objective).oneStep === 'meanflow', euler: c.euler, branch: anchorOf(c) }, this.near!);
    this.lastSampleStep = step;
    const samples = { step, weights: c.sampleWeights, oneStep: set(g.oneStep), twoStep: set(g.twoStep), euler: g.euler ? { ...set(g.euler), steps: c.euler } : null, nearest: g.nearest, trainMs: this.trainMs };
    this.host.post({ type: 'samples', samples }, [g.oneStep.buffer, g.twoStep.buffer, ...(g.euler ? [g.euler.buffer] : [])] as ArrayBuffer[]);
    await this.refreshQuality(step);
  }

  /** Every `qualityEvery` steps (at the first sample refresh after), the one- and two-step samples' FD / precision / recall. */
  private async refreshQuality(step: number): Promise<void> {
    const c = this.config!;
    if (c.qualityEvery <= 0 || step < this.lastQualityStep + c.qualityEvery) return;
    this.lastQualityStep = step;
    const s = this.needSession();
    const t = s.trainer;
    const m = t.model;
    try {
      if (!this.quality || this.quality.gpu !== s.gpu || this.quality.meter.n !== c.qualitySamples) {
        this.progress('fitting the quality metrics\' feature space', null);
        const meter = await QualityMeter.create(s.gpu, c.dataset, this.dataset!.ds, m.cfg, c.qualitySamples, (name) => shippedPart(name, 'heldOut'));
        this.quality = { meter, gpu: s.gpu };
        this.progress('', 1);
      }
      const P = t.weights(c.sampleWeights === 'ema' ? 'ema' : 'params');
      const k = m.cfg.numClasses;
      const meanflow = objectiveSpec(c.objective).oneStep === 'meanflow';
      const quality = await this.quality.meter.measure(step, (z, n, nfe) => {
        const y = k > 0 ? Float32Array.from({ length: n }, (_, i) => i % k) : null;
        return sampleConsistency(m.be, m, P, z, n, nfe, new Rng(c.seed ^ RENOISE_SEED), { y, meanflow });
      });
      this.host.post({ type: 'quality', quality });
    } catch (e) {
      if (s.gpu.lost) throw e;
      this.host.post({ type: 'error', message: `quality metrics at step ${step}: ${(e as Error).message}`, fatal: false });
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
        this.progress('requesting a WebGPU device', null);
        this.gpu = await this.host.openGpu();
        this.gpuKey = key;
      }
      const data = await this.loadData(config);
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
        acquire: async () => {
          this.progress('the GPU device was lost: requesting a new one', null);
          try {
            return await this.host.openGpu();
          } finally {
            this.progress('', 1);
          }
        },
        checkpointEvery: CHECKPOINT_EVERY,
        maxRecoveries: MAX_LOSSES,
        recoveryWindowMs: LOSS_WINDOW_MS,
        config,
        onEvent: (e) => made && this.onSessionEvent(made, e),
      });
      made = session;
      this.session = session;
      this.pending = [];
      this.inflight = [];
      this.collapseSent = false;
      this.verdicts = [];
      this.lastSampleStep = -1;
      this.trainMs = 0;
      this.quality = null;
      this.lastQualityStep = 0;
      this.sps = 0;
      this.z = sampleNoise(config.seed, train.model);
      this.near = distanceScale(data.ds, this.z, SAMPLE_COUNT);
      this.points = isPointShape(train.model) ? pointState(data.ds, config.seed) : null;
      const k = train.model.numClasses;
      this.y = k > 0 ? Float32Array.from({ length: SAMPLE_COUNT }, (_, i) => i % Math.min(k, data.ds.numClasses || k)) : null;
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
    if (!s) return;
    if (!s.gpu.lost) await s.gpu.device.queue.onSubmittedWorkDone().catch(() => {});
    s.dispose();
  }

  private async loadData(config: Config): Promise<{ ds: Dataset; info: DatasetInfo }> {
    const model = toTrainConfig(config).model;
    const custom = config.dataset === CUSTOM_DATASET;
    if (custom && this.files.length === 0) throw new Error('the custom dataset has no files: drop CIFAR-10 or IDX files on the page (or pick them) first');
    const key = JSON.stringify([config.dataset, custom ? this.files.map((f) => [f.name, f.size, f.lastModified]) : config.seed, model.C, model.H, model.W]);
    if (this.dataset?.key === key) return this.dataset;
    this.dataset = null; // free the old images before making new ones
    const progress = (stage: string, fraction: number | null) => this.progress(stage, fraction);
    let raw: Dataset;
    if (custom) raw = await userDataset(this.files, progress);
    else {
      progress(`drawing ${config.dataset}`, null);
      raw = await builtinDataset(config.dataset, config.seed);
    }
    const { ds, resizedFrom } = fitToModel(raw, model, progress);
    this.dataset = { key, ds, info: describeDataset(ds, resizedFrom) };
    return this.dataset;
  }

  private async save(req: number): Promise<void> {
    const s = this.needSession();
    await this.flushMetrics(); // the page then has every step up to the checkpoint's
    // Parameters, EMA, Adam moments, step, and where the data and noise streams stand (a resumed
    // run draws the same batches). A clean state also becomes the restore point after a device loss.
    let bytes: Uint8Array;
    try {
      bytes = await s.save();
    } catch (e) {
      if (await s.isLost(e)) throw e;
      bytes = await s.snapshot(); // after a collapse: the state as it is
    }
    bytes = bytes.slice(); // the session keeps its copy; this one is transferred
    this.host.post({ type: 'saved', req, bytes, step: s.step }, [bytes.buffer as ArrayBuffer]);
  }

  private async load(req: number, bytes: Uint8Array, name: string, hints?: ForeignHints): Promise<void> {
    // This project's checkpoints, or a PyTorch DiT state_dict (its notices say what was inferred).
    const { state: st, notices } = openCheckpoint(bytes, hints, undefined, name);
    const base = this.config ?? defaults();
    const { config, notes, presetMatches } = configFromMetadata(st.run, st.model, base);
    if (!presetMatches) throw new Error(`${name}: the checkpoint's model (${JSON.stringify(st.model)}) matches none of the presets (${Object.keys(PRESETS).join(', ')})`);
    notes.unshift(...notices);
    for (const k of ['sampleEvery', 'sampleWeights', 'euler', 'stopAt', 'memoryBudget'] as const) (config as Record<string, unknown>)[k] = base[k];
    if (config.dataset === CUSTOM_DATASET && this.files.length === 0) {
      config.dataset = base.dataset !== CUSTOM_DATASET ? base.dataset : defaultDatasetFor(config.preset);
      notes.push(`trained on the author's own files; continuing on ${config.dataset} (drop the files to use them)`);
    }
    this.running = false;
    if (!this.trainer || !this.config || !sameRun(config, this.config)) await this.rebuild(config, false);
    const note = await this.needSession().loadState(st);
    if (note) notes.push(note);
    this.pending = [];
    this.verdicts = [];
    this.collapseSent = false;
    this.host.post({ type: 'loaded', req, step: st.step, config, notes });
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
    if (!fatal && req === undefined && this.trainer?.collapse && !this.collapseSent) {
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
