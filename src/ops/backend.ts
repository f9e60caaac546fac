// A Backend runs the op table on one kind of tensor: f64 arrays on the CPU (the reference) or
// f32 GPU tensors. The model and objectives are written once against Backend<T>, so the whole-model
// f64 reference and the GPU model are the same composition of independently tested ops.

import type { Gpu, Tensor } from '../gpu/runtime';
import { cpuOps, gpuOps, type OpSet } from './table';

export interface Backend<T> {
  readonly kind: 'cpu' | 'gpu';
  readonly ops: OpSet<T>;
  fromArray(data: ArrayLike<number>, shape: readonly number[]): T;
  zeros(shape: readonly number[]): T;
  /** A tensor the caller writes in full before anything reads it (GPU: from the pool, not cleared). */
  empty(shape: readonly number[]): T;
  toArray(t: T): Promise<Float64Array>;
  /**
   * Elements [offset, offset + size of shape) of `t` as a tensor sharing its storage (writes through
   * it land in `t`). GPU: the offset must keep the 256-byte binding alignment (`canSlice`).
   */
  slice(t: T, offset: number, shape: readonly number[]): T;
  /** Whether `slice` can start at `offset` elements into a tensor that starts aligned. */
  canSlice(offset: number): boolean;
  /** Marks the end of a temporary's life (GPU: back to the pool; CPU: nothing). */
  release(...ts: (T | null | undefined)[]): void;
}

export function cpuBackend(): Backend<Float64Array> {
  return {
    kind: 'cpu',
    ops: cpuOps,
    fromArray: (data) => Float64Array.from(data),
    zeros: (shape) => new Float64Array(shape.reduce((a, b) => a * b, 1)),
    empty: (shape) => new Float64Array(shape.reduce((a, b) => a * b, 1)),
    toArray: async (t) => t,
    slice: (t, offset, shape) => t.subarray(offset, offset + shape.reduce((a, b) => a * b, 1)),
    canSlice: () => true,
    release: () => {},
  };
}

export function gpuBackend(gpu: Gpu): Backend<Tensor> {
  return {
    kind: 'gpu',
    ops: gpuOps(gpu),
    fromArray: (data, shape) => gpu.upload(data, shape),
    zeros: (shape) => gpu.zeros(shape),
    empty: (shape) => gpu.alloc(shape),
    toArray: async (t) => Float64Array.from(await gpu.read(t)),
    slice: (t, offset, shape) => gpu.view(t.buffer, t.offset / 4 + offset, shape),
    canSlice: (offset) => offset % 64 === 0,
    release: (...ts) => gpu.release(...ts),
  };
}
