// The op table: every differentiable op family with forward, jvp and backward, on both backends.
// `Complete` turns a family missing any of the three into `never`, so it fails to type-check.

import type { Gpu, Tensor } from '../gpu/runtime';
import { linearCpu, linearGeluCpu, linearGeluGpu, linearGpu, type LinearGeluOps, type LinearOps } from './linear';
import { attentionCpu, attentionGpu, type AttentionOps } from './attention';
import { addCpu, addGpu, broadcastAddCpu, broadcastAddGpu, geluCpu, geluGpu, siluCpu, siluGpu, type ActivationOps, type AddOps, type BroadcastAddOps } from './elementwise';
import { labelEmbedCpu, labelEmbedGpu, timeEmbedCpu, timeEmbedGpu, type LabelEmbedOps, type TimeEmbedOps } from './embed';
import { patchifyCpu, patchifyGpu, unpatchifyCpu, unpatchifyGpu, type PatchifyOps, type UnpatchifyOps } from './patch';
import { layernormCpu, layernormGpu, lnModulateCpu, lnModulateGpu, type LayerNormOps, type LnModulateOps } from './layernorm';
import { guideCpu, guideGpu, type GuideOps } from './guidance';
import { gatedResidualCpu, gatedResidualGpu, modulateCpu, modulateGpu, type GatedResidualOps, type ModulateOps } from './modulate';

export interface OpSet<T> {
  linear: LinearOps<T>;
  /** gelu(x·Wᵀ + b), GELU in the matmul's epilogue (the DiT's fc1). */
  linearGelu: LinearGeluOps<T>;
  attention: AttentionOps<T>;
  silu: ActivationOps<T>;
  gelu: ActivationOps<T>;
  add: AddOps<T>;
  broadcastAdd: BroadcastAddOps<T>;
  timeEmbed: TimeEmbedOps<T>;
  labelEmbed: LabelEmbedOps<T>;
  patchify: PatchifyOps<T>;
  unpatchify: UnpatchifyOps<T>;
  layernorm: LayerNormOps<T>;
  modulate: ModulateOps<T>;
  /** LayerNorm then modulate in one kernel (the DiT's adaLN pairs). */
  lnModulate: LnModulateOps<T>;
  gatedResidual: GatedResidualOps<T>;
  /** Classifier-free guidance of a stacked [conditional; unconditional] pair (the distillation teacher's). */
  guide: GuideOps<T>;
}

type Differentiable = { forward: unknown; jvp: unknown; backward: unknown };
type Complete<S> = { [K in keyof S]: S[K] extends Differentiable ? S[K] : never };

export const cpuOps: Complete<OpSet<Float64Array>> = {
  linear: linearCpu,
  linearGelu: linearGeluCpu,
  attention: attentionCpu,
  silu: siluCpu,
  gelu: geluCpu,
  add: addCpu,
  broadcastAdd: broadcastAddCpu,
  timeEmbed: timeEmbedCpu,
  labelEmbed: labelEmbedCpu,
  patchify: patchifyCpu,
  unpatchify: unpatchifyCpu,
  layernorm: layernormCpu,
  modulate: modulateCpu,
  lnModulate: lnModulateCpu,
  gatedResidual: gatedResidualCpu,
  guide: guideCpu,
};

export function gpuOps(gpu: Gpu): Complete<OpSet<Tensor>> {
  return {
    linear: linearGpu(gpu),
    linearGelu: linearGeluGpu(gpu),
    attention: attentionGpu(gpu),
    silu: siluGpu(gpu),
    gelu: geluGpu(gpu),
    add: addGpu(gpu),
    broadcastAdd: broadcastAddGpu(gpu),
    timeEmbed: timeEmbedGpu(gpu),
    labelEmbed: labelEmbedGpu(gpu),
    patchify: patchifyGpu(gpu),
    unpatchify: unpatchifyGpu(gpu),
    layernorm: layernormGpu(gpu),
    modulate: modulateGpu(gpu),
    lnModulate: lnModulateGpu(gpu),
    gatedResidual: gatedResidualGpu(gpu),
    guide: guideGpu(gpu),
  };
}
