// Per-adapter autotuning of the matmul kernels: on first use of an adapter, time every variant that
// fits each of the model's own matmul shapes, keep the fastest per shape, and cache the choice keyed
// by the adapter's identity (a file in Node: src/cli/tuneStore.ts). A warm cache applies the stored
// choices without timing anything; a new adapter, a new shape or `retune` times again. Shapes without
// a choice keep chooseMatmul's rule.

import type { AdapterReport } from '../gpu/device';
import type { Gpu } from '../gpu/runtime';
import { TIME_DIM } from './embed';
import { elFits, matShapeKey, matmul, regFits, setMatmulChoices, variantKey, type MatmulVariant } from './linear';

export { variantKey };
import { tokens, type DiTConfig } from '../model/config';

/** A matmul C (M, N) = op(A)·op(B) as the DiT runs it. */
export interface MatShape {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

/** A DiT matmul shape, how often one forward + backward runs it, and which layer it comes from. */
export interface DiTMatShape extends MatShape {
  count: number;
  what: string;
}

/** Every matmul of one forward + backward of the DiT at batch B (linear: y = x·Wᵀ, dX = dY·W, dW += dYᵀ·x). */
export function ditMatmuls(cfg: DiTConfig, B: number, all = false): DiTMatShape[] {
  const T = tokens(cfg);
  const { D, C, patch: p } = cfg;
  const R = B * T;
  const lins: [string, number, number, number, number][] = [
    // [what, rows, in, out, count]
    ['patch embed', R, C * p * p, D, 1],
    ['time mlp.0', B, TIME_DIM, D, 1],
    ['time mlp.2', B, D, D, 1],
    ['adaLN', B, D, 6 * D, cfg.depth],
    ['qkv', R, D, 3 * D, cfg.depth],
    ['proj', R, D, D, cfg.depth],
    ['fc1', R, D, 4 * D, cfg.depth],
    ['fc2', R, 4 * D, D, cfg.depth],
    ['final adaLN', B, D, 2 * D, 1],
    ['final linear', R, D, p * p * C, 1],
  ];
  const shapes = new Map<string, DiTMatShape>();
  const add = (s: Omit<DiTMatShape, 'count'>, n: number) => {
    const key = shapeKey(s);
    const e = shapes.get(key);
    if (e) e.count += n;
    else shapes.set(key, { ...s, count: n });
  };
  for (const [what, rows, inF, outF, n] of lins) {
    add({ M: rows, N: outF, K: inF, transA: false, transB: true, what: `${what} y` }, n);
    add({ M: rows, N: inF, K: outF, transA: false, transB: false, what: `${what} dX` }, n);
    add({ M: outF, N: inF, K: rows, transA: true, transB: false, what: `${what} dW` }, n);
  }
  // By default only the ones that carry the time: rows = B·T (or dW over B·T); the B-row conditioning MLPs are tiny.
  return [...shapes.values()].filter((s) => all || Math.max(s.M, s.K) >= R);
}

export const shapeKey = (s: MatShape): string => matShapeKey(s.M, s.N, s.K, s.transA, s.transB);

/**
 * Every kernel variant that can serve `s`: the two workgroup tiles, the register kernel at three
 * workgroup sizes and its 8×8 form at two where it fits, and the per-element kernel on thin shapes (a dimension under 8)
 * or where the register kernel does not fit.
 */
export function matmulCandidates(s: MatShape): MatmulVariant[] {
  const out: MatmulVariant[] = [{ kind: 'tile', tt: 16 }, { kind: 'tile', tt: 8 }];
  const reg = regFits(s.M, s.N, s.K, s.transA, s.transB);
  if (reg) for (const wg of [16, 32, 64]) out.push({ kind: 'reg', wg });
  if (reg) for (const wg of [16, 64]) out.push({ kind: 'reg8', wg });
  if (!reg || elFits(s.M, s.N, s.K)) out.push({ kind: 'el' });
  return out;
}

/** The adapter's identity for the cache: vendor, architecture, device and description (which names the driver where the adapter tells). */
export function adapterKey(r: AdapterReport): string {
  return [r.backend, r.vendor, r.architecture, r.device, r.description].join('|');
}

/** Bump when the kernels change: a stored choice from other kernels is timed again. */
export const TUNE_VERSION = 3;

export interface TuneRecord {
  version: number;
  adapter: string;
  /** Chosen variant per shape key. */
  choices: Record<string, MatmulVariant>;
  /** Median ms per shape and variant, as timed. */
  timings: Record<string, Record<string, number>>;
  tunedAt: string;
}

/** Where tune records live: one per adapter key. */
export interface TuneStore {
  load(adapter: string): Promise<TuneRecord | null>;
  save(record: TuneRecord): Promise<void>;
}

/**
 * Milliseconds one call of `run` takes (run records and waits for a few dispatches of `variant` on
 * `shape`). `best` is the fastest so far on this shape: a timer may stop early for a clear loser.
 */
export type TuneTimer = (shape: MatShape, variant: MatmulVariant, run: () => Promise<void>, best: number) => Promise<number>;

/** Wall clock: one untimed call (it compiles the pipeline), then one timed; a second timed call unless the first lost by 3×. */
export const wallTimer: TuneTimer = async (_s, _v, run, best) => {
  await run();
  const time = async () => {
    const t0 = performance.now();
    await run();
    return performance.now() - t0;
  };
  const first = await time();
  if (first > 3 * best) return first;
  return Math.min(first, await time());
};

/** A variant that loses by more than 3× on this many shapes is not timed on the rest (tuning stays short). */
const PRUNE_AFTER = 2;

/**
 * Times the candidates on every shape and returns the fastest per shape (ties keep the earlier
 * candidate). A variant that lost by more than 3× on PRUNE_AFTER shapes is not timed again.
 */
export async function tuneMatmuls(gpu: Gpu, shapes: readonly MatShape[], timer: TuneTimer = wallTimer, perRun = 2): Promise<Pick<TuneRecord, 'choices' | 'timings'>> {
  const choices: Record<string, MatmulVariant> = {};
  const timings: Record<string, Record<string, number>> = {};
  const losses = new Map<string, number>();
  for (const s of shapes) {
    const key = shapeKey(s);
    if (choices[key]) continue;
    const A = gpu.alloc([s.M * s.K], 'tune.A');
    const B = gpu.alloc([s.K * s.N], 'tune.B');
    const C = gpu.alloc([s.M, s.N], 'tune.C');
    gpu.clear(A);
    gpu.clear(B);
    timings[key] = {};
    let best = Infinity;
    try {
      for (const v of matmulCandidates(s)) {
        if ((losses.get(variantKey(v)) ?? 0) >= PRUNE_AFTER) continue;
        const ms = await timer(
          s,
          v,
          async () => {
            for (let i = 0; i < perRun; i++) matmul(gpu, A, B, C, s.M, s.N, s.K, { transA: s.transA, transB: s.transB, variant: v });
            await gpu.sync();
          },
          best,
        );
        timings[key][variantKey(v)] = ms;
        if (ms < best) {
          best = ms;
          choices[key] = v;
        }
      }
      for (const [vk, ms] of Object.entries(timings[key])) if (ms > 3 * best) losses.set(vk, (losses.get(vk) ?? 0) + 1);
    } finally {
      gpu.release(A, B, C);
    }
  }
  return { choices, timings };
}

export interface EnsureTunedOpts {
  retune?: boolean;
  timer?: TuneTimer;
}

/**
 * Applies the adapter's stored choices, timing first the shapes the store lacks (all of them with
 * `retune`, a new adapter or another TUNE_VERSION). Returns the record in force and how many shapes
 * were timed now (0: the cache was warm).
 */
export async function ensureTuned(gpu: Gpu, shapes: readonly MatShape[], store: TuneStore, opts: EnsureTunedOpts = {}): Promise<{ record: TuneRecord; timed: number; ms: number }> {
  const adapter = adapterKey(gpu.report);
  const t0 = performance.now();
  const stored = opts.retune ? null : await store.load(adapter);
  const valid = stored && stored.version === TUNE_VERSION && stored.adapter === adapter ? stored : null;
  const missing = shapes.filter((s) => !valid?.choices[shapeKey(s)]);
  let record: TuneRecord = valid ?? { version: TUNE_VERSION, adapter, choices: {}, timings: {}, tunedAt: '' };
  if (missing.length > 0) {
    const fresh = await tuneMatmuls(gpu, missing, opts.timer);
    record = {
      ...record,
      choices: { ...record.choices, ...fresh.choices },
      timings: { ...record.timings, ...fresh.timings },
      tunedAt: new Date().toISOString(),
    };
    await store.save(record);
  }
  applyTuning(gpu, record);
  return { record, timed: new Set(missing.map(shapeKey)).size, ms: performance.now() - t0 };
}

/** Makes chooseMatmul use the record's choices on this Gpu. */
export function applyTuning(gpu: Gpu, record: TuneRecord): void {
  setMatmulChoices(gpu, new Map(Object.entries(record.choices)));
}
