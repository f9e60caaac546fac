// What a run needs from the adapter, known before anything is allocated on it.
//
// The estimate records one training step on a null device: a GPUDevice stand-in whose buffers are
// sizes and whose commands do nothing. The real runtime (its pool included), the real Trainer and
// the ops' host code run on it, so the figures follow whatever the kernels allocate (the tape of
// the JVP pass, attention statistics, loss scratch, the optimizer's partial sums) with no table to
// keep in step. A step of cifar-b at batch 128 records in tens of milliseconds.

import { Gpu } from '../gpu/runtime';
import type { AdapterReport } from '../gpu/device';
import { PRESETS, type DiTConfig } from '../model/config';
import type { Dataset } from '../data/dataset';
import { paramTable } from '../model/params';
import { Trainer, type TrainConfig } from './trainer';

/** The adapter limits a run depends on (a device's `limits`, or `AdapterReport.limits`). */
export interface RunLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupsPerDimension: number;
  maxComputeWorkgroupStorageSize: number;
}

/**
 * Workgroup memory the kernels declare at most per entry point. They are written to fit WebGPU's
 * guaranteed default (16 KiB); tests/train/limits.test.ts reads the shaders and holds them to it.
 */
export const KERNEL_WORKGROUP_STORAGE_BYTES = 16384;

export interface MemoryEstimate {
  batch: number;
  /** The largest storage buffer (what a binding must hold) and the label of its first use. */
  largest: { label: string; bytes: number };
  /** The largest buffer of any kind (the upload arena included), for maxBufferSize. */
  largestAnyBytes: number;
  /** The largest buffer allocated by the step itself (it grows with the batch). */
  largestActivation: { label: string; bytes: number };
  /** Every buffer the run creates: parameters ×6 flat buffers (+ snapshot, teacher), pooled activations, arenas. */
  totalBytes: number;
  /** Parameters, gradients, EMA, Adam m / v, decay mask, rollback snapshot, teacher, metrics ring. */
  persistentBytes: number;
  /** Activations (the tape of the forward / JVP pass, tangents, gradients of activations) and scratch at the pool's high-water mark. */
  activationBytes: number;
  buffers: number;
  /** The largest workgroup grid dimension dispatched; a grid past the adapter's limit names its kernel. */
  maxGrid: number;
  gridError: string | null;
}

const MiB = 2 ** 20;
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 2 : 1)} MiB`;

// WebGPU's flag constants, for a null device in Node before Dawn has defined them (the spec fixes the values).
function ensureFlagConstants(): void {
  const g = globalThis as Record<string, unknown>;
  g.GPUBufferUsage ??= { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, INDEX: 16, VERTEX: 32, UNIFORM: 64, STORAGE: 128, INDIRECT: 256, QUERY_RESOLVE: 512 };
  g.GPUShaderStage ??= { VERTEX: 1, FRAGMENT: 2, COMPUTE: 4 };
  g.GPUMapMode ??= { READ: 1, WRITE: 2 };
}

interface NullDevice {
  device: GPUDevice;
  created: { label: string; size: number; usage: number }[];
  maxGrid: number;
}

/** A GPUDevice whose buffers are sizes and whose commands do nothing; records buffers and grid sizes. */
function nullDevice(limits: Record<string, number>): NullDevice {
  ensureFlagConstants();
  const rec: NullDevice = { device: null as unknown as GPUDevice, created: [], maxGrid: 0 };
  // Anything not modelled below (encoders, pipelines, bind groups, layouts) is an inert callable.
  const inert: unknown = new Proxy(function () {}, {
    get: (_t, k) => (k === 'then' ? undefined : inert),
    apply: () => inert,
  });
  const pass = new Proxy({}, {
    get: (_t, k) =>
      k === 'dispatchWorkgroups'
        ? (x: number, y = 1, z = 1) => {
            rec.maxGrid = Math.max(rec.maxGrid, x, y, z);
          }
        : k === 'then' ? undefined : inert,
  });
  const encoder = new Proxy({}, { get: (_t, k) => (k === 'beginComputePass' ? () => pass : k === 'then' ? undefined : inert) });
  const base: Record<string, unknown> = {
    features: new Set<string>(),
    limits,
    lost: new Promise(() => {}),
    queue: { submit() {}, writeBuffer() {}, onSubmittedWorkDone: async () => {} },
    createCommandEncoder: () => encoder,
    createBuffer: (d: GPUBufferDescriptor) => {
      rec.created.push({ label: d.label ?? '', size: d.size, usage: d.usage });
      return {
        label: d.label ?? '',
        size: d.size,
        usage: d.usage,
        destroy() {},
        unmap() {},
        mapAsync: async () => {},
        getMappedRange: () => new ArrayBuffer(d.size),
      };
    },
  };
  rec.device = new Proxy(base, { get: (t, k) => (k in t ? t[k as string] : k === 'then' ? undefined : inert) }) as unknown as GPUDevice;
  return rec;
}

function fakeDataset(m: DiTConfig): Dataset {
  return { name: 'estimate', C: m.C, H: m.H, W: m.W, numClasses: Math.max(1, m.numClasses), count: 1, images: new Float32Array(m.C * m.H * m.W), labels: new Uint8Array(1) };
}

/** Default limits of WebGPU (what every adapter offers at least). */
export const DEFAULT_LIMITS: RunLimits = {
  maxStorageBufferBindingSize: 128 * MiB,
  maxBufferSize: 256 * MiB,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 16384,
};

async function record(cfg: TrainConfig, teacher: DiTConfig | null, gridLimit: number): Promise<{ nd: NullDevice; persistent: number; stepFrom: number; gridError: string | null }> {
  const nd = nullDevice({
    ...DEFAULT_LIMITS,
    maxStorageBufferBindingSize: Number.MAX_SAFE_INTEGER, // measure, do not refuse
    maxBufferSize: Number.MAX_SAFE_INTEGER,
    maxComputeWorkgroupsPerDimension: gridLimit, // ops that spill into grid y decide with the real limit
  });
  const report = { vendor: 'null', architecture: '', device: '', description: 'null device (estimate)', isFallback: false, backend: 'browser', features: [], limits: {} } as AdapterReport;
  const gpu = new Gpu({ device: nd.device, adapter: null as unknown as GPUAdapter, report });
  const zeros = (m: DiTConfig) => new Float32Array(paramTable(m).total);
  const tr = new Trainer(gpu, cfg, fakeDataset(cfg.model), {
    params: zeros(cfg.model), // skips the CPU initialisation: sizes are all that count here
    teacher: teacher ? { cfg: teacher, params: zeros(teacher) } : undefined,
  });
  const persistent = gpu.memory().bytes;
  const stepFrom = nd.created.length;
  let gridError: string | null = null;
  try {
    await tr.stepOnce(); // records one step; nothing is read back
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    gridError = e.message;
  }
  return { nd, persistent, stepFrom, gridError };
}

/**
 * Bytes a training run allocates, from one step recorded on a null device. `teacher`: the
 * distillation teacher's config. Throws only for an invalid config (the Trainer's own checks).
 */
export async function estimateMemory(cfg: TrainConfig, opts: { teacher?: DiTConfig | null; maxComputeWorkgroupsPerDimension?: number } = {}): Promise<MemoryEstimate> {
  const gridLimit = opts.maxComputeWorkgroupsPerDimension ?? DEFAULT_LIMITS.maxComputeWorkgroupsPerDimension;
  let run = await record(cfg, opts.teacher ?? null, gridLimit);
  const gridError = run.gridError;
  // A grid past the limit stops the recording: record again without the limit to finish measuring.
  if (gridError) run = await record(cfg, opts.teacher ?? null, Number.MAX_SAFE_INTEGER);
  const bufs = run.nd.created.filter((b) => !(b.usage & GPUBufferUsage.MAP_READ));
  const biggest = (bs: { label: string; size: number }[]) => bs.reduce((a, b) => (b.size > a.bytes ? { label: b.label, bytes: b.size } : a), { label: '', bytes: 0 });
  const total = bufs.reduce((s, b) => s + b.size, 0);
  const arenas = bufs.filter((b) => b.label.endsWith('-arena')).reduce((s, b) => s + b.size, 0);
  return {
    batch: cfg.batch,
    largest: biggest(bufs.filter((b) => b.usage & GPUBufferUsage.STORAGE)),
    largestAnyBytes: biggest(bufs).bytes,
    largestActivation: biggest(run.nd.created.slice(run.stepFrom).filter((b) => b.usage & GPUBufferUsage.STORAGE)),
    totalBytes: total,
    persistentBytes: run.persistent,
    activationBytes: total - run.persistent - arenas,
    buffers: bufs.length,
    maxGrid: run.nd.maxGrid,
    gridError,
  };
}

export interface LimitCheck {
  ok: boolean;
  estimate: MemoryEstimate;
  /** One line per limit exceeded, naming it. */
  problems: string[];
  /** The largest batch that fits this preset on this adapter (null: none does, or the batch already fits). */
  suggestedBatch: number | null;
  /** Presets that fit at the requested batch (when the batch alone cannot fix it). */
  suggestedPresets: string[];
  /** problems + suggestion as one message, or null when ok. */
  message: string | null;
}

/** How much memory a run's buffers may take, and where that figure comes from (for messages). */
export interface MemoryBudget {
  bytes: number;
  why: string;
}

const GiB = 2 ** 30;
const gib = (b: number) => `${(b / GiB).toFixed(1)} GiB`;
/** The share of the memory found that a run's buffers may take: the rest is the runtime's, the page's and the data's. */
export const BUDGET_SHARE = 0.75;

/**
 * The memory a run can count on, as far as it can be known. WebGPU says nothing about an adapter's
 * memory, so this is the machine's: in Node, the memory still available (os.freemem) plus what this
 * process holds, under its cgroup limit when there is one; in a browser, navigator.deviceMemory
 * (Chromium rounds it and reports at most 8 GiB). On a software adapter (SwiftShader) the GPU's
 * buffers live exactly there; a discrete GPU has its own memory, which may be smaller (pass a budget).
 * Null when nothing is known.
 */
export async function machineMemoryBudget(): Promise<MemoryBudget | null> {
  const share = `${BUDGET_SHARE * 100} %`;
  if (typeof process !== 'undefined' && process.versions?.node && typeof navigator === 'undefined') {
    const os = await import('node:os');
    const held = process.memoryUsage().rss;
    const free = os.freemem();
    const cgroup = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
    const room = Math.min(free + held, os.totalmem(), cgroup > 0 ? cgroup : Infinity);
    return { bytes: Math.floor(room * BUDGET_SHARE), why: `${share} of the ${gib(room)} this process can use; ${gib(free)} of ${gib(os.totalmem())} free on this machine` };
  }
  const dm = (globalThis.navigator as { deviceMemory?: number } | undefined)?.deviceMemory;
  if (typeof dm === 'number' && dm > 0) return { bytes: Math.floor(dm * GiB * BUDGET_SHARE), why: `${share} of the ${dm} GiB the browser reports for this device` };
  return null;
}

export interface CheckOptions {
  teacher?: DiTConfig | null;
  /** Refuse a run whose buffers add up to more than this (e.g. machineMemoryBudget()). */
  budgetBytes?: number;
  /** Where the budget comes from, for the message. */
  budgetWhy?: string;
  /** The preset's name for messages. */
  presetName?: string;
}

function problemsOf(e: MemoryEstimate, lim: RunLimits, budget: number | undefined, budgetWhy?: string): string[] {
  const out: string[] = [];
  if (e.largest.bytes > lim.maxStorageBufferBindingSize)
    out.push(`its largest buffer ('${e.largest.label}', ${mib(e.largest.bytes)}) exceeds this adapter's maxStorageBufferBindingSize (${mib(lim.maxStorageBufferBindingSize)})`);
  else if (Math.max(e.largest.bytes, e.largestAnyBytes) > lim.maxBufferSize)
    out.push(
      e.largest.bytes > lim.maxBufferSize
        ? `its largest buffer ('${e.largest.label}', ${mib(e.largest.bytes)}) exceeds this adapter's maxBufferSize (${mib(lim.maxBufferSize)})`
        : `the runtime's ${mib(e.largestAnyBytes)} upload arena exceeds this adapter's maxBufferSize (${mib(lim.maxBufferSize)})`,
    );
  if (e.gridError) out.push(e.gridError); // names the kernel, its grid and maxComputeWorkgroupsPerDimension
  if (lim.maxComputeWorkgroupStorageSize < KERNEL_WORKGROUP_STORAGE_BYTES)
    out.push(`the kernels need ${KERNEL_WORKGROUP_STORAGE_BYTES} bytes of workgroup memory but this adapter's maxComputeWorkgroupStorageSize is ${lim.maxComputeWorkgroupStorageSize}`);
  if (budget !== undefined && e.totalBytes > budget) out.push(`its buffers add up to ${mib(e.totalBytes)}, over the memory budget of ${mib(budget)}${budgetWhy ? ` (${budgetWhy})` : ''}`);
  return out;
}

/**
 * Checks a run against the adapter's limits before allocating anything. When it does not fit,
 * finds the largest batch that does (or, when no batch does, the presets that fit) for the message.
 */
export async function checkLimits(cfg: TrainConfig, limits: RunLimits | Record<string, number>, opts: CheckOptions = {}): Promise<LimitCheck> {
  const lim: RunLimits = { ...DEFAULT_LIMITS, ...(limits as Partial<RunLimits>) };
  const est = (c: TrainConfig) => estimateMemory(c, { teacher: opts.teacher, maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension });
  const problemsFor = (e: MemoryEstimate) => problemsOf(e, lim, opts.budgetBytes, opts.budgetWhy);
  const fits = async (b: number) => problemsFor(await est({ ...cfg, batch: b })).length === 0;
  const estimate = await est(cfg);
  const problems = problemsFor(estimate);
  if (problems.length === 0) return { ok: true, estimate, problems, suggestedBatch: null, suggestedPresets: [], message: null };

  let suggestedBatch: number | null = null;
  const kernelsFit = lim.maxComputeWorkgroupStorageSize >= KERNEL_WORKGROUP_STORAGE_BYTES;
  if (kernelsFit && cfg.batch > 1 && (await fits(1))) {
    // Activations grow linearly in the batch: a guess from batches 1 and 2, then a binary search.
    const [m1, m2] = [await est({ ...cfg, batch: 1 }), await est({ ...cfg, batch: 2 })];
    const linear = (a: number, b: number, cap: number) => (b > a ? Math.floor(1 + (cap - a) / (b - a)) : Infinity);
    const binding = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    let lo = 1; // fits
    let hi = cfg.batch; // does not
    const guess = Math.min(
      linear(m1.largestActivation.bytes, m2.largestActivation.bytes, binding),
      opts.budgetBytes !== undefined ? linear(m1.totalBytes, m2.totalBytes, opts.budgetBytes) : Infinity,
      hi - 1,
    );
    for (const g of [guess, guess + 1]) {
      if (g <= lo || g >= hi) continue;
      if (await fits(g)) lo = g;
      else hi = g;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await fits(mid)) lo = mid;
      else hi = mid;
    }
    suggestedBatch = lo;
  }
  const suggestedPresets: string[] = [];
  if (suggestedBatch === null && kernelsFit && !opts.teacher)
    for (const [name, p] of Object.entries(PRESETS)) {
      const model = { ...p.config, useR: cfg.model.useR };
      if (name === opts.presetName || JSON.stringify(model) === JSON.stringify(cfg.model)) continue;
      if (problemsFor(await est({ ...cfg, model })).length === 0) suggestedPresets.push(name);
    }
  const what = `${opts.presetName ? `preset ${opts.presetName}` : 'this model'} at batch ${cfg.batch}`;
  const fix =
    suggestedBatch !== null
      ? ` Use a smaller batch: ${suggestedBatch} is the largest that fits.`
      : suggestedPresets.length
        ? ` No batch fits this model; use a smaller preset (${suggestedPresets.join(', ')} fit${suggestedPresets.length === 1 ? 's' : ''} at batch ${cfg.batch}).`
        : kernelsFit
          ? ' Use a smaller batch or model preset.'
          : ' This adapter cannot run the kernels; use another browser or GPU.';
  return { ok: false, estimate, problems, suggestedBatch, suggestedPresets, message: `${what} does not fit this adapter: ${problems.join('; ')}.${fix}` };
}

/** A run that does not fit the adapter's limits; `check` has the figures and suggestions. */
export class LimitError extends RangeError {
  constructor(readonly check: LimitCheck) {
    super(check.message ?? 'the run does not fit the adapter');
    this.name = 'LimitError';
  }
}

/** Throws LimitError (naming the limit and a batch or preset that fits) unless the run fits. */
export async function assertWithinLimits(cfg: TrainConfig, limits: RunLimits | Record<string, number>, opts: CheckOptions = {}): Promise<MemoryEstimate> {
  const c = await checkLimits(cfg, limits, opts);
  if (!c.ok) throw new LimitError(c);
  return c.estimate;
}

/** The limits of a live device, as RunLimits. */
export function limitsOf(gpu: Gpu): RunLimits {
  const l = gpu.limits;
  return {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
  };
}
