// DiT configuration: plain data, presets + overrides, serialisable into URLs and checkpoint metadata.

import type { Config } from '../config/keys';

export interface DiTConfig {
  /** Image channels, height, width (the data's shape). */
  C: number;
  H: number;
  W: number;
  /** Patch size: tokens T = (H/p)·(W/p). */
  patch: number;
  /** Width D, depth (blocks), heads. MLP ratio is fixed at 4 as in DiT. */
  D: number;
  depth: number;
  heads: number;
  /** Number of classes; 0 = unconditional. The label table has numClasses + 1 rows (the last is CFG's null class). */
  numClasses: number;
  /** A second time condition r embedded like t (MeanFlow only). */
  useR: boolean;
}

export interface Preset {
  name: string;
  why: string;
  config: DiTConfig;
  /** The built-in dataset the preset is made for (a run's dataset unless it names one). */
  dataset: string;
  /**
   * Settings in which this preset departs from the key table's defaults (src/config/keys.ts), with
   * the reason in `why`: a run, link or command line that names a key keeps its own value.
   */
  defaults?: Partial<Omit<Config, 'preset' | 'dataset'>>;
}

export const PRESETS: Record<string, Preset> = {
  tiny: {
    name: 'tiny',
    why: 'tests and GPU-less machines: 8×8 RGB, 16 tokens; the only preset SwiftShader trains at a usable pace',
    config: { C: 3, H: 8, W: 8, patch: 2, D: 32, depth: 2, heads: 2, numClasses: 0, useR: false },
    dataset: 'shapes8',
  },
  'tiny-16': {
    name: 'tiny-16',
    why: '16×16 toy images on weak adapters: 16 tokens of 4×4 patches',
    config: { C: 3, H: 16, W: 16, patch: 4, D: 64, depth: 2, heads: 4, numClasses: 0, useR: false },
    dataset: 'shapes16',
  },
  'mnist-16': {
    name: 'mnist-16',
    why:
      '16×16 grayscale (Fashion-MNIST, shipped with the app): one channel, so grey data trains a grey model; 16 tokens of 4×4 patches. ' +
      'Its run settings, from an FM sweep on fashion16 in the PyTorch bridge (README, Learning speed from scratch): lr 3e-3 with a 100-step linear warm-up, at the table\'s batch 16 (per image seen, batch 16 beat 64: Euler-16 FD 15.3 against 17.8 at 8,000 images), ' +
      'took Euler-16 FD at 8,000 / 16,000 / 32,000 images from 15.3 / 12.5 / 10.3 (lr 1e-3, no warm-up) to 13.5 / 11.3 / 9.21 (2e-3: 14.5 / 11.5 / 9.54); ' +
      'and sampling from the EMA weights, whose samples scored FD 9.21 at 32,000 images where the online weights of the same run scored 20.6 (the online weights of a run at this rate jump from step to step). ' +
      'A distillation run that names no rate gets 3e-3 too: FACM distils fast there (one-step FD 11.2 at step 200 from the shipped teacher), CM without anchor fails (FD rising to 22.7), so the distillation presets name their rate',
    config: { C: 1, H: 16, W: 16, patch: 4, D: 64, depth: 2, heads: 4, numClasses: 0, useR: false },
    dataset: 'fashion16',
    defaults: { lr: 3e-3, lrWarmup: 100, sampleWeights: 'ema' },
  },
  points: {
    name: 'points',
    why:
      '2-D point sets: one token per point (C 2, 1×1, patch 1), so attention reduces to its value projection and each block is an adaLN-modulated MLP; D 64 gives 256 hidden units per block, enough for eight modes; depth 2 keeps a FACM step at 177 dispatches. ' +
      'Its run settings, each measured on WebGPU (Node CLI, seed 0, 2,000 steps, 4096-point sliced W2 as a multiple of held-out; README, 2-D mode): the t sampler at mean −0.5 / std 1 (median t 0.35, not the reference\'s 0.73: more weight near the noise end, where the one-step jump starts); ' +
      'batch 256 with lr 3e-3, a 100-step linear warm-up and a cosine to 0 over the next 1,900 steps (after step 2,000 the rate is 0: raise lrDecaySteps for a longer run); sampling from the EMA weights; and the panels every 100 steps, not 50: a refresh (NFE 1, NFE 2 and Euler-16 of 1024 points, the trajectories and the fields) costs about ten steps of work, so every 50 steps took 17 % of the run time in the page on SwiftShader, every 100 steps about 10 %. ' +
      'From batch 128 at a constant lr 2e-3 (t mean 0), the batch, rate and schedule took the final Euler-16 samples from 2.06× to 1.53× and NFE 2 from 2.11× to 1.92×, but NFE 1 only from 2.67× to 2.48×; the t sampler at −0.5 then brought NFE 1 within 2× (1.91× at step 1,500, with NFE 2 1.87× and Euler 1.77×, all eight modes), where the 2× line had not been crossed by NFE 1 in 2,000 steps before. ' +
      'Cosine decay alone at lr 2e-3 changed nothing measurable (PyTorch replica, step 2,000: EMA NFE 1 2.44× against 2.32× at a constant rate)',
    config: { C: 2, H: 1, W: 1, patch: 1, D: 64, depth: 2, heads: 2, numClasses: 0, useR: false },
    dataset: 'eight-gaussians',
    defaults: { batch: 256, lr: 3e-3, lrWarmup: 100, lrDecaySteps: 1900, tMean: -0.5, tStd: 1, sampleWeights: 'ema', sampleEvery: 100 },
  },
  'cifar-s': {
    name: 'cifar-s',
    why: 'CIFAR-scale 32×32×3 with 4×4 patches (64 tokens): small enough for a laptop GPU in a tab',
    config: { C: 3, H: 32, W: 32, patch: 4, D: 192, depth: 6, heads: 3, numClasses: 10, useR: false },
    dataset: 'shapes32',
  },
  'cifar-b': {
    name: 'cifar-b',
    why: 'CIFAR 32×32×3 with 2×2 patches (256 tokens): the closer-to-paper setting for a discrete GPU',
    config: { C: 3, H: 32, W: 32, patch: 2, D: 256, depth: 8, heads: 4, numClasses: 10, useR: false },
    dataset: 'shapes32',
  },
};

export function tokens(cfg: DiTConfig): number {
  return (cfg.H / cfg.patch) * (cfg.W / cfg.patch);
}

export function validateConfig(cfg: DiTConfig): void {
  const bad = (msg: string) => {
    throw new Error(`invalid model config: ${msg}`);
  };
  for (const k of ['C', 'H', 'W', 'patch', 'D', 'depth', 'heads'] as const)
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) bad(`${k} must be a positive integer (got ${cfg[k]})`);
  if (cfg.H % cfg.patch || cfg.W % cfg.patch) bad(`patch ${cfg.patch} must divide H ${cfg.H} and W ${cfg.W}`);
  if (cfg.H !== cfg.W) bad(`images must be square (H ${cfg.H} ≠ W ${cfg.W}): DiT's 2-D position embedding is square`);
  if (cfg.D % cfg.heads) bad(`heads ${cfg.heads} must divide D ${cfg.D}`);
  if (cfg.D / cfg.heads > 64) bad(`head dim D/heads = ${cfg.D / cfg.heads} exceeds 64 (the attention kernel's register budget)`);
  if (cfg.D % 4) bad(`D ${cfg.D} must be a multiple of 4 (2-D sin-cos position embedding)`);
  if (!Number.isInteger(cfg.numClasses) || cfg.numClasses < 0) bad(`numClasses must be ≥ 0`);
}

/** Multiply-adds per image for one forward pass, ×2 = FLOPs (matmuls and attention only; elementwise ignored). */
export function forwardFlops(cfg: DiTConfig): number {
  const T = tokens(cfg);
  const { D, depth, C, patch: p } = cfg;
  const embed = T * C * p * p * D + 256 * D + D * D;
  const block = 6 * D * D + T * (3 * D * D + D * D + 8 * D * D) + 2 * T * T * D;
  const final = 2 * D * D + T * D * p * p * C;
  return 2 * (embed + depth * block + final);
}

type Shape = { name: string; C: number; H: number; W: number };

/** The preset that suits images of this shape best: the same channel count first, then the least resizing (in octaves; ties go to the cheaper preset). */
function bestPreset(data: Shape, current: Preset): Preset {
  const cost = (c: DiTConfig) => (c.C === data.C ? 0 : 1) + Math.abs(Math.log2(data.H / c.H));
  let best = current;
  for (const p of Object.values(PRESETS)) {
    const d = cost(p.config) - cost(best.config);
    if (d < -1e-9 || (Math.abs(d) <= 1e-9 && forwardFlops(p.config) < forwardFlops(best.config))) best = p;
  }
  return cost(best.config) < cost(current.config) - 1e-9 ? best : current;
}

/**
 * A one-line hint when another preset suits images of this shape better than `current` (see
 * bestPreset). Null when `current` is already as good as any.
 */
export function presetHint(data: Shape, current: string): string | null {
  const cur = PRESETS[current];
  if (!cur) return null;
  const best = bestPreset(data, cur);
  if (best === cur) return null;
  const shape = (c: { C: number; H: number; W: number }) => `${c.C}×${c.H}×${c.W}`;
  const what = [cur.config.C !== data.C ? `${data.C === 1 ? 'grey' : `${data.C} channels`} → ${cur.config.C === 1 ? 'grey' : `${cur.config.C} channels`}` : '', cur.config.H !== data.H ? `${data.H} → ${cur.config.H} pixels` : '']
    .filter(Boolean)
    .join(', ');
  return `${data.name} is ${shape(data)}; the ${cur.name} preset trains it at ${shape(cur.config)} (${what}): the ${best.name} preset (${shape(best.config)}) suits it better.`;
}

/**
 * The preset a run switches to when the user's data arrive: the best one with the data's channel
 * count when the current preset has another (grey images on an RGB model train as coloured noise)
 * and the user did not choose the preset; null to keep it.
 */
export function presetForData(data: Shape, current: string, chosen: boolean): string | null {
  const cur = PRESETS[current];
  if (!cur || chosen || cur.config.C === data.C) return null;
  const best = bestPreset(data, cur);
  return best.config.C === data.C ? best.name : null;
}
