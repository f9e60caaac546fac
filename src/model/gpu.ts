// The DiT's parameters on the GPU: one flat, persistent buffer per parameter-sized array
// (parameters, gradients, EMA, Adam moments, a teacher), and named views into it in the layout of
// the parameter table. Every GPU caller (trainer, CLI, bench, tests) builds its views here.

import type { Gpu, Tensor } from '../gpu/runtime';
import { gpuBackend } from '../ops/backend';
import type { DiTConfig } from './config';
import { DiT, type Params } from './dit';
import { paramTable, type ParamTable } from './params';

/** Named views into a flat parameter-sized tensor (at any offset inside its buffer). */
export function paramViews(gpu: Gpu, table: ParamTable, flat: Tensor): Params<Tensor> {
  const base = flat.offset / 4;
  const views = new Map(table.specs.map((s) => [s.name, gpu.view(flat.buffer, base + s.offset, s.shape)]));
  return (name) => views.get(name) ?? (() => { throw new Error(`no parameter ${name}`); })();
}

/** A persistent buffer of `table.total` floats (written from `values` when given), and its views. */
export function paramBuffer(gpu: Gpu, table: ParamTable, values: Float32Array | null, label: string): { flat: Tensor; P: Params<Tensor> } {
  if (values && values.length !== table.total) throw new Error(`${label}: ${values.length} values, the model has ${table.total} parameters`);
  const flat = gpu.view(gpu.persistent(table.total, label), 0, [table.total]);
  if (values) gpu.write(flat, values);
  return { flat, P: paramViews(gpu, table, flat) };
}

/** A DiT on the GPU with the given weights (a checkpoint's parameters or EMA, a teacher). */
export function modelOnGpu(gpu: Gpu, cfg: DiTConfig, weights: Float32Array, label = 'params'): { model: DiT<Tensor>; P: Params<Tensor>; flat: Tensor } {
  const table = paramTable(cfg);
  const { flat, P } = paramBuffer(gpu, table, weights, label);
  return { model: new DiT(gpuBackend(gpu), cfg, table), P, flat };
}
