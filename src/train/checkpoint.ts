// Checkpoints as safetensors: the DiT's parameters under facebookresearch/DiT's names (PyTorch
// nn.Linear layout), so `load_file` + `model.load_state_dict` opens them; EMA weights and AdamW
// moments under `ema.` / `optim.m.` / `optim.v.` prefixes; config and step as JSON in the metadata.
// Teacher checkpoints for distillation are read here too (loadTeacher), with errors that name the checkpoint.

import { fileError } from '../util/errors';
import { validateConfig, type DiTConfig } from '../model/config';
import type { ParamTable } from '../model/params';
import { paramTable } from '../model/params';
import { readSafetensors, writeSafetensors, type NamedTensor, type SafetensorsFile } from './safetensors';
import type { BatcherState } from '../data/dataset';
import type { RngState } from '../util/rng';
import type { CheckpointStore } from './store';

export const CHECKPOINT_FORMAT = 'facm-playground/1';

export interface CheckpointState {
  model: DiTConfig;
  /** The whole run config (objective, optimizer, data), informational. */
  run?: unknown;
  step: number;
  params: Float32Array; // flat, as ParamTable lays it out
  ema?: Float32Array;
  m?: Float32Array;
  v?: Float32Array;
  /** Where the data and noise streams stood at `step`, so a resumed run draws the batches it would have. */
  resume?: ResumeState | null;
}

/** The CPU-side random streams of a Trainer at a step. */
export interface ResumeState {
  batcher: BatcherState;
  rng: RngState;
}

function unflatten(table: ParamTable, flat: Float32Array, prefix: string): NamedTensor[] {
  return table.specs.map((s) => ({ name: prefix + s.name, shape: s.shape, data: flat.slice(s.offset, s.offset + s.size) }));
}

export function saveCheckpoint(st: CheckpointState): Uint8Array {
  const table = paramTable(st.model);
  const tensors = [...unflatten(table, st.params, '')];
  if (st.ema) tensors.push(...unflatten(table, st.ema, 'ema.'));
  if (st.m) tensors.push(...unflatten(table, st.m, 'optim.m.'));
  if (st.v) tensors.push(...unflatten(table, st.v, 'optim.v.'));
  return writeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(st.model),
    run: JSON.stringify(st.run ?? null),
    step: String(st.step),
    ...(st.resume ? { resume: JSON.stringify(st.resume) } : {}),
  }, { checksum: true });
}

export function describeConfig(c: DiTConfig): string {
  return `${c.C}×${c.H}×${c.W} patch ${c.patch}, D ${c.D}, depth ${c.depth}, heads ${c.heads}, classes ${c.numClasses}${c.useR ? ', r-conditioned' : ''}`;
}

/**
 * Reads a checkpoint. With `expect`, refuses one whose model config differs, naming the fields.
 * Every tensor is checked for presence and shape against the config's parameter table.
 * With `name` (a file name), an error names it once and says what to do.
 */
export function loadCheckpoint(bytes: Uint8Array, expect?: DiTConfig, name?: string): CheckpointState {
  if (!name) return checkpointFromFile(readSafetensors(bytes), expect);
  try {
    return checkpointFromFile(readSafetensors(bytes, name), expect);
  } catch (e) {
    throw fileError(name, e, CHECKPOINT_TODO);
  }
}

export const CHECKPOINT_TODO = 'Choose a .safetensors checkpoint saved by the playground or by `npm run facm -- train`.';

/** loadCheckpoint on an already parsed file. */
export function checkpointFromFile(file: SafetensorsFile, expect?: DiTConfig): CheckpointState {
  const meta = file.metadata;
  if (!meta.config) throw new Error('not a facm-playground checkpoint: no model config in the safetensors metadata');
  let model: DiTConfig;
  try {
    model = JSON.parse(meta.config);
  } catch {
    throw new Error('checkpoint metadata holds a config that is not valid JSON');
  }
  validateConfig(model);
  if (expect) {
    const diff = (Object.keys(expect) as (keyof DiTConfig)[]).filter((k) => expect[k] !== model[k]);
    if (diff.length)
      throw new Error(
        `checkpoint is for another model config (${diff.map((k) => `${k}: ${model[k]} ≠ ${expect[k]}`).join(', ')}). ` +
          `Checkpoint: ${describeConfig(model)}; expected: ${describeConfig(expect)}.`,
      );
  }
  const table = paramTable(model);
  // A prefix group (ema., optim.m., ...) is optional as a whole; once present, it must be complete.
  const gather = (prefix: string, required: boolean): Float32Array | undefined => {
    if (!required && !table.specs.some((s) => file.tensors.has(prefix + s.name))) return undefined;
    const flat = new Float32Array(table.total);
    for (const s of table.specs) {
      const t = file.tensors.get(prefix + s.name);
      if (!t) throw new Error(`checkpoint lacks tensor ${prefix + s.name}`);
      if (t.shape.join(',') !== s.shape.join(',')) throw new Error(`tensor ${prefix + s.name} has shape [${t.shape}], the config needs [${s.shape}]`);
      flat.set(t.data, s.offset);
    }
    return flat;
  };
  const step = Number(meta.step ?? 0);
  if (!Number.isInteger(step) || step < 0) throw new Error(`checkpoint step '${meta.step}' is not a non-negative integer`);
  const json = (key: string): unknown => {
    try {
      return meta[key] ? JSON.parse(meta[key]) : null;
    } catch {
      throw new Error(`checkpoint metadata '${key}' is not valid JSON`);
    }
  };
  return {
    model,
    run: json('run'),
    resume: json('resume') as ResumeState | null,
    step,
    params: gather('', true)!,
    ema: gather('ema.', false),
    m: gather('optim.m.', false),
    v: gather('optim.v.', false),
  };
}

/** A distillation teacher: checkpoint bytes, or a key in a store (the session's store by default). */
export type TeacherSource = { bytes: Uint8Array; name?: string } | { key: string; store?: CheckpointStore };

/** A teacher checkpoint that is missing or cannot be loaded. */
export class TeacherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TeacherError';
  }
}

/** Reads a teacher checkpoint (EMA weights when present) with a message naming what is wrong. */
export async function loadTeacher(src: TeacherSource, fallbackStore?: CheckpointStore | null): Promise<{ cfg: DiTConfig; params: Float32Array }> {
  let bytes: Uint8Array;
  let name: string;
  if ('bytes' in src) {
    bytes = src.bytes;
    name = src.name ?? 'teacher';
  } else {
    const store = src.store ?? fallbackStore;
    name = src.key;
    if (!store) throw new TeacherError(`the run names teacher checkpoint '${src.key}' but has no checkpoint store to load it from`);
    const b = await store.load(src.key);
    if (!b) {
      const have = await store.list().catch(() => [] as string[]);
      throw new TeacherError(`teacher checkpoint '${src.key}' is not in the store (have: ${have.length ? have.join(', ') : 'nothing'}); train an 'fm' teacher first or pick another`);
    }
    bytes = b;
  }
  try {
    const st = loadCheckpoint(bytes);
    return { cfg: st.model, params: st.ema ?? st.params };
  } catch (e) {
    throw new TeacherError(`teacher checkpoint '${name}' cannot be loaded: ${(e as Error).message}`);
  }
}
