// Autotuning (src/ops/tune.ts): every candidate kernel (matmul variants, attention tile sizes) is
// correct on every DiT shape against the f64 reference; the choice is the fastest under an injected
// timer; the cache is keyed by the adapter and a warm cache times nothing; --retune, a new adapter, a
// new shape or a new TUNE_VERSION time again; a time budget leaves the rest to the rule, once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterReport } from '../../src/gpu/device';
import { chooseMatmul, matmul, ruleOfThumb } from '../../src/ops/linear';
import { attentionCandidates, attentionCpu, attentionGpu, attentionVariantKey, chooseAttention, attentionRule } from '../../src/ops/attention';
import { adapterKey, attentionItem, choiceRows, ditMatmuls, ditTuneItems, ensureTuned, matmulCandidates, matmulItem, shapeKey, TIE, tune, TUNE_VERSION, variantKey, type MatShape, type TuneItem, type TuneRecord, type TuneStore, type TuneTimer } from '../../src/ops/tune';
import { PRESETS, tokens } from '../../src/model/config';
import { FileTuneStore } from '../../src/cli/tuneStore';
import { Rng } from '../../src/util/rng';
import { expectClose } from '../helpers/close';
import { gpuForFile } from '../helpers/gpu';

const getGpu = gpuForFile();

/** C = op(A)·op(B) in f64. */
function matmulRef(a: Float32Array, b: Float32Array, s: MatShape): Float64Array {
  const { M, N, K, transA, transB } = s;
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += a[transA ? k * M + m : m * K + k] * b[transB ? n * K + k : k * N + n];
      c[m * N + n] = acc;
    }
  return c;
}

test('tune: every candidate variant computes every DiT matmul shape of every preset (batch 2; cifar-b batch 1; conditioning MLPs included) like the f64 reference', async () => {
  const gpu = await getGpu();
  const rng = new Rng(3);
  let checked = 0;
  const seen = new Set<string>();
  for (const preset of Object.keys(PRESETS)) {
    for (const s of ditMatmuls(PRESETS[preset].config, preset === 'cifar-b' ? 1 : 2, true)) {
      if (seen.has(shapeKey(s))) continue;
      seen.add(shapeKey(s));
      const a = rng.normals(s.M * s.K);
      const b = rng.normals(s.K * s.N);
      const want = matmulRef(a, b, s);
      const A = gpu.upload(a, [a.length]);
      const B = gpu.upload(b, [b.length]);
      for (const v of matmulCandidates(s)) {
        const C = gpu.alloc([s.M, s.N]);
        matmul(gpu, A, B, C, s.M, s.N, s.K, { transA: s.transA, transB: s.transB, variant: v });
        expectClose(`${s.what} ${shapeKey(s)} ${variantKey(v)}`, await gpu.read(C), want, { atol: 1e-4, rtol: 1e-4 });
        gpu.release(C);
        checked++;
      }
      gpu.release(A, B);
    }
  }
  assert.ok(checked > 60, `only ${checked} (shape, variant) pairs checked`);
});

test('tune: every attention tile-size candidate computes forward, jvp and backward on every DiT shape of every preset (batch 2) like the f64 reference', async () => {
  const gpu = await getGpu();
  const rng = new Rng(5);
  let checked = 0;
  for (const [name, p] of Object.entries(PRESETS)) {
    const d = { B: 2, T: tokens(p.config), heads: p.config.heads, D: p.config.D };
    const n = d.B * d.T * 3 * d.D;
    const [qkv, tQkv, dO] = [rng.normals(n), rng.normals(n), rng.normals(n / 3)];
    const f64 = (a: Float32Array) => Float64Array.from(a);
    const o = attentionCpu.forward(f64(qkv), d);
    const [, tO] = attentionCpu.jvp(f64(qkv), f64(tQkv), d);
    const dQkv = attentionCpu.backward(f64(qkv), f64(dO), d);
    const [Q, TQ, DO] = [gpu.upload(qkv, [n]), gpu.upload(tQkv, [n]), gpu.upload(dO, [n / 3])];
    const cands = attentionCandidates(d);
    assert.ok(cands.filter((v) => v.kind === 'tiled').length >= 2, `${name}: at least two tile sizes`);
    for (const v of cands) {
      const ops = attentionGpu(gpu, v);
      const what = `${name} ${d.B}×${d.T}×${d.heads}×${d.D} ${attentionVariantKey(v)}`;
      const go = ops.forward(Q, d);
      const [jo, jt] = ops.jvp(Q, TQ, d);
      const gd = ops.backward(Q, DO, d);
      expectClose(`${what} forward`, await gpu.read(go), o);
      expectClose(`${what} jvp o`, await gpu.read(jo), o);
      expectClose(`${what} jvp tO`, await gpu.read(jt), tO);
      expectClose(`${what} backward`, await gpu.read(gd), dQkv);
      gpu.release(go, jo, jt, gd);
      checked++;
    }
    gpu.release(Q, TQ, DO);
  }
  assert.ok(checked >= 6 * 5, `only ${checked} (shape, variant) pairs checked`);
});

/** A timer that runs nothing and reports a fixed cost per variant (and counts its calls). */
function fakeTimer(cost: (item: TuneItem, v: string) => number): TuneTimer & { calls: number } {
  const t = (async (item: TuneItem, v: string) => {
    t.calls++;
    return cost(item, v);
  }) as unknown as TuneTimer & { calls: number };
  t.calls = 0;
  return t;
}

class MemoryStore implements TuneStore {
  records = new Map<string, TuneRecord>();
  saves = 0;
  async load(adapter: string) {
    return this.records.get(adapter) ?? null;
  }
  async save(r: TuneRecord) {
    this.saves++;
    this.records.set(r.adapter, structuredClone(r));
  }
}

const items = ditTuneItems(PRESETS.tiny.config, 4);
const itemKeys = new Set(items.map((it) => it.key));
const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1000003, 7);
// Per item, a different candidate is cheapest: the tuner must find each one.
const costOf = (item: TuneItem, v: string) => {
  const fastest = item.candidates[hash(item.key) % item.candidates.length];
  return v === fastest ? 1 : 1.5 + 0.1 * item.candidates.indexOf(v); // within 3×: nothing pruned
};

test('tune: the choice per shape is the fastest candidate under an injected timer, and chooseMatmul / chooseAttention use it', async () => {
  const gpu = await getGpu();
  assert.ok(items.some((it) => it.key.startsWith('attention.')) && items.some((it) => !it.key.startsWith('attention.')), 'tiny tunes matmuls and attention');
  const timer = fakeTimer(costOf);
  const { choices, timings } = await tune(gpu, items, { timer });
  for (const it of items) {
    const want = it.candidates.reduce((best, v) => (costOf(it, v) < costOf(it, best) ? v : best));
    assert.equal(choices[it.key], want, it.key);
    assert.equal(Object.keys(timings[it.key]).length, it.candidates.length);
  }
  assert.equal(timer.calls, items.reduce((n, it) => n + it.candidates.length, 0));
  const store = new MemoryStore();
  await ensureTuned(gpu, items, store, { timer: fakeTimer(costOf) });
  let differsFromRule = 0;
  for (const s of ditMatmuls(PRESETS.tiny.config, 4)) {
    const picked = chooseMatmul(gpu, s.M, s.N, s.K, s.transA, s.transB);
    assert.equal(variantKey(picked), choices[shapeKey(s)]);
    if (variantKey(picked) !== variantKey(ruleOfThumb(gpu, s.M, s.N, s.K, s.transA, s.transB))) differsFromRule++;
  }
  const cfg = PRESETS.tiny.config;
  const d = { B: 4, T: tokens(cfg), heads: cfg.heads, D: cfg.D };
  for (const pass of ['forward', 'jvp', 'backward'] as const) {
    const picked = attentionVariantKey(chooseAttention(gpu, pass, d));
    assert.equal(picked, choices[`attention.${pass} 4x${d.T}x${d.heads}x${d.D}`], pass);
    if (picked !== attentionVariantKey(attentionRule(gpu, d))) differsFromRule++;
  }
  assert.ok(differsFromRule > 0, 'the fake costs should move some shapes off the rule');
  // What the profile panel and bench --profile list: every shape, its variant and where it came from.
  const rows = choiceRows(gpu, cfg, 4);
  assert.ok(rows.filter((r) => r.layer.startsWith('attention')).every((r) => r.from === 'tuned'));
  assert.ok(rows.some((r) => r.from === 'rule'), 'the conditioning MLPs are not tuned');
});

test('tune: a variant that loses by more than 3× on two shapes is not timed on the rest', async () => {
  const gpu = await getGpu();
  const mm = items.filter((it) => !it.key.startsWith('attention.'));
  const seen: string[] = [];
  const timer: TuneTimer = async (item, v) => {
    seen.push(v);
    return v === 'tile64' ? 10 : 1 + 0.1 * item.candidates.indexOf(v);
  };
  const { timings } = await tune(gpu, mm, { timer });
  assert.equal(seen.filter((k) => k === 'tile64').length, 2);
  assert.ok(mm.length > 2);
  assert.ok(Object.values(timings).every((t) => Object.keys(t).length > 0));
});

test('tune: heaviest shapes first; past the time budget the rest keep the rule, are stored as such and not timed again', async () => {
  const gpu = await getGpu();
  let clock = 0;
  const order: string[] = [];
  const timer: TuneTimer = async (item, v) => {
    if (order.at(-1) !== item.key) order.push(item.key);
    clock += 10; // every timing costs 10 fake ms
    return costOf(item, v);
  };
  const store = new MemoryStore();
  const budgetMs = 95;
  const r = await ensureTuned(gpu, items, store, { timer, budgetMs, now: () => clock });
  const byWeight = [...items].sort((a, b) => b.weight - a.weight).map((it) => it.key);
  assert.deepEqual(order, byWeight.slice(0, order.length), 'timed heaviest first');
  assert.ok(order.length >= 1 && order.length < itemKeys.size, `${order.length} of ${itemKeys.size} timed within the budget`);
  assert.equal(r.skipped, itemKeys.size - order.length);
  assert.equal(Object.keys(r.record.choices).length, order.length);
  assert.equal(Object.keys(r.record.timings).length, itemKeys.size, 'skipped items are stored (with no timings)');
  const warm = fakeTimer(costOf);
  const again = await ensureTuned(gpu, items, store, { timer: warm });
  assert.equal(warm.calls, 0, 'a warm cache with skipped items times nothing');
  assert.equal(again.timed, 0);
});

test("tune: the rule's pick is timed first, so an item cut short by the budget keeps it unless a timed candidate beat it", async () => {
  const gpu = await getGpu();
  let clock = 0;
  const seen: [string, string][] = [];
  // Every variant but the rule's is 5× faster: only a timing can move an item off the rule.
  const timer: TuneTimer = async (item, v) => {
    seen.push([item.key, v]);
    clock += 10;
    return v === item.rule(gpu) ? 5 : 1;
  };
  const order = [...items].sort((a, b) => b.weight - a.weight);
  const [first, second] = order;
  // The heaviest item is timed in full, the next one gets a single timing before the budget ends.
  const budgetMs = 10 * (first.candidates.length + 1) - 5;
  const { choices, timings } = await tune(gpu, items, { timer, budgetMs, now: () => clock });
  for (const it of [first, second]) assert.deepEqual(seen.find(([k]) => k === it.key), [it.key, it.rule(gpu)], `${it.label}: the rule's pick is timed first`);
  assert.notEqual(choices[first.key], first.rule(gpu), 'a candidate that beat the rule replaces it');
  assert.deepEqual(Object.keys(timings[second.key]), [second.rule(gpu)]);
  assert.equal(choices[second.key], second.rule(gpu), 'cut short after the rule: the rule stands');
  for (const it of items) assert.ok(it.candidates.includes(it.rule(gpu)), `${it.label}: the rule's pick is a candidate`);
  // Faster by less than TIE is noise: the rule stays everywhere.
  const near = await tune(gpu, items, { timer: async (item, v) => (v === item.rule(gpu) ? 1 : 1 - TIE / 2) });
  for (const it of items) assert.equal(near.choices[it.key], it.rule(gpu), `${it.label}: a win within TIE keeps the rule`);
});

test('tune: a stored choice that is not one of its shape\'s candidates now leaves the rule; a valid one is applied', async () => {
  const gpu = await getGpu();
  const mm = ditMatmuls(PRESETS.tiny.config, 4);
  const [stale, kept] = mm;
  const rule = (s: MatShape) => variantKey(ruleOfThumb(gpu, s.M, s.N, s.K, s.transA, s.transB));
  const other = matmulItem(kept).candidates.find((v) => v !== rule(kept))!;
  const store = new MemoryStore();
  const timings = Object.fromEntries(items.map((it) => [it.key, { x: 1 }])); // every item timed: nothing is timed again
  await store.save({ version: TUNE_VERSION, adapter: adapterKey(gpu.report), choices: { [shapeKey(stale)]: 'tile999', [shapeKey(kept)]: other }, timings, tunedAt: '' });
  const timer = fakeTimer(costOf);
  await ensureTuned(gpu, items, store, { timer });
  assert.equal(timer.calls, 0);
  assert.equal(variantKey(chooseMatmul(gpu, stale.M, stale.N, stale.K, stale.transA, stale.transB)), rule(stale));
  assert.equal(variantKey(chooseMatmul(gpu, kept.M, kept.N, kept.K, kept.transA, kept.transB)), other);
});

test('tune: cache keyed by adapter; a warm cache times nothing; retune, another adapter, a new shape or version time again', async () => {
  const gpu = await getGpu();
  const store = new MemoryStore();
  const first = fakeTimer(costOf);
  const r1 = await ensureTuned(gpu, items, store, { timer: first });
  assert.ok(first.calls > 0);
  assert.equal(r1.timed, itemKeys.size);
  assert.equal(r1.record.adapter, adapterKey(gpu.report));

  const warm = fakeTimer(costOf);
  const r2 = await ensureTuned(gpu, items, store, { timer: warm });
  assert.equal(warm.calls, 0, 'a warm cache must not time anything');
  assert.equal(r2.timed, 0);
  assert.equal(store.saves, 1);

  const again = fakeTimer(costOf);
  await ensureTuned(gpu, items, store, { timer: again, retune: true });
  assert.ok(again.calls > 0, '--retune times again');

  const extra = matmulItem({ M: 8, N: 12, K: 20, transA: false, transB: true });
  const extraAtt = attentionItem('forward', { B: 1, T: 9, heads: 2, D: 8 });
  const one = fakeTimer(costOf);
  const r3 = await ensureTuned(gpu, [...items, extra, extraAtt], store, { timer: one });
  assert.equal(r3.timed, 2, 'only the new shapes are timed');
  assert.equal(one.calls, extra.candidates.length + extraAtt.candidates.length);

  // Stale version: timed again.
  const key = adapterKey(gpu.report);
  store.records.set(key, { ...store.records.get(key)!, version: TUNE_VERSION - 1 });
  const stale = fakeTimer(costOf);
  await ensureTuned(gpu, items, store, { timer: stale });
  assert.ok(stale.calls > 0, 'a record of another TUNE_VERSION is timed again');

  // Another adapter (a store that answers with a record of another key): timed again.
  const other = new MemoryStore();
  other.load = async () => ({ ...store.records.get(key)!, adapter: 'node|other|||' });
  const foreign = fakeTimer(costOf);
  await ensureTuned(gpu, items, other, { timer: foreign });
  assert.ok(foreign.calls > 0, "another adapter's record is timed again");

  const base: AdapterReport = { ...gpu.report };
  assert.notEqual(adapterKey({ ...base, description: `${base.description} (driver 2)` }), adapterKey(base), 'a new driver is a new key');
  assert.notEqual(adapterKey({ ...base, device: 'other' }), adapterKey(base));
  assert.notEqual(adapterKey({ ...base, vendor: 'other' }), adapterKey(base));
  assert.notEqual(adapterKey({ ...base, architecture: 'other' }), adapterKey(base));
});

test('tune: the file store round-trips records per adapter and treats a corrupt file as empty', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facm-tune-'));
  try {
    const store = new FileTuneStore(join(dir, 'sub', 'tune.json'));
    assert.equal(await store.load('a'), null);
    const rec = (adapter: string): TuneRecord => ({ version: TUNE_VERSION, adapter, choices: { '8x8x8Bt': 'reg16' }, timings: { '8x8x8Bt': { reg16: 1 } }, tunedAt: 'now' });
    await store.save(rec('a'));
    await store.save(rec('b'));
    assert.deepEqual(await store.load('a'), rec('a'));
    assert.deepEqual(await store.load('b'), rec('b'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(store.file, '{ not json');
    assert.equal(await store.load('a'), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tune: a profile labels each matmul with its variant and shape (what bench --profile and the profile panel list)', async (t) => {
  const gpu = await getGpu();
  if (!gpu.startProfile()) return t.skip('no timestamp-query on this adapter');
  const A = gpu.alloc([8 * 20]);
  const B = gpu.alloc([12 * 20]);
  const C = gpu.alloc([8, 12]);
  matmul(gpu, A, B, C, 8, 12, 20, { transB: true, variant: { kind: 'reg', wg: 32 } });
  matmul(gpu, A, B, C, 8, 12, 20, { transB: true, variant: { kind: 'tile', tt: 8 } });
  const prof = await gpu.stopProfile();
  assert.deepEqual(prof.map((e) => e.label), ['linear.matmul_reg reg32 8×12×20 Bᵀ', 'linear.matmul tile32 8×12×20 Bᵀ']);
  gpu.release(A, B, C);
});
