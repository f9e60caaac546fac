// DiT checkpoints written by plain PyTorch code (a `state_dict` saved as safetensors, no metadata of
// this project): the model config is inferred from the tensor shapes, and what shapes cannot tell
// (the number of heads; the image size when no `pos_embed` is stored) comes from the caller (CLI
// flags, a question in the page). A stored `pos_embed` must be DiT's fixed 2-D sin-cos embedding.
//
// `openCheckpoint` is the one entry for "a checkpoint the user hands us": this project's files go
// through checkpointFromFile unchanged; others through the inference here. Both return notices
// (inferred fields, dtypes converted, tensors ignored) for the caller to show.

import { CHECKPOINT_TODO, describeConfig, checkpointFromFile, type CheckpointState } from './checkpoint';
import { fileError } from '../util/errors';
import { readSafetensors, readSafetensorsHeader, type SafetensorsFile } from './safetensors';
import { validateConfig, type DiTConfig } from '../model/config';
import { paramTable } from '../model/params';
import { TIME_DIM } from '../ops/embed';
import { posEmbed2d } from '../ops/patch';

export interface ForeignHints {
  heads?: number;
  /** Image side H = W in pixels. */
  imageSize?: number;
}

export type ForeignField = 'heads' | 'imageSize';

/** What the shapes told, and what the caller must still say (heads, image size). */
export class ForeignConfigNeeded extends Error {
  constructor(
    readonly missing: ForeignField[],
    readonly inferred: Omit<DiTConfig, 'heads' | 'H' | 'W'> & { H: number | null },
    message: string,
  ) {
    super(message);
    this.name = 'ForeignConfigNeeded';
  }
}

export interface OpenedCheckpoint {
  state: CheckpointState;
  /** Human-readable lines: what was inferred or converted, what was ignored. */
  notices: string[];
  /** True when the file had no config of this project (a plain PyTorch DiT). */
  foreign: boolean;
}

/** Largest |stored − fixed| accepted for pos_embed, by the dtype it was stored in. */
const POS_TOL: Record<string, number> = { F32: 1e-5, F64: 1e-5, F16: 1e-3, BF16: 1e-2 };

const list = (names: string[], max = 12) => names.slice(0, max).join(', ') + (names.length > max ? `, … (${names.length} in all)` : '');

/** Divisors h of D with a head dimension D/h ≤ 64 (what the attention kernel takes). */
export function headChoices(D: number): number[] {
  const out: number[] = [];
  for (let h = 1; h <= D; h++) if (D % h === 0 && D / h <= 64) out.push(h);
  return out;
}

/** The config of a DiT state_dict from its tensor shapes plus hints; throws ForeignConfigNeeded when hints are missing. */
export function inferConfig(file: SafetensorsFile, hints: ForeignHints = {}): { config: DiTConfig; notices: string[] } {
  const T = file.tensors;
  const shape = (n: string) => T.get(n)?.shape ?? null;
  const notices: string[] = [];
  const xe = shape('x_embedder.proj.weight');
  if (!xe || xe.length !== 4 || xe[2] !== xe[3])
    throw new Error(
      `not a facm-playground checkpoint (no model config in the metadata) and not a DiT state_dict either: ` +
        `no x_embedder.proj.weight of shape [D, C, p, p] (tensors: ${list([...T.keys()], 8) || 'none'})`,
    );
  const [D, C, patch] = xe;
  let depth = 0;
  while (T.has(`blocks.${depth}.attn.qkv.weight`)) depth++;
  if (depth === 0) throw new Error('DiT state_dict without blocks: no blocks.0.attn.qkv.weight');
  const te = shape('t_embedder.mlp.0.weight');
  if (te && te[1] !== TIME_DIM) throw new Error(`t_embedder.mlp.0.weight is [${te}]: a ${te[1]}-frequency time embedding; the playground's DiT uses ${TIME_DIM}`);
  const fc1 = shape('blocks.0.mlp.fc1.weight');
  if (fc1 && fc1[0] !== 4 * D) throw new Error(`blocks.0.mlp.fc1.weight is [${fc1}]: MLP ratio ${fc1[0] / D}; the playground's DiT uses 4`);
  const fin = shape('final_layer.linear.weight');
  if (fin && fin[0] === 2 * patch * patch * C)
    throw new Error(
      `final_layer.linear.weight is [${fin}]: the model outputs ${2 * C} channels for ${C} input channels (DiT's learn_sigma: mean and variance of a diffusion model); ` +
        `the playground's DiT outputs ${C} velocity channels`,
    );
  const yt = shape('y_embedder.embedding_table.weight');
  let numClasses = 0;
  if (yt) {
    if (yt[0] < 2) throw new Error(`y_embedder.embedding_table.weight has ${yt[0]} row(s): need the classes plus the null (CFG) row`);
    numClasses = yt[0] - 1;
    notices.push(`label table of ${yt[0]} rows read as ${numClasses} classes + the null (CFG) class`);
  }
  const useR = T.has('r_embedder.mlp.0.weight');
  const missing: ForeignField[] = [];
  let H: number | null = null;
  const pos = T.get('pos_embed');
  if (pos) {
    const tokens = pos.shape.length === 3 ? pos.shape[1] : pos.shape[0];
    const grid = Math.round(Math.sqrt(tokens));
    if (grid * grid !== tokens || pos.shape[pos.shape.length - 1] !== D || pos.data.length !== tokens * D)
      throw new Error(`pos_embed has shape [${pos.shape}]: expected [1, T, ${D}] with T a square number of tokens`);
    H = grid * patch;
    if (hints.imageSize !== undefined && hints.imageSize !== H)
      throw new Error(`the image size given (${hints.imageSize}) disagrees with pos_embed: ${tokens} tokens of ${patch}×${patch} patches make ${H}×${H} images`);
    const fixed = posEmbed2d(D, grid);
    let worst = 0;
    let at = 0;
    for (let i = 0; i < fixed.length; i++) {
      const d = Math.abs(pos.data[i] - fixed[i]);
      if (!(d <= worst)) [worst, at] = [d, i];
    }
    const tol = POS_TOL[file.converted.get('pos_embed') ?? 'F32'];
    if (!(worst <= tol))
      throw new Error(
        `pos_embed is not DiT's fixed 2-D sin-cos embedding (max |stored − fixed| = ${worst.toPrecision(3)} at token ${Math.floor(at / D)}, channel ${at % D}; tolerance ${tol}): ` +
          `a learned or altered position embedding is not supported by the playground's DiT`,
      );
    notices.push(`image size ${H}×${H} from pos_embed (${tokens} tokens; it equals the fixed sin-cos embedding to ${worst.toExponential(1)})`);
  } else if (hints.imageSize !== undefined) {
    H = hints.imageSize;
    notices.push(`image size ${H}×${H} as given (no pos_embed stored)`);
  } else missing.push('imageSize');
  if (hints.heads !== undefined) notices.push(`${hints.heads} attention heads as given (shapes do not tell)`);
  else missing.push('heads');
  const inferred = { C, H, patch, D, depth, numClasses, useR };
  if (missing.length) {
    const what = missing.map((m) =>
      m === 'heads'
        ? `the number of attention heads (--heads N; for D ${D}: ${headChoices(D).join(', ')})`
        : `the image size (--image-size S, a multiple of the patch ${patch}; no pos_embed is stored)`,
    );
    throw new ForeignConfigNeeded(
      missing,
      inferred,
      `a PyTorch DiT checkpoint without this project's metadata: inferred D ${D}, patch ${patch}, depth ${depth}, ${C} input channels, ` +
        `${numClasses ? `${numClasses} classes` : 'unconditional'}${useR ? ', a second time condition r' : ''}; still needed: ${what.join(' and ')}`,
    );
  }
  const config: DiTConfig = { C, H: H!, W: H!, patch, D, depth, heads: hints.heads!, numClasses, useR };
  validateConfig(config);
  return { config, notices };
}

function foreignState(file: SafetensorsFile, hints: ForeignHints): OpenedCheckpoint {
  // A DistributedDataParallel state_dict prefixes every name with 'module.'.
  const names = [...file.tensors.keys()];
  const notices: string[] = [];
  if (names.length && names.every((n) => n.startsWith('module.'))) {
    file = { ...file, tensors: new Map([...file.tensors].map(([n, t]) => [n.slice(7), t])), converted: new Map([...file.converted].map(([n, d]) => [n.slice(7), d])) };
    notices.push(`names stripped of DistributedDataParallel's 'module.' prefix`);
  }
  const { config, notices: inf } = inferConfig(file, hints);
  const table = paramTable(config);
  const absent = table.specs.filter((s) => !file.tensors.has(s.name)).map((s) => s.name);
  if (absent.length) throw new Error(`the DiT state_dict lacks ${absent.length} tensor(s) the inferred model (${describeConfig(config)}) needs: ${list(absent, 40)}`);
  const params = new Float32Array(table.total);
  for (const s of table.specs) {
    const t = file.tensors.get(s.name)!;
    if (t.shape.join(',') !== s.shape.join(',')) throw new Error(`tensor ${s.name} has shape [${t.shape}], the inferred model (${describeConfig(config)}) needs [${s.shape}]`);
    params.set(t.data, s.offset);
  }
  const unknown = [...file.tensors.keys()].filter((n) => n !== 'pos_embed' && !table.byName.has(n));
  notices.unshift(`PyTorch DiT checkpoint (no facm-playground metadata): ${describeConfig(config)}`, ...inf);
  if (unknown.length) notices.push(`ignored ${unknown.length} tensor(s) that are not part of the DiT: ${list(unknown, 40)}`);
  notices.push('step count starts at 0; no EMA or optimizer state in the file');
  return { state: { model: config, run: null, resume: null, step: 0, params }, notices, foreign: true };
}

/**
 * Reads a checkpoint of this project, or a DiT state_dict saved by PyTorch (then `hints` supply
 * heads and, without pos_embed, the image size). With `expect`, a project checkpoint of another
 * config is refused as loadCheckpoint does. With `name` (a file name), errors name it once and say
 * what to do, except ForeignConfigNeeded, which a caller answers by asking.
 */
export function openCheckpoint(bytes: Uint8Array, hints: ForeignHints = {}, expect?: DiTConfig, name?: string): OpenedCheckpoint {
  try {
    const file = readSafetensors(bytes, name);
    const converted = [...file.converted.values()];
    const dtypes = [...new Set(converted)];
    const conv = converted.length ? [`converted ${converted.length} tensor(s) from ${dtypes.join(' / ')} to F32`] : [];
    if (file.metadata.config) return { state: checkpointFromFile(file, expect), notices: conv, foreign: false };
    const opened = foreignState(file, hints);
    opened.notices.push(...conv);
    return opened;
  } catch (e) {
    if (!name || e instanceof ForeignConfigNeeded) throw e;
    throw fileError(name, e, CHECKPOINT_TODO);
  }
}

/**
 * What the caller must still say before `openCheckpoint` can open these bytes (heads, image size),
 * or null: a project checkpoint (decided from the header alone), a complete foreign one, or a file
 * that fails for another reason (the real load reports that).
 */
export function hintsNeeded(bytes: Uint8Array, hints: ForeignHints = {}): ForeignConfigNeeded | null {
  const { header } = readSafetensorsHeader(bytes);
  const meta = header.__metadata__ as Record<string, unknown> | undefined;
  if (meta && typeof meta.config === 'string') return null;
  try {
    openCheckpoint(bytes, hints);
    return null;
  } catch (e) {
    return e instanceof ForeignConfigNeeded ? e : null;
  }
}
