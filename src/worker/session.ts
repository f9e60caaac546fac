// One training run, owned by one worker: its device, dataset, Trainer and the loop that steps it.
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
// The Trainer lives inside a TrainingSession (src/train/session.ts), which keeps an in-memory
// checkpoint every CHECKPOINT_EVERY steps (and on a pause, a Step, a save and a load). When the
// device is lost (driver reset, backgrounded tab, device.destroy()) the session acquires a new one
// through host.openGpu(), restores that checkpoint and this loop goes on (training again if it
// was); the page gets a 'recovered' message naming both steps. MAX_LOSSES losses within
// LOSS_WINDOW_MS end the run with a fatal error instead.

import type { Gpu } from '../gpu/runtime';
import { GpuLostError } from '../gpu/runtime';
import { summarizeProfile } from '../gpu/profile';
import { forwardFlops, PRESETS } from '../model/config';
import { sampleConsistency, sampleEuler } from '../objectives/samplers';
import { loadCheckpoint } from '../train/checkpoint';
import { TrainingSession, type SessionEvent } from '../train/session';
import type { Trainer, StepRecord } from '../train/trainer';
import type { Dataset } from '../data/index';
import { Rng } from '../util/rng';
import { nearestDistance, referenceSplit } from '../data/nearest';
import { isPointShape } from '../data/points2d';
import { pointSamples, pointState, type PointState } from './points2d';
import { builtinDataset, describeDataset, fitToModel, previewImages, userDataset } from './data';
import { METRIC_FIELDS, T_BINS, type DatasetInfo, type FromWorker, type ImageSet, type MetricsChunk, type RunState, type ToWorker } from './protocol';
import { configFromMetadata, CUSTOM_DATASET, defaultDatasetFor, defaults, objectiveOf, sameRun, toTrainConfig, type Config } from '../config';
import { objectiveSpec } from '../objectives/table';

export interface Host {
  post(msg: FromWorker, transfer?: Transferable[]): void;
  openGpu(): Promise<Gpu>;
}

const DRAIN_MS = 250; // metrics reach the page four times a second at most
const IN_FLIGHT = 2; // steps submitted ahead of the GPU: keeps it busy while the next one is recorded
const SAMPLES = 16; // images per sample grid (4 × 4)
const NOISE_SEED = 0x5a3b1e; // fixed noise: frames of one run, and runs with one seed, are comparable
const RENOISE_SEED = 0x2e2e;
const NEAREST_REFS = 1024; // dataset images the samples' nearest-image distance is measured against
const CHECKPOINT_EVERY = 50; // steps between in-memory checkpoints (a read-back of 4 parameter-sized buffers)
const MAX_LOSSES = 3; // device losses within LOSS_WINDOW_MS before the run gives up
const LOSS_WINDOW_MS = 5 * 60_000;

/** Columnar metrics of drained steps, with per-sample quantities binned by t. */
export function toChunk(recs: StepRecord[], hasFM: boolean): MetricsChunk {
  const n = recs.length;
  const f = () => new Float32Array(n);
  const c: MetricsChunk = {
    n,
    step: new Float64Array(n),
    loss: f(), lossFM: f(), lossCM: f(), gradNorm: f(), clampFrac: f(), rmsG: f(), rmsDFdt: f(), rmsV: f(), rmsKdFdt: f(),
    binCount: new Float32Array(n * T_BINS),
    binClamp: new Float32Array(n * T_BINS),
    binG2: new Float32Array(n * T_BINS),
  };
  recs.forEach((r, i) => {
    c.step[i] = r.step;
    for (const k of METRIC_FIELDS) c[k][i] = r[k];
    if (!hasFM) c.lossFM[i] = NaN; // the objective has no anchor: absent, not zero
    for (let b = 0; b < r.t.length; b++) {
      const j = i * T_BINS + Math.min(T_BINS - 1, Math.max(0, Math.floor(r.t[b] * T_BINS)));
      c.binCount[j]++;
      if (r.clampByT) c.binClamp[j] += r.clampByT[b];
      if (r.rmsGByT) c.binG2[j] += r.rmsGByT[b] ** 2;
    }
  });
  return c;
}

const transferOf = (c: MetricsChunk): Transferable[] =>
  [c.step, ...METRIC_FIELDS.map((k) => c[k]), c.binCount, c.binClamp, c.binG2].map((a) => a.buffer as ArrayBuffer);

/** Does the run's objective train an FM anchor, and through which condition does Euler integrate it? */
const anchorOf = (c: Config) => objectiveSpec(c.objective).anchor(objectiveOf(c));

export class RunSession {
  /** The device the next build starts on (kept across rebuilds of one shape, so pipelines stay compiled). */
  private gpu: Gpu | null = null;
  private gpuKey = '';
  /** The run: its Trainer, in-memory checkpoints and device-loss recovery. */
  private session: TrainingSession | null = null;
  /** A loss reported by the device's lost promise, not yet recovered from. */
  private lossPending = false;
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
  /** Runs on a 2-D point set: the fixed noise and reference figures of the 2-D panels. */
  private points: PointState | null = null;
  private rateWindow: { t: number; step: number }[] = [];
  private sps = 0;
  private collapseSent = false;
  /** Trainer.nonFiniteEvents already reported. */
  private eventsSeen = 0;
  private z: Float32Array = new Float32Array(0);
  private y: Float32Array | null = null;
  /** The dataset images the samples are measured against, and the reference figures (held-out real, noise). */
  private near: { refs: Float32Array; m: number; floor: number; noise: number } | null = null;

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
      this.host.post({ type: 'error', message: 'this run has no trainer (it failed to build): fix the config and press Reset', fatal: false });
      return;
    }
    if (this.trainer.collapse && this.collapseSent) {
      this.host.post({ type: 'error', message: `this run collapsed at step ${this.trainer.collapse.step}: Reset it or load a checkpoint`, fatal: false });
      return;
    }
    this.running = true;
    this.rateWindow = [];
    this.postStatus();
  }

  // ------------------------------------------------------------------ the loop

  private async loop(): Promise<void> {
    for (;;) {
      const lost = !!this.session && !this.failed && (this.lossPending || !!this.session.gpu.lost);
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
          this.lossPending = true;
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
        this.config = { ...c, sampleEvery: cmd.config.sampleEvery, sampleWeights: cmd.config.sampleWeights, euler: cmd.config.euler, fieldT: cmd.config.fieldT };
        if (changed && this.trainer && !this.running) await this.refreshSamples();
        return;
      }
      case 'samples':
        if (this.trainer) await this.refreshSamples();
        return;
      case 'save':
        return this.save(cmd.req);
      case 'load':
        return this.load(cmd.req, cmd.bytes, cmd.name);
      case 'probe':
        return this.probe(cmd.files);
      case 'profile':
        return this.profile(cmd.req);
      case 'lose-device':
        // What a driver reset or device.destroy() elsewhere does: the lost promise fires, the loop recovers.
        this.needSession().gpu.device.destroy();
        return;
      case 'poison': {
        const t = this.need() as Trainer & { poisonNextStep?: (p: { name: string; index: number }) => void };
        if (typeof t.poisonNextStep !== 'function') throw new Error('this Trainer has no poisonNextStep test hook');
        t.poisonNextStep({ name: 'blocks.0.attn.qkv', index: 0 });
        return;
      }
      default:
        return;
    }
  }

  private need(): Trainer {
    return this.needSession().trainer;
  }

  private needSession(): TrainingSession {
    if (!this.session) throw new Error('this run has no trainer (it failed to build): fix the config and press Reset');
    return this.session;
  }

  /** Gets a new device and the latest checkpoint back after a loss (TrainingSession.recover), then reports it. */
  private async recover(): Promise<void> {
    this.lossPending = false;
    const s = this.session!;
    await s.recover(); // `restored` (onEvent) does the rest
  }

  private onSessionEvent(s: TrainingSession, e: SessionEvent): void {
    if (s !== this.session) return;
    if (e.type === 'device-lost') {
      this.lostInfo = { step: e.step, reason: e.reason };
      this.lossPending = true;
      this.wake?.();
    } else if (e.type === 'restored') {
      // The new device is the session's (dispose() destroys it); this.gpu is the lost one, so the next build takes a fresh one.
      this.lossPending = false;
      this.pending = []; // the records of steps after the checkpoint belong to a history that is gone
      this.inflight = [];
      this.eventsSeen = 0; // a new Trainer
      this.lastSampleStep = -1;
      this.rateWindow = [];
      this.settled = false;
      const reason = this.lostInfo?.reason ?? 'unknown';
      this.lostInfo = null;
      this.host.post({ type: 'recovered', lostAt: e.lostAt, restoredFrom: e.restoredFrom, reason, attempt: e.attempt, adapter: s.gpu.report });
      this.postStatus();
    }
  }

  private lostInfo: { step: number; reason: string } | null = null;

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
    this.pending.push(...(await s.stepOnce()));
    if (s.trainer !== t) return; // recovered from a device loss inside the step: the loop goes on from the checkpoint
    const done = s.gpu.device.queue.onSubmittedWorkDone();
    done.catch(() => {}); // a lost device surfaces through the next read
    this.inflight.push(done);
    if (this.inflight.length >= IN_FLIGHT) await this.inflight.shift();
    if (performance.now() - this.lastDrain >= DRAIN_MS) await this.flushMetrics();
    if (this.running && t.step - this.lastSampleStep >= this.config!.sampleEvery) await this.refreshSamples();
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
      this.host.post({ type: 'metrics', chunk }, transferOf(chunk));
    }
    const events = (t as { nonFiniteEvents?: { step: number; quantity: string; action: string; restoredTo: number | null }[] }).nonFiniteEvents ?? [];
    for (const e of events.slice(this.eventsSeen))
      if (e.action === 'rolled-back' && e.restoredTo !== null) this.host.post({ type: 'rollback', step: e.step, quantity: e.quantity, restoredTo: e.restoredTo });
    this.eventsSeen = events.length;
    if (this.running) {
      const now = performance.now();
      this.rateWindow.push({ t: now, step: t.step });
      while (this.rateWindow.length > 2 && now - this.rateWindow[0].t > 3000) this.rateWindow.shift();
      const a = this.rateWindow[0];
      if (now - a.t > 200) this.sps = Math.max(0, ((t.step - a.step) * 1000) / (now - a.t)); // ≥ 0 across a rollback
    }
    if (t.collapse && !this.collapseSent) {
      this.collapseSent = true;
      this.host.post({ type: 'collapse', step: t.collapse.step, quantity: t.collapse.quantity });
      if (this.running) this.settled = false;
      this.running = false; // stop, as the CLI does; the user may resume (non-finite steps are skipped)
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
      this.host.post({ type: 'samples', samples }, transfer);
      return;
    }
    const P = t.weights(c.sampleWeights === 'ema' ? 'ema' : 'params');
    const opts = { y: this.y, meanflow: objectiveSpec(c.objective).oneStep === 'meanflow' };
    const set = (pixels: Float32Array): ImageSet => ({ N: SAMPLES, C, H, W, pixels });
    const step = t.step;
    const one = await sampleConsistency(m.be, m, P, this.z, SAMPLES, 1, new Rng(c.seed ^ RENOISE_SEED), opts);
    const two = await sampleConsistency(m.be, m, P, this.z, SAMPLES, 2, new Rng(c.seed ^ RENOISE_SEED), opts);
    const branch = anchorOf(c);
    const eul = branch && c.euler > 0 ? await sampleEuler(m.be, m, P, this.z, SAMPLES, c.euler, { y: this.y, branch }) : null;
    this.lastSampleStep = step;
    const near = this.near!;
    const dist = (x: Float32Array) => nearestDistance(x, SAMPLES, near.refs, near.m).mean;
    const nearest = { oneStep: dist(one), twoStep: dist(two), euler: eul ? dist(eul) : null, real: near.floor, noise: near.noise };
    const samples = { step, weights: c.sampleWeights, oneStep: set(one), twoStep: set(two), euler: eul ? { ...set(eul), steps: c.euler } : null, nearest };
    this.host.post({ type: 'samples', samples }, [one.buffer, two.buffer, ...(eul ? [eul.buffer] : [])] as ArrayBuffer[]);
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
      this.lossPending = false;
      this.lostInfo = null;
      // Limits are checked before allocating; the step-0 state is the first restore point.
      let made: TrainingSession | null = null; // events during create() (the step-0 checkpoint) need no report
      const session: TrainingSession = await TrainingSession.create(train, data.ds, {
        gpu: this.gpu,
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
      this.eventsSeen = 0;
      this.lastSampleStep = -1;
      this.sps = 0;
      const { C, H, W } = train.model;
      this.points = isPointShape(train.model) ? pointState(data.ds, config.seed) : null;
      this.z = new Rng(config.seed ^ NOISE_SEED).normals(SAMPLES * C * H * W);
      const ref = referenceSplit(data.ds, NEAREST_REFS, SAMPLES);
      this.near = { ...ref, noise: nearestDistance(this.z, SAMPLES, ref.refs, ref.m).mean };
      const k = train.model.numClasses;
      this.y = k > 0 ? Float32Array.from({ length: SAMPLES }, (_, i) => i % Math.min(k, data.ds.numClasses || k)) : null;
      this.host.post({
        type: 'ready',
        info: {
          adapter: this.gpu.report,
          params: session.trainer.table.count,
          flopsPerImage: forwardFlops(train.model),
          dataset: data.info,
          real: previewImages(data.ds, SAMPLES),
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
    this.lossPending = false;
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
      raw = builtinDataset(config.dataset, config.seed);
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

  private async load(req: number, bytes: Uint8Array, name: string): Promise<void> {
    let st;
    try {
      st = loadCheckpoint(bytes);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
    const base = this.config ?? defaults();
    const { config, notes, presetMatches } = configFromMetadata(st.run, st.model, base);
    if (!presetMatches) throw new Error(`${name}: the checkpoint's model (${JSON.stringify(st.model)}) matches none of the presets (${Object.keys(PRESETS).join(', ')})`);
    for (const k of ['sampleEvery', 'sampleWeights', 'euler'] as const) (config as Record<string, unknown>)[k] = base[k];
    if (config.dataset === CUSTOM_DATASET && this.files.length === 0) {
      config.dataset = base.dataset !== CUSTOM_DATASET ? base.dataset : defaultDatasetFor(config.preset);
      notes.push(`trained on the author's own files; continuing on ${config.dataset} (drop the files to use them)`);
    }
    this.running = false;
    if (!this.trainer || !this.config || !sameRun(config, this.config)) await this.rebuild(config, false);
    const session = this.needSession();
    const t = session.trainer;
    await session.drain(); // records of the steps before the load belong to another history
    this.pending = [];
    const s = { params: st.params, ema: st.ema, m: st.m, v: st.v, step: st.step };
    const resume = (st as { resume?: unknown }).resume;
    try {
      t.loadState(resume ? ({ ...s, resume } as typeof s) : s);
    } catch (e) {
      if (!resume) throw e;
      t.loadState(s); // the saved data stream does not fit this dataset: weights only
      notes.push(`batches continue from a fresh data order (${(e as Error).message})`);
    }
    t.collapse = null;
    this.collapseSent = false;
    session.invalidateCheckpoint();
    await session.checkpointNow(); // the loaded state is what a device loss restores
    this.host.post({ type: 'loaded', req, step: st.step, config, notes });
    await this.refreshSamples();
    this.postStatus();
  }

  private async probe(files: File[]): Promise<void> {
    const ds = await userDataset(files, (stage, fraction) => this.progress(stage, fraction));
    this.host.post({ type: 'probed', info: describeDataset(ds), preview: previewImages(ds, SAMPLES) });
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
