// Per-adapter autotuning of the matmul kernels and the attention kernels' tile sizes: on first use of
// an adapter, time every variant that fits each of the model's own shapes, keep the fastest per
// shape, and cache the choice keyed by the adapter's identity (a file in Node: src/cli/tuneStore.ts;
// IndexedDB in the page: src/worker/tuneStore.ts; the rest is this file's, for both). A warm cache
// applies the stored choices without timing anything; a new adapter, a new shape or `retune` times
// again. Shapes without a choice keep chooseMatmul's and chooseAttention's rules.

import type { AdapterReport } from '../gpu/device';
import type { Gpu, Tensor } from '../gpu/runtime';
import { attentionCandidates, attentionGpu, attentionRule, attentionShapeKey, attentionVariantKey, chooseAttention, isTunedAttention, setAttentionChoices, type AttentionPass, type AttentionVariant, type AttnDims } from './attention';
import { TIME_DIM } from './embed';
import { chooseMatmul, elFits, isTunedShape, matShapeKey, matShapeLabel, matmul, regFits, ruleOfThumb, setMatmulChoices, variantKey, type MatmulVariant } from './linear';

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
 * Every kernel variant that can serve `s` (the rule's pick among them): the two workgroup tiles,
 * the register kernel and its 8×8 form at three workgroup sizes each where they fit, and the
 * per-element kernel on thin shapes (a dimension under 8) or where the register kernel does not fit.
 */
export function matmulCandidates(s: MatShape): MatmulVariant[] {
  const out: MatmulVariant[] = [{ kind: 'tile', tt: 16 }, { kind: 'tile', tt: 8 }];
  const reg = regFits(s.M, s.N, s.K, s.transA, s.transB);
  if (reg) for (const wg of [16, 32, 64]) out.push({ kind: 'reg', wg });
  if (reg) for (const wg of [16, 32, 64]) out.push({ kind: 'reg8', wg });
  if (!reg || elFits(s.M, s.N, s.K)) out.push({ kind: 'el' });
  return out;
}

/** The adapter's identity for the cache: vendor, architecture, device and description (which names the driver where the adapter tells). */
export function adapterKey(r: AdapterReport): string {
  return [r.backend, r.vendor, r.architecture, r.device, r.description].join('|');
}

/** Bump when the kernels or the record change: a stored choice from other kernels is timed again. */
export const TUNE_VERSION = 5;

export interface TuneRecord {
  version: number;
  adapter: string;
  /** Chosen variant key per item key (a matmul's matShapeKey, or attentionShapeKey). */
  choices: Record<string, string>;
  /** Median ms per item and variant, as timed ({} for an item left to the rule when the time budget ran out). */
  timings: Record<string, Record<string, number>>;
  tunedAt: string;
}

/** Where tune records live: one per adapter key. */
export interface TuneStore {
  load(adapter: string): Promise<TuneRecord | null>;
  save(record: TuneRecord): Promise<void>;
}

/** One thing to tune: a matmul shape or one attention pass on one shape, with its candidates. */
export interface TuneItem {
  /** The cache's key: matShapeKey, or attentionShapeKey. */
  key: string;
  /** For people: shape and layer. */
  label: string;
  /** Candidate variants by key, in the order they are timed after the rule's (ties keep the earlier). */
  candidates: string[];
  /** The candidate the untuned rule picks on this adapter: timed first, and kept unless another beats it. */
  rule(gpu: Gpu): string;
  /** Roughly the work one call does (FLOPs × calls per step): heavier items are timed first. */
  weight: number;
  /** The variant behind a candidate's key (a stored choice read back), or null for a key that is not a candidate now. */
  resolve(variant: string): { matmul: MatmulVariant } | { attention: AttentionVariant } | null;
  /** Allocates the operands and returns how to run `perRun` calls of one variant (recorded, not waited for). */
  prepare(gpu: Gpu): { run(variant: string, perRun: number): void; dispose(): void };
}

/** A matmul shape as a tuning item. */
export function matmulItem(s: MatShape & { what?: string; count?: number }): TuneItem {
  const cands = matmulCandidates(s);
  const byKey = new Map(cands.map((v) => [variantKey(v), v]));
  return {
    key: shapeKey(s),
    label: `${matShapeLabel(s.M, s.N, s.K, s.transA, s.transB)}${s.what ? ` (${s.what})` : ''}`,
    candidates: [...byKey.keys()],
    rule: (gpu) => variantKey(ruleOfThumb(gpu, s.M, s.N, s.K, s.transA, s.transB)),
    resolve: (v) => (byKey.has(v) ? { matmul: byKey.get(v)! } : null),
    weight: 2 * s.M * s.N * s.K * (s.count ?? 1),
    prepare(gpu) {
      const A = gpu.alloc([s.M * s.K], 'tune.A');
      const B = gpu.alloc([s.K * s.N], 'tune.B');
      const C = gpu.alloc([s.M, s.N], 'tune.C');
      gpu.clear(A);
      gpu.clear(B);
      return {
        run: (v, perRun) => {
          for (let i = 0; i < perRun; i++) matmul(gpu, A, B, C, s.M, s.N, s.K, { transA: s.transA, transB: s.transB, variant: byKey.get(v) });
        },
        dispose: () => gpu.release(A, B, C),
      };
    },
  };
}

/** One attention pass on dims d as a tuning item (the backward's three kernels share one variant). */
export function attentionItem(pass: AttentionPass, d: AttnDims, count = 1): TuneItem {
  const byKey = new Map(attentionCandidates(d).map((v) => [attentionVariantKey(v), v]));
  const passes = { forward: 1, jvp: 2, backward: 3 }[pass];
  return {
    key: attentionShapeKey(pass, d),
    label: `attention ${pass} B ${d.B}, T ${d.T}, ${d.heads} heads, D ${d.D}`,
    candidates: [...byKey.keys()],
    rule: (gpu) => attentionVariantKey(attentionRule(gpu, d)),
    resolve: (v) => (byKey.has(v) ? { attention: byKey.get(v)! } : null),
    weight: 4 * d.B * d.T * d.T * d.D * passes * count,
    prepare(gpu) {
      const n = d.B * d.T * 3 * d.D;
      const qkv = gpu.alloc([n], 'tune.qkv');
      const tQkv = gpu.alloc([n], 'tune.tQkv');
      const dO = gpu.alloc([d.B * d.T * d.D], 'tune.dO');
      gpu.clear(qkv);
      gpu.clear(tQkv);
      gpu.clear(dO);
      return {
        run: (v, perRun) => {
          const ops = attentionGpu(gpu, byKey.get(v));
          for (let i = 0; i < perRun; i++) {
            const out: Tensor[] = pass === 'forward' ? [ops.forward(qkv, d)] : pass === 'jvp' ? ops.jvp(qkv, tQkv, d) : [ops.backward(qkv, dO, d)];
            gpu.release(...out);
          }
        },
        dispose: () => gpu.release(qkv, tQkv, dO),
      };
    },
  };
}

/** What autotuning times for a DiT at batch B: its matmuls (the ones that carry the time) and its attention passes. */
export function ditTuneItems(cfg: DiTConfig, B: number): TuneItem[] {
  const items = ditMatmuls(cfg, B).map(matmulItem);
  const T = tokens(cfg);
  // One token: the model skips the attention kernels (softmax over one key is 1).
  if (T > 1) for (const pass of ['forward', 'jvp', 'backward'] as const) items.push(attentionItem(pass, { B, T, heads: cfg.heads, D: cfg.D }, cfg.depth));
  return items;
}

/**
 * Milliseconds one call of `run` takes (run records and waits for a few dispatches of `variant` on
 * `item`). `best` is the fastest so far on this item: a timer may stop early for a clear loser, or
 * when `over()` says the time budget is spent.
 */
export type TuneTimer = (item: TuneItem, variant: string, run: () => Promise<void>, best: number, over: () => boolean) => Promise<number>;

/**
 * Wall clock: one untimed call (it compiles the pipeline), then one timed; a second timed call unless
 * the first lost by 3×. Past the budget the untimed call's time stands (compile included: an upper bound).
 */
export const wallTimer: TuneTimer = async (_item, _v, run, best, over) => {
  const t0 = performance.now();
  await run();
  if (over()) return performance.now() - t0;
  const time = async () => {
    const t0 = performance.now();
    await run();
    return performance.now() - t0;
  };
  const first = await time();
  if (first > 3 * best) return first;
  return Math.min(first, await time());
};

/**
 * A candidate replaces the one chosen so far only when faster by more than this share: two timed
 * calls of two dispatches move by several per cent between runs on a busy machine (on SwiftShader the
 * 8×8 register kernel's three workgroup sizes timed within a few per cent of each other, swapping
 * places from run to run), and a pick made on noise is as likely slower as faster.
 */
export const TIE = 0.05;

/** A variant that loses by more than 3× on this many items is not timed on the rest (tuning stays short). */
const PRUNE_AFTER = 2;

export interface TuneOpts {
  timer?: TuneTimer;
  /** Calls per timed run. */
  perRun?: number;
  /**
   * Stop timing after this many ms (the page's first load stays short): the items not reached keep
   * the rule, and are stored with no timings so a warm cache does not time them again.
   */
  budgetMs?: number;
  /** The clock for the budget (tests inject one). */
  now?: () => number;
  /** Called before each item is timed (a progress line). */
  onItem?: (done: number, total: number, item: TuneItem) => void;
}

/**
 * Times the candidates of every item, heaviest first, the rule's pick first within an item, and
 * returns the fastest per item (within TIE of each other, the earlier candidate stays). A variant
 * that lost by more than 3× on PRUNE_AFTER items is not timed again (the rule's pick is always
 * timed). Past the budget,
 * nothing more is timed: an item cut short keeps the fastest of its timed candidates, which include
 * the rule's (so a half-timed item never trades the rule for a variant that was timed alone, with its
 * compile time in the figure); the items not reached get no choice (their rule stays) and empty timings.
 */
export async function tune(gpu: Gpu, items: readonly TuneItem[], opts: TuneOpts = {}): Promise<Pick<TuneRecord, 'choices' | 'timings'>> {
  const timer = opts.timer ?? wallTimer;
  const perRun = opts.perRun ?? 2;
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const choices: Record<string, string> = {};
  const timings: Record<string, Record<string, number>> = {};
  const losses = new Map<string, number>();
  const todo = [...new Map(items.map((it) => [it.key, it])).values()].sort((a, b) => b.weight - a.weight);
  const over = () => opts.budgetMs !== undefined && now() - t0 > opts.budgetMs;
  for (const [n, item] of todo.entries()) {
    timings[item.key] = {};
    if (over()) continue;
    opts.onItem?.(n, todo.length, item);
    const rule = item.rule(gpu);
    if (!item.candidates.includes(rule)) throw new Error(`tune: the rule's ${rule} is not among ${item.label}'s candidates (${item.candidates.join(', ')})`);
    const ops = item.prepare(gpu);
    let best = Infinity;
    try {
      for (const v of [rule, ...item.candidates.filter((c) => c !== rule)]) {
        if (over()) break; // this item keeps the fastest of those timed: the rule's at least
        if (v !== rule && (losses.get(v) ?? 0) >= PRUNE_AFTER) continue;
        const run = async () => {
          ops.run(v, perRun);
          await gpu.sync();
        };
        const ms = await timer(item, v, run, best, over);
        timings[item.key][v] = ms;
        if (ms < best * (1 - TIE)) {
          best = ms;
          choices[item.key] = v;
        }
      }
      for (const [v, ms] of Object.entries(timings[item.key])) if (ms > 3 * best) losses.set(v, (losses.get(v) ?? 0) + 1);
    } finally {
      ops.dispose();
    }
  }
  return { choices, timings };
}

export interface EnsureTunedOpts extends TuneOpts {
  retune?: boolean;
}

/**
 * Applies the adapter's stored choices, timing first the items the store lacks (all of them with
 * `retune`, a new adapter or another TUNE_VERSION). Returns the record in force, how many items
 * were timed now (0: the cache was warm) and how many of those the time budget left to the rule.
 */
export async function ensureTuned(gpu: Gpu, items: readonly TuneItem[], store: TuneStore, opts: EnsureTunedOpts = {}): Promise<{ record: TuneRecord; timed: number; skipped: number; ms: number }> {
  const adapter = adapterKey(gpu.report);
  const t0 = performance.now();
  const stored = opts.retune ? null : await store.load(adapter);
  const valid = stored && stored.version === TUNE_VERSION && stored.adapter === adapter ? stored : null;
  const missing = items.filter((it) => !valid?.timings[it.key]);
  let record: TuneRecord = valid ?? { version: TUNE_VERSION, adapter, choices: {}, timings: {}, tunedAt: '' };
  let skipped = 0;
  if (missing.length > 0) {
    const fresh = await tune(gpu, missing, opts);
    skipped = Object.values(fresh.timings).filter((t) => Object.keys(t).length === 0).length;
    record = {
      ...record,
      choices: { ...record.choices, ...fresh.choices },
      timings: { ...record.timings, ...fresh.timings },
      tunedAt: new Date().toISOString(),
    };
    await store.save(record);
  }
  applyTuning(gpu, record, items);
  return { record, timed: new Set(missing.map((it) => it.key)).size, skipped, ms: performance.now() - t0 };
}

/**
 * Makes chooseMatmul and chooseAttention use the record's choices for these items on this Gpu. A
 * stored choice that is no longer one of its item's candidates (other kernels) leaves the rule.
 */
function applyTuning(gpu: Gpu, record: TuneRecord, items: readonly TuneItem[]): void {
  const mm = new Map<string, MatmulVariant>();
  const att = new Map<string, AttentionVariant>();
  for (const it of items) {
    const v = record.choices[it.key];
    const c = v === undefined ? null : it.resolve(v);
    if (c && 'matmul' in c) mm.set(it.key, c.matmul);
    if (c && 'attention' in c) att.set(it.key, c.attention);
  }
  setMatmulChoices(gpu, mm);
  setAttentionChoices(gpu, att);
}

/** One row of "which variant each shape uses": shape, layer, variant, and whether timing chose it or the rule. */
export interface ChoiceRow {
  shape: string;
  layer: string;
  variant: string;
  from: 'tuned' | 'rule';
}

/** The variant each DiT shape uses on this Gpu now (bench --profile and the page's profile panel list these). */
export function choiceRows(gpu: Gpu, cfg: DiTConfig, B: number): ChoiceRow[] {
  const rows: ChoiceRow[] = ditMatmuls(cfg, B, true).map((s) => ({
    shape: matShapeLabel(s.M, s.N, s.K, s.transA, s.transB),
    layer: s.what,
    variant: variantKey(chooseMatmul(gpu, s.M, s.N, s.K, s.transA, s.transB)),
    from: isTunedShape(gpu, s.M, s.N, s.K, s.transA, s.transB) ? 'tuned' : 'rule',
  }));
  const d = { B, T: tokens(cfg), heads: cfg.heads, D: cfg.D };
  if (d.T > 1)
    for (const pass of ['forward', 'jvp', 'backward'] as const)
      rows.push({ shape: `${d.B}×${d.T}×${d.heads}×${d.D}`, layer: `attention ${pass}`, variant: attentionVariantKey(chooseAttention(gpu, pass, d)), from: isTunedAttention(gpu, pass, d) ? 'tuned' : 'rule' });
  return rows;
}
