// The GPU runtime: tensors, a buffer pool, a pipeline cache keyed explicitly, batched dispatch into
// one command encoder, a uniform arena, timestamp profiling and device-loss reporting.
//
// Dispatches are recorded into one compute pass until `flush()` (or a read-back) submits them.
// Each dispatch gets its own 256-byte slot of a uniform arena, written once per submit, so a whole
// training step is one command buffer and one writeBuffer of uniforms.

import type { AcquiredDevice, AdapterReport } from './device';

/** A view of f32 elements in a GPU buffer. `offset` is in bytes and 256-aligned (a binding offset). */
export interface Tensor {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly size: number; // elements
  readonly shape: readonly number[];
  /** Pooled tensors go back to the pool on release; views and persistent tensors do not. */
  readonly pooled: boolean;
}

export type BindingKind = 'uniform' | 'read' | 'rw';

/** One WGSL entry point and the layout of its bindings (binding i has kind layout[i]). */
export interface KernelEntry {
  entry: string;
  layout: readonly BindingKind[];
}

/** A WGSL module: source plus its entry points. Pipelines are cached per (module, entry, constants). */
export interface KernelModule<E extends string = string> {
  name: string;
  code: string;
  entries: Record<E, readonly BindingKind[]>;
}

export type Binding = Tensor | GPUBufferBinding;

export class Params {
  private readonly words: number[] = [];
  private readonly f32 = new Float32Array(1);
  private readonly u32 = new Uint32Array(this.f32.buffer);
  u(...xs: number[]): this {
    for (const x of xs) {
      if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new Error(`uniform u32 out of range: ${x}`);
      this.words.push(x >>> 0);
    }
    return this;
  }
  i(...xs: number[]): this {
    for (const x of xs) this.words.push(x | 0);
    return this;
  }
  f(...xs: number[]): this {
    for (const x of xs) {
      this.f32[0] = x;
      this.words.push(this.u32[0]);
    }
    return this;
  }
  get length(): number {
    return this.words.length;
  }
  toArray(): readonly number[] {
    return this.words;
  }
}

export const P = (): Params => new Params();

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment's largest allowed value
const ARENA_SLOTS = 1024;
const ALIGN = 256; // minStorageBufferOffsetAlignment's largest allowed value
const UPLOAD_BYTES = 8 << 20; // staging for uploads recorded inside a command buffer

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
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  private liveBytes = 0;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly arena: GPUBuffer;
  private readonly arenaData = new Uint32Array((ARENA_SLOTS * UNIFORM_SLOT) / 4);
  private arenaUsed = 0;
  private readonly uploadArena: GPUBuffer;
  private staged: { data: Float32Array; offset: number }[] = [];
  private uploadUsed = 0;
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

  constructor(acq: AcquiredDevice) {
    this.device = acq.device;
    this.report = acq.report;
    this.hasTimestamps = this.device.features.has('timestamp-query');
    const force = typeof process !== 'undefined' ? process.env?.FACM_CPU_LIKE : undefined;
    this.cpuLike = force === '1' || (force !== '0' && (this.report.isFallback || /swiftshader|llvmpipe|lavapipe/i.test(`${this.report.architecture} ${this.report.description}`)));
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

  get limits(): GPUSupportedLimits {
    return this.device.limits;
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
    if (!buffer) {
      buffer = this.device.createBuffer({
        label,
        size: bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.live.add(buffer);
      this.liveBytes += bytes;
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
      if (bucket.includes(t.buffer)) throw new Error(`double release of a ${bytes}-byte tensor`);
      bucket.push(t.buffer);
      this.free.set(bytes, bucket);
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
    const lim = this.device.limits;
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
    const f = data instanceof Float32Array ? data.slice() : Float32Array.from(data);
    const bytes = f.byteLength;
    if (bytes === 0) return;
    if (bytes > UPLOAD_BYTES) {
      this.flush();
      this.device.queue.writeBuffer(t.buffer, t.offset, f.buffer, f.byteOffset, bytes);
      return;
    }
    if (this.uploadUsed + bytes > UPLOAD_BYTES) this.flush();
    this.staged.push({ data: f, offset: this.uploadUsed });
    this.endPass();
    this.enc().copyBufferToBuffer(this.uploadArena, this.uploadUsed, t.buffer, t.offset, bytes);
    this.uploadUsed += bytes;
  }

  /** Record a zero-fill of `t`. */
  clear(t: Tensor): void {
    this.endPass();
    this.enc().clearBuffer(t.buffer, t.offset, Math.ceil((t.size * 4) / 4) * 4);
  }

  /** Record a copy src → dst (same element count). */
  copy(src: Tensor, dst: Tensor): void {
    if (src.size !== dst.size) throw new Error(`copy: ${src.size} → ${dst.size} elements`);
    this.endPass();
    this.enc().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.size * 4);
  }

  /** Submit pending work and read `t` back. The only place the CPU waits for the GPU. */
  async read(t: Tensor): Promise<Float32Array> {
    const bytes = t.size * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass();
    if (bytes > 0) this.enc().copyBufferToBuffer(t.buffer, t.offset, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
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

  private layoutFor(kinds: readonly BindingKind[]): GPUBindGroupLayout {
    const key = kinds.join(',');
    let l = this.layouts.get(key);
    if (!l) {
      l = this.device.createBindGroupLayout({
        entries: kinds.map((k, i) => ({
          binding: i,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: k === 'uniform' ? 'uniform' : k === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(key, l);
    }
    return l;
  }

  /** Pipeline cache key: module name, entry point and override constants, spelled out. */
  pipeline(mod: KernelModule, entry: string, constants: Record<string, number> = {}): GPUComputePipeline {
    const ckeys = Object.keys(constants).sort();
    const key = `${mod.name}:${entry}:${ckeys.map((k) => `${k}=${constants[k]}`).join(',')}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const kinds = mod.entries[entry];
      if (!kinds) throw new Error(`${mod.name} has no entry point ${entry}`);
      p = this.device.createComputePipeline({
        label: key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.layoutFor(kinds)] }),
        compute: { module: this.shaderModule(mod), entryPoint: entry, constants },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
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

  /**
   * Record one dispatch. `bindings` follow the entry's layout; if the layout starts with a uniform,
   * `params` fills it (the caller passes the other bindings only).
   */
  dispatch(
    mod: KernelModule,
    entry: string,
    params: Params | null,
    bindings: Binding[],
    workgroups: readonly [number, number?, number?],
    constants: Record<string, number> = {},
  ): void {
    const kinds = mod.entries[entry];
    if (!kinds) throw new Error(`${mod.name} has no entry point ${entry}`);
    const hasUniform = kinds[0] === 'uniform';
    if (bindings.length + (hasUniform ? 1 : 0) !== kinds.length)
      throw new Error(`${mod.name}.${entry}: ${bindings.length} bindings for a layout of ${kinds.length}`);
    const [x, y = 1, z = 1] = workgroups;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) throw new RangeError(`${mod.name}.${entry}: grid ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension ${maxWg}`);
    if (x === 0 || y === 0 || z === 0) return;

    const entries: GPUBindGroupEntry[] = [];
    if (hasUniform) {
      if (!params) throw new Error(`${mod.name}.${entry} needs params`);
      if (this.arenaUsed === ARENA_SLOTS) this.flush();
      const words = params.toArray();
      if (words.length * 4 > UNIFORM_SLOT) throw new Error('uniform block larger than 256 bytes');
      const base = (this.arenaUsed * UNIFORM_SLOT) / 4;
      for (let i = 0; i < words.length; i++) this.arenaData[base + i] = words[i];
      entries.push({ binding: 0, resource: { buffer: this.arena, offset: this.arenaUsed * UNIFORM_SLOT, size: Math.max(16, Math.ceil(words.length / 4) * 16) } });
      this.arenaUsed++;
    }
    bindings.forEach((b, i) => {
      const binding = i + (hasUniform ? 1 : 0);
      if ('buffer' in b && 'shape' in b) {
        const t = b as Tensor;
        entries.push({ binding, resource: { buffer: t.buffer, offset: t.offset, size: Math.max(4, t.size * 4) } });
      } else entries.push({ binding, resource: b as GPUBufferBinding });
    });

    const pipeline = this.pipeline(mod, entry, constants);
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const label = `${mod.name}.${entry}`;
    if (this.profiling) {
      this.endPass();
      const i = this.profiling.labels.length;
      if (2 * i + 2 > this.profiling.querySet.count) this.collectProfile();
      const j = this.profiling.labels.length;
      this.profiling.labels.push(label);
      const pass = this.enc().beginComputePass({ timestampWrites: { querySet: this.profiling.querySet, beginningOfPassWriteIndex: 2 * j, endOfPassWriteIndex: 2 * j + 1 } });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
    } else {
      if (!this.pass) {
        this.pass = this.enc().beginComputePass();
        this.passCount++;
      }
      this.pass.setPipeline(pipeline);
      this.pass.setBindGroup(0, bindGroup);
      this.pass.dispatchWorkgroups(x, y, z);
    }
    this.dispatchCount++;
  }

  /** Submit everything recorded so far (one command buffer). */
  flush(): void {
    this.endPass();
    if (!this.encoder && this.arenaUsed === 0) return;
    for (const s of this.staged) this.device.queue.writeBuffer(this.uploadArena, s.offset, s.data.buffer, s.data.byteOffset, s.data.byteLength);
    this.staged = [];
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
    await this.device.queue.onSubmittedWorkDone();
    this.checkErrors();
  }

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
      readBuf.mapAsync(GPUMapMode.READ).then(() => {
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
