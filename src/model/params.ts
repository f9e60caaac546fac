// The parameter table: names and shapes exactly as facebookresearch/DiT's models.py (PyTorch
// nn.Linear layout [out, in]), their offsets in one flat buffer (each 64-element aligned, so a
// parameter is a bindable view), and the adaLN-Zero initialisation.

import { Rng } from '../util/rng';
import { TIME_DIM } from '../ops/embed';
import type { DiTConfig } from './config';

export type Init = 'zero' | 'xavier' | 'normal02';

export interface ParamSpec {
  name: string;
  shape: number[];
  offset: number; // elements into the flat buffer
  size: number;
  init: Init;
  /** Weight decay applies to matrices, not biases or embeddings. */
  decay: boolean;
  /** For xavier: fan_in, fan_out (conv weights are treated as [D, C·p·p] as in DiT's init). */
  fans?: [number, number];
}

export interface ParamTable {
  specs: ParamSpec[];
  byName: Map<string, ParamSpec>;
  /** Flat length including alignment padding. */
  total: number;
  /** Number of real parameters (no padding). */
  count: number;
}

const ALIGN = 64;

export function paramTable(cfg: DiTConfig): ParamTable {
  const { D, C, patch: p } = cfg;
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], init: Init, fans?: [number, number]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset, size, init, decay: shape.length > 1 && !name.includes('embedding_table'), fans });
    offset += Math.ceil(size / ALIGN) * ALIGN;
  };
  const linear = (prefix: string, out: number, inF: number, init: Init) => {
    add(`${prefix}.weight`, [out, inF], init, [inF, out]);
    add(`${prefix}.bias`, [out], 'zero');
  };
  add('x_embedder.proj.weight', [D, C, p, p], 'xavier', [C * p * p, D]);
  add('x_embedder.proj.bias', [D], 'zero');
  linear('t_embedder.mlp.0', D, TIME_DIM, 'normal02');
  linear('t_embedder.mlp.2', D, D, 'normal02');
  if (cfg.numClasses > 0) add('y_embedder.embedding_table.weight', [cfg.numClasses + 1, D], 'normal02');
  if (cfg.useR) {
    linear('r_embedder.mlp.0', D, TIME_DIM, 'normal02');
    linear('r_embedder.mlp.2', D, D, 'normal02');
  }
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`;
    linear(`${b}.adaLN_modulation.1`, 6 * D, D, 'zero'); // adaLN-Zero: every block starts as the identity
    linear(`${b}.attn.qkv`, 3 * D, D, 'xavier');
    linear(`${b}.attn.proj`, D, D, 'xavier');
    linear(`${b}.mlp.fc1`, 4 * D, D, 'xavier');
    linear(`${b}.mlp.fc2`, D, 4 * D, 'xavier');
  }
  linear('final_layer.adaLN_modulation.1', 2 * D, D, 'zero');
  linear('final_layer.linear', p * p * C, D, 'zero'); // zero output layer: F ≡ 0 at start
  return {
    specs,
    byName: new Map(specs.map((s) => [s.name, s])),
    total: offset,
    count: specs.reduce((a, s) => a + s.size, 0),
  };
}

/**
 * DiT's initialisation: xavier-uniform for linears and the patch conv (as a [D, C·p·p] matrix),
 * N(0, 0.02) for the time MLP and label table, zeros for biases, adaLN and the final layer.
 * `perturb` > 0 adds N(0, perturb²) to the zero-initialised weights so every path is exercised
 * (tests and `dump`); 0 is the real adaLN-Zero start.
 */
export function initParams(table: ParamTable, seed: number, perturb = 0): Float32Array {
  const rng = new Rng(seed);
  const flat = new Float32Array(table.total);
  for (const s of table.specs) {
    const v = flat.subarray(s.offset, s.offset + s.size);
    if (s.init === 'xavier') {
      const [fi, fo] = s.fans!;
      const bound = Math.sqrt(6 / (fi + fo));
      for (let i = 0; i < v.length; i++) v[i] = rng.uniform(-bound, bound);
    } else if (s.init === 'normal02') {
      for (let i = 0; i < v.length; i++) v[i] = rng.normal() * 0.02;
    }
    if (perturb > 0 && s.init === 'zero') for (let i = 0; i < v.length; i++) v[i] = rng.normal() * perturb;
  }
  return flat;
}

/** 1 where weight decay applies, per flat element. */
export function decayMask(table: ParamTable): Float32Array {
  const m = new Float32Array(table.total);
  for (const s of table.specs) if (s.decay) m.fill(1, s.offset, s.offset + s.size);
  return m;
}
