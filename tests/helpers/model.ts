// Builds the same DiT on the f64 CPU reference and on the GPU from one flat parameter vector.
import type { Gpu, Tensor } from '../../src/gpu/runtime';
import { cpuBackend, gpuBackend } from '../../src/ops/backend';
import { DiT, type Params } from '../../src/model/dit';
import type { DiTConfig } from '../../src/model/config';
import { paramTable, type ParamTable } from '../../src/model/params';
import { paramBuffer } from '../../src/model/gpu';

export function cpuParams(table: ParamTable, flat: ArrayLike<number>): { P: Params<Float64Array>; flat: Float64Array } {
  const f = Float64Array.from(flat);
  return { P: (n) => { const s = table.byName.get(n)!; return f.subarray(s.offset, s.offset + s.size); }, flat: f };
}

export function gpuParams(gpu: Gpu, table: ParamTable, flat: Float32Array | null, label: string): { P: Params<Tensor>; buffer: GPUBuffer } {
  const { flat: t, P } = paramBuffer(gpu, table, flat, label);
  return { P, buffer: t.buffer };
}

export function models(gpu: Gpu, cfg: DiTConfig) {
  const table = paramTable(cfg);
  return { table, cpu: new DiT(cpuBackend(), cfg, table), gpu: new DiT(gpuBackend(gpu), cfg, table) };
}
