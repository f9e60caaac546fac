// The op table: every differentiable op family with forward, jvp and backward, on both backends.
// `Complete` turns a family missing any of the three into `never`, so it fails to type-check.

import type { Gpu, Tensor } from '../gpu/runtime';
import { linearCpu, linearGpu, type LinearOps } from './linear';

export interface OpSet<T> {
  linear: LinearOps<T>;
}

type Differentiable = { forward: unknown; jvp: unknown; backward: unknown };
type Complete<S> = { [K in keyof S]: S[K] extends Differentiable ? S[K] : never };

export const cpuOps: Complete<OpSet<Float64Array>> = {
  linear: linearCpu,
};

export function gpuOps(gpu: Gpu): Complete<OpSet<Tensor>> {
  return {
    linear: linearGpu(gpu),
  };
}
