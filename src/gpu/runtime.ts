// The GPU runtime: tensors, a buffer pool, a pipeline cache keyed explicitly, batched dispatch into
// one command encoder, a uniform arena, timestamp profiling and device-loss reporting.
//
// Dispatches are recorded into one compute pass until `flush()` (or a read-back) submits them.
// Each dispatch gets its own 256-byte slot of a uniform arena, written once per submit, so a whole
// training step is one command buffer and one writeBuffer of uniforms.
//
// `capture` keeps the commands a piece of code records (pipelines, bind groups, uniform bytes,
// clears, copies, uploads) as a `Recording`; `replay` encodes them again with new input data and
// none of the code that built them: a training step whose shape repeats is built once.

import type { AcquiredDevice, AdapterReport } from './device';
import { isPadding, parseBindings, structLayout, type StructLayout, type UniformField, type VarBinding } from './wgsl';

export type { BindingKind } from './wgsl';

/** A view of f32 elements in a GPU buffer. `offset` is in bytes and 256-aligned (a binding offset). */
export interface Tensor {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly size: number; // elements
  readonly shape: readonly number[];
  /** Pooled tensors go back to the pool on release; views and persistent tensors do not. */
  readonly pooled: boolean;
}

/**
 * A WGSL module: source plus its entry points. Each entry lists the module's resource variables it
 * uses, by their WGSL names, in the order `dispatch` receives them (the uniform first when it has
 * one): slots, access modes and the uniform's byte layout are read from the WGSL itself
 * (src/gpu/wgsl.ts), where every variable has its own slot. Pipelines are cached per (module,
 * entry, constants).
 */
export interface KernelModule<E extends string = string> {
  name: string;
  code: string;
  entries: Record<E, readonly string[]>;
}

export type Binding = Tensor | GPUBufferBinding;

/** Uniform values by WGSL field name (vectors as arrays); padding fields (`pad`, `_…`) may be left out. */
export type Uniforms = Readonly<Record<string, number | readonly number[]>>;

/** One entry point, resolved against its module's WGSL once. */
interface EntryInfo {
  label: string;
  layout: GPUBindGroupLayout;
  /** Index of the layout in this Gpu's layout list: part of the bind-group cache key. */
  layoutId: number;
  /** Binding slots of the non-uniform variables, in dispatch order. */
  slots: number[];
  uniformSlot: number;
  uniform: StructLayout | null;
  /** Pipelines by the constants' key as the call site spells it (see `pipelineFor`). */
  pipelines: Map<string, GPUComputePipeline>;
}

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment's largest allowed value
const ARENA_SLOTS = 1024;
/** Cached bind groups before the cache starts over (a step of the largest preset uses a few hundred). */
const MAX_BIND_GROUPS = 8192;
const ALIGN = 256; // minStorageBufferOffsetAlignment's largest allowed value
const UPLOAD_BYTES = 8 << 20; // staging for uploads recorded inside a command buffer

/** One recorded command of a `Recording`. */
type RecordedOp =
  | { kind: 'dispatch'; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; label: string; words: number; at: number; x: number; y: number; z: number }
  | { kind: 'clear'; buffer: GPUBuffer; offset: number; bytes: number }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; bytes: number }
  /** An upload: of the replay's `inputs[input]`, or (input −1) of the data it had when captured. */
  | { kind: 'write'; t: Tensor; input: number; data: Float32Array };

/**
 * Commands captured by `Gpu.capture`, for `Gpu.replay`. Holds bind groups over the pooled buffers the
 * captured code allocated (and released): a replay needs them all free again, and no buffer
 * destroyed since (`epoch`).
 */
export class Recording {
  constructor(
    readonly ops: readonly RecordedOp[],
    /** The uniform words of every dispatch, in order (`at`, `words` of each dispatch op). */
    readonly uniforms: Uint32Array,
    /** Pooled buffers the captured code allocated: free at the end of the capture, and needed free to replay. */
    readonly pooled: readonly GPUBuffer[],
    /** Pooled buffers it used but did not allocate (held by their owner, e.g. a model's table), in order of first use. */
    readonly external: readonly GPUBuffer[],
    readonly epoch: number,
  ) {}

  get dispatches(): number {
    return this.ops.reduce((n, o) => n + (o.kind === 'dispatch' ? 1 : 0), 0);
  }

  /**
   * The first difference in what two recordings compute (null: none): the same kernels with the
   * same uniforms and grids, the same uploads of the same inputs (and equal constant data), clears
   * and copies of the same sizes. Pooled buffers may differ (the pool may hand out others).
   */
  differsFrom(o: Recording): string | null {
    if (this.ops.length !== o.ops.length) return `${this.ops.length} commands, then ${o.ops.length}`;
    if (this.external.length !== o.external.length || this.external.some((b, i) => b !== o.external[i])) return 'other pooled tensors from outside';
    for (let i = 0; i < this.ops.length; i++) {
      const a = this.ops[i];
      const b = o.ops[i];
      const at = `command ${i} (${a.kind === 'dispatch' ? a.label : a.kind})`;
      if (a.kind !== b.kind) return `${at}: then ${b.kind === 'dispatch' ? b.label : b.kind}`;
      if (a.kind === 'dispatch' && b.kind === 'dispatch') {
        if (a.pipeline !== b.pipeline) return `${at}: another pipeline (${b.label})`;
        if (a.x !== b.x || a.y !== b.y || a.z !== b.z) return `${at}: grid ${a.x}×${a.y}×${a.z}, then ${b.x}×${b.y}×${b.z}`;
        for (let j = 0; j < a.words; j++) if (this.uniforms[a.at + j] !== o.uniforms[b.at + j]) return `${at}: uniform word ${j} changed`;
      } else if (a.kind === 'write' && b.kind === 'write') {
        if (a.input !== b.input) return `${at}: an upload of input ${a.input}, then of input ${b.input} (−1: data not among the inputs)`;
        if (a.data.length !== b.data.length) return `${at}: ${a.data.length} values, then ${b.data.length}`;
        if (a.input < 0) for (let j = 0; j < a.data.length; j++) if (!Object.is(a.data[j], b.data[j])) return `${at}: data not among the inputs, and it changed`;
      } else if (a.kind === 'clear' && b.kind === 'clear') {
        if (a.bytes !== b.bytes || (!this.pooled.includes(a.buffer) && a.buffer !== b.buffer)) return `${at}: another buffer or size`;
      } else if (a.kind === 'copy' && b.kind === 'copy') {
        if (a.bytes !== b.bytes || a.srcOffset !== b.srcOffset || a.dstOffset !== b.dstOffset) return `${at}: another size or offset`;
      }
    }
    return null;
  }
}

interface Capture {
  ops: RecordedOp[];
  inputs: readonly object[];
  uniforms: number[];
  /** Pooled buffers allocated since the capture began, and how many are still out. */
  allocated: Set<GPUBuffer>;
  out: number;
  external: Set<GPUBuffer>;
}

export interface ProfileEntry {
  label: string;
  ms: number;
}

export class GpuLostError extends Error {
  constructor(public readonly reason: string, message: string) {
    super(`GPU device lost (${reason}): ${message}`);
    this.name = 'GpuLostError';
  }
}

export class Gpu {
  readonly device: GPUDevice;
  readonly report: AdapterReport;
  readonly hasTimestamps: boolean;
  /**
   * A CPU-emulated adapter (SwiftShader, a fallback adapter): kernels pick variants without
   * workgroup memory or barriers there (see src/ops/linear.ts chooseMatmul). FACM_CPU_LIKE=0|1 overrides.
   */
  readonly cpuLike: boolean;

  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, { layout: GPUBindGroupLayout; id: number }>();
  private readonly entryInfos = new WeakMap<KernelModule, Map<string, EntryInfo>>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private readonly dynamicOffset = new Uint32Array(1);
  /** The pass and pipeline of the last dispatch: a repeated pipeline is not set again. */
  private lastPass: GPUComputePassEncoder | null = null;
  private lastPipeline: GPUComputePipeline | null = null;
  private readonly maxWorkgroups: number;
  private readonly limits_: GPUSupportedLimits;
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly free = new Map<number, GPUBuffer[]>();
  /** The buffers in `free`, and every buffer the pool created. */
  private readonly freeSet = new Set<GPUBuffer>();
  private readonly poolBuffers = new WeakSet<GPUBuffer>();
  /** Bumped when a buffer is destroyed: recordings from before are stale. */
  private epoch = 0;
  private capturing: Capture | null = null;
  private readonly live = new Set<GPUBuffer>();
  private liveBytes = 0;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly arena: GPUBuffer;
  private readonly arenaData = new Uint32Array((ARENA_SLOTS * UNIFORM_SLOT) / 4);
  private readonly arenaF32 = new Float32Array(this.arenaData.buffer);
  private readonly arenaI32 = new Int32Array(this.arenaData.buffer);
  private arenaUsed = 0;
  private readonly uploadArena: GPUBuffer;
  /** The upload arena's contents, written to it in one writeBuffer before each submit. */
  private readonly uploadData = new Float32Array(UPLOAD_BYTES / 4);
  private uploadUsed = 0;
  /** A tensor went back to the pool since the last submit (its free lists need ordering again). */
  private poolDirty = false;
  private errors: string[] = [];
  lost: GpuLostError | null = null;
  /** Set to record per-dispatch GPU time (one compute pass per dispatch while on). */
  private profiling: { querySet: GPUQuerySet; resolve: GPUBuffer; labels: string[]; results: ProfileEntry[] } | null = null;
  dispatchCount = 0;
  /** Compute passes begun (a clear, copy or write between dispatches ends one): the bench reports it per step. */
  passCount = 0;
  /** Command buffers submitted. */
  submitCount = 0;
  /** A 64-element tensor bound where a layout needs a buffer the dispatch does not read. */
  readonly dummy: Tensor;
  /**
   * Wait for the GPU with a timer, not a spin (see `settle`): on by default for a CPU-like adapter
   * in Node, where Dawn's busy polling takes a core from the threads that run the kernels.
   * FACM_GENTLE_WAIT=0|1 overrides.
   */
  readonly gentleWait: boolean;

  constructor(acq: AcquiredDevice) {
    this.device = acq.device;
    this.limits_ = this.device.limits;
    this.maxWorkgroups = this.limits_.maxComputeWorkgroupsPerDimension;
    this.report = acq.report;
    this.hasTimestamps = this.device.features.has('timestamp-query');
    const force = typeof process !== 'undefined' ? process.env?.FACM_CPU_LIKE : undefined;
    this.cpuLike = force === '1' || (force !== '0' && (this.report.isFallback || /swiftshader|llvmpipe|lavapipe/i.test(`${this.report.architecture} ${this.report.description}`)));
    const gentle = typeof process !== 'undefined' ? process.env?.FACM_GENTLE_WAIT : undefined;
    this.gentleWait = this.report.backend === 'node' && (gentle === '1' || (gentle !== '0' && this.cpuLike));
    this.arena = this.device.createBuffer({
      label: 'uniform-arena',
      size: ARENA_SLOTS * UNIFORM_SLOT,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.uploadArena = this.device.createBuffer({ label: 'upload-arena', size: UPLOAD_BYTES, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.dummy = this.view(this.persistent(64, 'dummy'), 0, [64]);
    this.device.addEventListener('uncapturederror', (ev: Event) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.errors.push(err.message);
    });
    this.device.lost.then((info) => {
      this.lost = new GpuLostError(info.reason ?? 'unknown', info.message);
    });
  }

  /** The device's limits (read once: each read of device.limits is a call into the implementation). */
  get limits(): GPUSupportedLimits {
    return this.limits_;
  }

  /** Throws the first WebGPU validation/OOM error seen since the last check, or a device loss. */
  checkErrors(): void {
    if (this.lost) throw this.lost;
    if (this.errors.length) {
      const msg = this.errors.join('\n');
      this.errors = [];
      throw new Error(`WebGPU error: ${msg}`);
    }
  }

  // ---------------------------------------------------------------- buffers

  /** A pooled tensor of `shape` (contents undefined). Release it when its last use is recorded. */
  alloc(shape: readonly number[], label = 'tensor'): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    const bytes = Math.max(ALIGN, Math.ceil((size * 4) / ALIGN) * ALIGN);
    this.checkBindingSize(bytes, label);
    const bucket = this.free.get(bytes);
    let buffer = bucket?.pop();
    if (buffer) this.freeSet.delete(buffer);
    else {
      buffer = this.device.createBuffer({
        label,
        size: bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.live.add(buffer);
      this.poolBuffers.add(buffer);
      this.liveBytes += bytes;
    }
    const cap = this.capturing;
    if (cap) {
      cap.allocated.add(buffer);
      cap.out++;
    }
    return { buffer, offset: 0, size, shape: [...shape], pooled: true };
  }

  /** A tensor filled with zeros (recorded as a clear in the current encoder). */
  zeros(shape: readonly number[], label = 'zeros'): Tensor {
    const t = this.alloc(shape, label);
    this.clear(t);
    return t;
  }

  /** Returns a pooled tensor to the pool. Safe right after its last use is recorded: queue order protects it. */
  release(...ts: (Tensor | null | undefined)[]): void {
    for (const t of ts) {
      if (!t || !t.pooled) continue;
      const bytes = t.buffer.size;
      const bucket = this.free.get(bytes) ?? [];
      if (this.freeSet.has(t.buffer)) throw new Error(`double release of a ${bytes}-byte tensor`);
      bucket.push(t.buffer);
      this.freeSet.add(t.buffer);
      this.poolDirty = true;
      this.free.set(bytes, bucket);
      if (this.capturing?.allocated.has(t.buffer)) this.capturing.out--;
    }
  }

  /** A buffer outside the pool (parameters, optimizer state). Views into it via `view`. */
  persistent(elements: number, label: string): GPUBuffer {
    const bytes = Math.max(ALIGN, Math.ceil((elements * 4) / ALIGN) * ALIGN);
    this.checkBindingSize(bytes, label);
    const buffer = this.device.createBuffer({
      label,
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.live.add(buffer);
    this.liveBytes += bytes;
    return buffer;
  }

  view(buffer: GPUBuffer, offsetElements: number, shape: readonly number[]): Tensor {
    if ((offsetElements * 4) % ALIGN !== 0) throw new Error(`view offset ${offsetElements} is not ${ALIGN / 4}-element aligned`);
    const size = shape.reduce((a, b) => a * b, 1);
    if ((offsetElements + size) * 4 > buffer.size) throw new Error('view past the end of its buffer');
    return { buffer, offset: offsetElements * 4, size, shape: [...shape], pooled: false };
  }

  destroyBuffer(buffer: GPUBuffer): void {
    // Work recorded before the destroy goes first: a buffer destroyed under an unsubmitted command
    // buffer would fail the whole submit, and with it every other step's work in it.
    this.flush();
    // Bind groups over it must go: drop the cache (buffers are destroyed rarely: a model's disposal).
    if (this.bufferIds.has(buffer)) this.bindGroups.clear();
    this.epoch++;
    this.freeSet.delete(buffer);
    if (this.live.delete(buffer)) this.liveBytes -= buffer.size;
    for (const bucket of this.free.values()) {
      const i = bucket.indexOf(buffer);
      if (i >= 0) bucket.splice(i, 1);
    }
    buffer.destroy();
  }

  /** Live GPU buffers (pooled, free or not, and persistent) and their bytes. */
  memory(): { buffers: number; bytes: number; pooledFree: number } {
    let pooledFree = 0;
    for (const b of this.free.values()) pooledFree += b.length;
    return { buffers: this.live.size, bytes: this.liveBytes, pooledFree };
  }

  private checkBindingSize(bytes: number, label: string): void {
    const lim = this.limits_;
    if (bytes > lim.maxStorageBufferBindingSize || bytes > lim.maxBufferSize) {
      const which = bytes > lim.maxStorageBufferBindingSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
      const limit = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
      throw new RangeError(
        `${label}: ${(bytes / 2 ** 20).toFixed(1)} MiB exceeds this adapter's ${which} (${(limit / 2 ** 20).toFixed(1)} MiB). ` +
          'Use a smaller batch or model preset.',
      );
    }
  }

  upload(data: ArrayLike<number>, shape: readonly number[], label = 'upload'): Tensor {
    const t = this.alloc(shape, label);
    this.write(t, data);
    return t;
  }

  /**
   * Record a write of `data` into `t`, ordered with the dispatches around it: the data goes into an
   * upload arena (written to the GPU just before the next submit) and a recorded copy moves it into
   * place. So uploads inside a step cost no extra submit. Oversized writes flush and go direct.
   */
  write(t: Tensor, data: ArrayLike<number>): void {
    if (data.length !== t.size) throw new Error(`write: ${data.length} values into a tensor of ${t.size}`);
    const cap = this.capturing;
    if (cap) {
      this.checkCaptured([t]);
      cap.ops.push({ kind: 'write', t, input: cap.inputs.indexOf(data), data: Float32Array.from(data) });
    }
    this.stage(t, data);
  }

  /** Records the upload of `data` (copied now) into `t`. */
  private stage(t: Tensor, data: ArrayLike<number>): void {
    const bytes = data.length * 4;
    if (bytes === 0) return;
    if (bytes > UPLOAD_BYTES) {
      this.flush();
      const f = data instanceof Float32Array ? data : Float32Array.from(data);
      this.device.queue.writeBuffer(t.buffer, t.offset, f.buffer, f.byteOffset, bytes);
      return;
    }
    if (this.uploadUsed + bytes > UPLOAD_BYTES) this.flush();
    this.uploadData.set(data, this.uploadUsed / 4);
    this.endPass();
    this.enc().copyBufferToBuffer(this.uploadArena, this.uploadUsed, t.buffer, t.offset, bytes);
    this.uploadUsed += bytes;
  }

  /** Record a zero-fill of `t`. */
  clear(t: Tensor): void {
    const bytes = t.size * 4;
    if (this.capturing) {
      this.checkCaptured([t]);
      this.capturing.ops.push({ kind: 'clear', buffer: t.buffer, offset: t.offset, bytes });
    }
    this.endPass();
    this.enc().clearBuffer(t.buffer, t.offset, bytes);
  }

  /** Record a copy src → dst (same element count). */
  copy(src: Tensor, dst: Tensor): void {
    if (src.size !== dst.size) throw new Error(`copy: ${src.size} → ${dst.size} elements`);
    if (this.capturing) {
      this.checkCaptured([src, dst]);
      this.capturing.ops.push({ kind: 'copy', src: src.buffer, srcOffset: src.offset, dst: dst.buffer, dstOffset: dst.offset, bytes: src.size * 4 });
    }
    this.endPass();
    this.enc().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.size * 4);
  }

  /** Submit pending work and read `t` back. The only place the CPU waits for the GPU. */
  async read(t: Tensor): Promise<Float32Array> {
    if (this.capturing) throw new Error('read: a captured piece of work cannot read back (a replay could not)');
    const bytes = t.size * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass();
    if (bytes > 0) this.enc().copyBufferToBuffer(t.buffer, t.offset, staging, 0, bytes);
    this.flush();
    try {
      await this.settle(staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      this.checkErrors();
      throw e;
    }
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    this.checkErrors();
    return out.subarray(0, t.size);
  }

  // ------------------------------------------------------------- pipelines

  private shaderModule(mod: KernelModule): GPUShaderModule {
    let sm = this.modules.get(mod.name);
    if (!sm) {
      sm = this.device.createShaderModule({ label: mod.name, code: mod.code });
      this.modules.set(mod.name, sm);
    }
    return sm;
  }

  private layoutFor(vars: readonly VarBinding[]): { layout: GPUBindGroupLayout; id: number } {
    const key = vars.map((v) => `${v.binding}${v.kind}`).join(',');
    let l = this.layouts.get(key);
    if (!l) {
      const layout = this.device.createBindGroupLayout({
        entries: vars.map((v) => ({
          binding: v.binding,
          visibility: GPUShaderStage.COMPUTE,
          // The uniform sits in the arena at a per-dispatch offset: a dynamic offset, so one bind
          // group serves every dispatch with the same buffers.
          buffer: v.kind === 'uniform' ? { type: 'uniform', hasDynamicOffset: true } : { type: v.kind === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      l = { layout, id: this.layouts.size };
      this.layouts.set(key, l);
    }
    return l;
  }

  /** `entry` of `mod` resolved against the module's WGSL (once per Gpu). */
  private entryInfo(mod: KernelModule, entry: string): EntryInfo {
    let perModule = this.entryInfos.get(mod);
    if (!perModule) this.entryInfos.set(mod, (perModule = new Map()));
    let info = perModule.get(entry);
    if (info) return info;
    const names = mod.entries[entry];
    if (!names) throw new Error(`${mod.name} has no entry point ${entry}`);
    const vars = parseBindings(mod.code, mod.name);
    const used = names.map((n) => {
      const v = vars.get(n);
      if (!v) throw new Error(`${mod.name}.${entry}: no variable ${n} in the WGSL (have ${[...vars.keys()].join(', ')})`);
      return v;
    });
    const u = used.findIndex((v) => v.kind === 'uniform');
    if (u > 0 || used.filter((v) => v.kind === 'uniform').length > 1) throw new Error(`${mod.name}.${entry}: the uniform must be the first and only uniform variable`);
    const { layout, id } = this.layoutFor(used);
    info = {
      label: `${mod.name}.${entry}`,
      layout,
      layoutId: id,
      slots: used.filter((v) => v.kind !== 'uniform').map((v) => v.binding),
      uniformSlot: u === 0 ? used[0].binding : -1,
      uniform: u === 0 ? structLayout(mod.code, used[0].type) : null,
      pipelines: new Map(),
    };
    if (info.uniform && info.uniform.size > UNIFORM_SLOT) throw new Error(`${info.label}: uniform ${info.uniform.name} is ${info.uniform.size} bytes, more than a ${UNIFORM_SLOT}-byte arena slot`);
    perModule.set(entry, info);
    return info;
  }

  /** The uniform layout of an entry point, as the runtime packs it (tests pin it against the WGSL). */
  uniformLayout(mod: KernelModule, entry: string): StructLayout | null {
    return this.entryInfo(mod, entry).uniform;
  }

  /** Pipeline cache key: module name, entry point and override constants, spelled out. */
  pipeline(mod: KernelModule, entry: string, constants: Record<string, number> = {}): GPUComputePipeline {
    return this.pipelineFor(mod, entry, this.entryInfo(mod, entry), constants);
  }

  private pipelineFor(mod: KernelModule, entry: string, info: EntryInfo, constants: Record<string, number>): GPUComputePipeline {
    // Fast path: the constants as the call site spells them (insertion order, no sort).
    const fast = JSON.stringify(constants);
    let p = info.pipelines.get(fast);
    if (p) return p;
    const ckeys = Object.keys(constants).sort();
    const key = `${mod.name}:${entry}:${ckeys.map((k) => `${k}=${constants[k]}`).join(',')}`;
    p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({
        label: key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [info.layout] }),
        compute: { module: this.shaderModule(mod), entryPoint: entry, constants },
      });
      this.pipelines.set(key, p);
    }
    info.pipelines.set(fast, p);
    return p;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /** Bind groups created so far (a warm step creates none: they are cached by layout and buffers). */
  bindGroupsCreated = 0;

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  /** The bind group of `info` over `bindings` (the arena's uniform slot rides on a dynamic offset). */
  private bindGroup(info: EntryInfo, bindings: readonly Binding[]): GPUBindGroup {
    let key = `${info.layoutId}`;
    for (let i = 0; i < bindings.length; i++) {
      const b = bindings[i];
      const size = 'shape' in b ? Math.max(4, b.size * 4) : ((b as GPUBufferBinding).size ?? b.buffer.size - (b.offset ?? 0));
      key += `|${this.bufferId(b.buffer)}:${b.offset ?? 0}:${size}`;
    }
    let bg = this.bindGroups.get(key);
    if (bg) return bg;
    const entries: GPUBindGroupEntry[] = [];
    if (info.uniform) entries.push({ binding: info.uniformSlot, resource: { buffer: this.arena, offset: 0, size: UNIFORM_SLOT } });
    for (let i = 0; i < bindings.length; i++) {
      const b = bindings[i];
      const resource: GPUBufferBinding = 'shape' in b ? { buffer: b.buffer, offset: b.offset, size: Math.max(4, b.size * 4) } : b;
      entries.push({ binding: info.slots[i], resource });
    }
    if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
    bg = this.device.createBindGroup({ label: info.label, layout: info.layout, entries });
    this.bindGroups.set(key, bg);
    this.bindGroupsCreated++;
    return bg;
  }

  /** Writes `values` into arena slot `slot` at the offsets of `layout`; throws naming a missing, unknown or ill-typed field. */
  private packUniform(label: string, layout: StructLayout, values: Uniforms, slot: number): void {
    const base = (slot * UNIFORM_SLOT) / 4;
    let given = 0;
    for (const f of layout.fields) {
      const v = values[f.name];
      const at = base + f.offset / 4;
      if (v === undefined) {
        if (!isPadding(f.name)) throw new Error(`${label}: uniform field ${layout.name}.${f.name} not given`);
        for (let j = 0; j < f.width; j++) this.arenaData[at + j] = 0;
        continue;
      }
      given++;
      if (f.width === 1) {
        if (typeof v !== 'number') throw new Error(`${label}: uniform field ${layout.name}.${f.name} is a scalar`);
        this.writeScalar(label, layout, f, at, v);
      } else {
        if (typeof v === 'number' || v.length !== f.width) throw new Error(`${label}: uniform field ${layout.name}.${f.name} wants ${f.width} values`);
        for (let j = 0; j < f.width; j++) this.writeScalar(label, layout, f, at + j, v[j]);
      }
    }
    let n = 0;
    for (const _ in values) n++;
    if (n !== given) {
      const unknown = Object.keys(values).filter((k) => !layout.fields.some((f) => f.name === k));
      throw new Error(`${label}: ${layout.name} has no field ${unknown.join(', ')} (fields: ${layout.fields.map((f) => f.name).join(', ')})`);
    }
  }

  private writeScalar(label: string, layout: StructLayout, f: UniformField, at: number, v: number): void {
    if (f.scalar === 'f32') this.arenaF32[at] = v;
    else if (f.scalar === 'u32') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`${label}: uniform u32 ${layout.name}.${f.name} out of range: ${v}`);
      this.arenaData[at] = v >>> 0;
    } else {
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`${label}: uniform i32 ${layout.name}.${f.name} out of range: ${v}`);
      this.arenaI32[at] = v;
    }
  }

  // -------------------------------------------------------------- dispatch

  private enc(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Whether dispatches are being timed (a caller may then pass a `detail` for the profile's label). */
  get profilingOn(): boolean {
    return this.profiling !== null;
  }

  /**
   * Record one dispatch. `bindings` follow the entry's variable list after its uniform; `uniforms`
   * gives the uniform's fields by name (null for an entry without one). `detail` is appended to the
   * profile label (e.g. the matmul variant and shape).
   */
  dispatch(
    mod: KernelModule,
    entry: string,
    uniforms: Uniforms | null,
    bindings: readonly Binding[],
    workgroups: readonly [number, number?, number?],
    constants: Record<string, number> = {},
    detail?: string,
  ): void {
    const info = this.entryInfo(mod, entry);
    if (bindings.length !== info.slots.length) throw new Error(`${info.label}: ${bindings.length} bindings for ${info.slots.length} storage variables (${mod.entries[entry].join(', ')})`);
    const x = workgroups[0];
    const y = workgroups[1] ?? 1;
    const z = workgroups[2] ?? 1;
    const maxWg = this.maxWorkgroups;
    if (x > maxWg || y > maxWg || z > maxWg) throw new RangeError(`${info.label}: grid ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension ${maxWg}`);
    if (x === 0 || y === 0 || z === 0) return;

    const pipeline = this.pipelineFor(mod, entry, info, constants);
    const bindGroup = this.bindGroup(info, bindings);
    let words = 0;
    if (info.uniform) {
      if (!uniforms) throw new Error(`${info.label} needs uniforms (${info.uniform.fields.map((f) => f.name).join(', ')})`);
      if (this.arenaUsed === ARENA_SLOTS) this.flush();
      this.packUniform(info.label, info.uniform, uniforms, this.arenaUsed);
      words = Math.ceil(info.uniform.size / 4);
    } else if (uniforms) throw new Error(`${info.label} has no uniform`);
    const cap = this.capturing;
    if (cap) {
      this.checkCaptured(bindings);
      const at = cap.uniforms.length;
      const base = (this.arenaUsed * UNIFORM_SLOT) / 4;
      for (let j = 0; j < words; j++) cap.uniforms.push(this.arenaData[base + j]);
      cap.ops.push({ kind: 'dispatch', pipeline, bindGroup, label: info.label, words, at, x, y, z });
    }
    this.encode(pipeline, bindGroup, words > 0, x, y, z, detail ? `${info.label} ${detail}` : info.label);
  }

  /** Encodes one dispatch whose uniform (if `uniform`) is in arena slot `arenaUsed`. */
  private encode(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, uniform: boolean, x: number, y: number, z: number, label: string): void {
    if (uniform) this.dynamicOffset[0] = this.arenaUsed++ * UNIFORM_SLOT;
    let pass: GPUComputePassEncoder;
    if (this.profiling) {
      this.endPass();
      const i = this.profiling.labels.length;
      if (2 * i + 2 > this.profiling.querySet.count) this.collectProfile();
      const j = this.profiling.labels.length;
      this.profiling.labels.push(label);
      pass = this.enc().beginComputePass({ timestampWrites: { querySet: this.profiling.querySet, beginningOfPassWriteIndex: 2 * j, endOfPassWriteIndex: 2 * j + 1 } });
    } else {
      if (!this.pass) {
        this.pass = this.enc().beginComputePass();
        this.passCount++;
      }
      pass = this.pass;
    }
    if (pass !== this.lastPass || pipeline !== this.lastPipeline) pass.setPipeline(pipeline);
    this.lastPass = pass;
    this.lastPipeline = pipeline;
    if (uniform) pass.setBindGroup(0, bindGroup, this.dynamicOffset, 0, 1);
    else pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiling) pass.end();
    this.dispatchCount++;
  }

  // ------------------------------------------------------ capture / replay

  /**
   * Runs `fn` and keeps what it records as a Recording (it is recorded as usual too). `inputs` are
   * the arrays whose uploads change between replays: an upload of one of them (the same object) is
   * replayed with the replay's array at that index; any other upload with the data it had now.
   * `fn` must release every pooled tensor it allocates and read nothing back; pooled tensors from
   * outside it must stay held, the same ones, while it is replayed. The rest (uniform values,
   * grids, buffers) is frozen in the recording, so whatever changes them must be part of the
   * caller's key for it (`Recording.differsFrom` tells two captures apart).
   */
  capture<T>(inputs: readonly object[], fn: () => T): { result: T; recording: Recording } {
    if (this.capturing) throw new Error('capture: already capturing');
    if (this.profiling) throw new Error('capture: not while profiling (a replay is not timed per dispatch)');
    const cap: Capture = { ops: [], inputs, uniforms: [], allocated: new Set(), out: 0, external: new Set() };
    this.capturing = cap;
    let result: T;
    try {
      result = fn();
    } finally {
      this.capturing = null;
    }
    if (cap.out !== 0) throw new Error(`capture: the captured code kept ${cap.out} pooled tensor(s); release them inside it`);
    return { result, recording: new Recording(cap.ops, Uint32Array.from(cap.uniforms), [...cap.allocated], [...cap.external], this.epoch) };
  }

  /** Notes the pooled buffers a captured command uses that the capture did not allocate. */
  private checkCaptured(bindings: readonly Binding[]): void {
    const cap = this.capturing!;
    for (const b of bindings) if (this.poolBuffers.has(b.buffer) && !cap.allocated.has(b.buffer)) cap.external.add(b.buffer);
  }

  /**
   * Records `rec`'s commands again, uploads taking `inputs` (as `capture` matched them). Returns
   * false, recording nothing, when it cannot: a buffer destroyed since the capture, one of its
   * pooled buffers in use (or an outside one back in the pool), or profiling on (capture again then).
   */
  replay(rec: Recording, inputs: readonly ArrayLike<number>[]): boolean {
    if (rec.epoch !== this.epoch || this.profiling || this.capturing) return false;
    for (const b of rec.pooled) if (!this.freeSet.has(b)) return false;
    for (const b of rec.external) if (this.freeSet.has(b)) return false;
    const u = rec.uniforms;
    const ops = rec.ops;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (op.kind === 'dispatch') {
        if (op.words > 0) {
          if (this.arenaUsed === ARENA_SLOTS) this.flush();
          const base = (this.arenaUsed * UNIFORM_SLOT) / 4;
          for (let j = 0; j < op.words; j++) this.arenaData[base + j] = u[op.at + j];
        }
        this.encode(op.pipeline, op.bindGroup, op.words > 0, op.x, op.y, op.z, op.label);
      } else if (op.kind === 'write') {
        const d = op.input < 0 ? op.data : inputs[op.input];
        if (d.length !== op.t.size) throw new Error(`replay: input ${op.input} has ${d.length} values, the recording uploaded ${op.t.size}`);
        this.stage(op.t, d);
      } else if (op.kind === 'clear') {
        this.endPass();
        this.enc().clearBuffer(op.buffer, op.offset, op.bytes);
      } else {
        this.endPass();
        this.enc().copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.bytes);
      }
    }
    return true;
  }

  /**
   * Puts each free list in buffer-id order. A step releases its tensors in another order than it
   * allocated them, so without this the pool would hand the next step a permutation of its buffers,
   * and every step would need new bind groups; in id order, a step that repeats its allocations
   * gets the same buffers, and its bind groups come from the cache.
   */
  private canonicalPool(): void {
    for (const bucket of this.free.values()) if (bucket.length > 1) bucket.sort((a, b) => this.bufferId(b) - this.bufferId(a));
  }

  /** Submit everything recorded so far (one command buffer). */
  flush(): void {
    this.endPass();
    if (!this.encoder && this.arenaUsed === 0) return;
    if (this.poolDirty) this.canonicalPool();
    this.poolDirty = false;
    if (this.uploadUsed > 0) this.device.queue.writeBuffer(this.uploadArena, 0, this.uploadData.buffer, 0, this.uploadUsed);
    this.uploadUsed = 0;
    if (this.arenaUsed > 0) {
      this.device.queue.writeBuffer(this.arena, 0, this.arenaData.buffer, 0, this.arenaUsed * UNIFORM_SLOT);
      this.arenaUsed = 0;
    }
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.submitCount++;
    }
  }

  /** Resolves when the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.settle(this.device.queue.onSubmittedWorkDone());
    this.checkErrors();
  }

  /**
   * Awaits a promise of the device. Dawn in Node resolves them by polling itself through
   * `setImmediate` for as long as one is pending: a busy loop that holds a CPU core for the whole
   * wait. On a CPU-like adapter the kernels run on those same cores (SwiftShader's threads), so
   * with `gentleWait` the global setImmediate is routed through a 1 ms timer while our waits are
   * pending: Dawn then polls about a thousand times a second instead of spinning. Waits may overlap
   * (a drain during a sync); the last one to finish puts setImmediate back.
   */
  async settle<T>(p: Promise<T>): Promise<T> {
    if (!this.gentleWait) return p;
    const g = globalThis as { setImmediate?: unknown; clearImmediate?: unknown };
    if (Gpu.gentleDepth++ === 0) {
      const realClear = g.clearImmediate as (h: unknown) => void;
      Gpu.real = { set: g.setImmediate, clear: realClear };
      g.setImmediate = (fn: (...a: unknown[]) => void, ...args: unknown[]) => setTimeout(fn, 1, ...args);
      // A handle from the timer above is a Timeout: clear it as one.
      g.clearImmediate = (h: unknown) => (h && typeof h === 'object' && '_onTimeout' in h ? clearTimeout(h as ReturnType<typeof setTimeout>) : realClear(h));
    }
    try {
      return await p;
    } finally {
      if (--Gpu.gentleDepth === 0) {
        g.setImmediate = Gpu.real.set;
        g.clearImmediate = Gpu.real.clear;
      }
    }
  }

  private static gentleDepth = 0;
  private static real: { set: unknown; clear: unknown } = { set: undefined, clear: undefined };

  // ------------------------------------------------------------- profiling

  startProfile(maxDispatches = 2048): boolean {
    if (!this.hasTimestamps) return false;
    this.flush();
    const count = 2 * maxDispatches;
    this.profiling = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count }),
      resolve: this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
      labels: [],
      results: [],
    };
    this.pendingProfiles = [];
    return true;
  }

  private pendingProfiles: Promise<void>[] = [];

  private collectProfile(): void {
    const prof = this.profiling!;
    const n = prof.labels.length;
    if (n === 0) return;
    this.endPass();
    const readBuf = this.device.createBuffer({ size: n * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.enc().resolveQuerySet(prof.querySet, 0, 2 * n, prof.resolve, 0);
    this.enc().copyBufferToBuffer(prof.resolve, 0, readBuf, 0, n * 16);
    const labels = prof.labels.splice(0);
    this.flush();
    this.pendingProfiles.push(
      this.settle(readBuf.mapAsync(GPUMapMode.READ)).then(() => {
        const ts = new BigInt64Array(readBuf.getMappedRange());
        for (let i = 0; i < labels.length; i++) prof.results.push({ label: labels[i], ms: Number(ts[2 * i + 1] - ts[2 * i]) / 1e6 });
        readBuf.unmap();
        readBuf.destroy();
      }),
    );
  }

  /** Stop profiling; returns GPU time per dispatch in recording order. */
  async stopProfile(): Promise<ProfileEntry[]> {
    if (!this.profiling) return [];
    this.collectProfile();
    this.flush();
    await Promise.all(this.pendingProfiles);
    const out = this.profiling.results;
    this.profiling.querySet.destroy();
    this.profiling.resolve.destroy();
    this.profiling = null;
    return out;
  }

  destroy(): void {
    this.flush();
    this.device.destroy();
  }
}
