// Matmul autotuning (src/ops/tune.ts): every candidate kernel is correct on every DiT shape against
// the f64 reference; the choice is the fastest under an injected timer; the cache is keyed by the
// adapter and a warm cache times nothing; --retune, a new adapter, a new shape or a new TUNE_VERSION
// time again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterReport } from '../../src/gpu/device';
import { chooseMatmul, matmul, ruleOfThumb, type MatmulVariant } from '../../src/ops/linear';
import { adapterKey, ditMatmuls, ensureTuned, matmulCandidates, shapeKey, TUNE_VERSION, tuneMatmuls, variantKey, type MatShape, type TuneRecord, type TuneStore, type TuneTimer } from '../../src/ops/tune';
import { PRESETS } from '../../src/model/config';
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

test('tune: every candidate variant computes every DiT matmul shape (tiny, tiny-16 and points, batch 2, conditioning MLPs included) like the f64 reference', async () => {
  const gpu = await getGpu();
  const rng = new Rng(3);
  let checked = 0;
  const seen = new Set<string>();
  for (const preset of ['tiny', 'tiny-16', 'points']) {
    for (const s of ditMatmuls(PRESETS[preset].config, 2, true)) {
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

/** A timer that runs nothing and reports a fixed cost per variant (and counts its calls). */
function fakeTimer(cost: (s: MatShape, v: MatmulVariant) => number): TuneTimer & { calls: number } {
  const t = (async (s: MatShape, v: MatmulVariant) => {
    t.calls++;
    return cost(s, v);
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

const shapes = ditMatmuls(PRESETS.tiny.config, 4);
// Per shape, a different candidate is cheapest: the tuner must find each one.
const costOf = (s: MatShape, v: MatmulVariant) => {
  const cands = matmulCandidates(s).map(variantKey);
  const fastest = cands[(s.M + s.N + s.K) % cands.length];
  return variantKey(v) === fastest ? 1 : 1.5 + 0.1 * cands.indexOf(variantKey(v)); // within 3×: nothing pruned
};

test('tune: the choice per shape is the fastest candidate under an injected timer, and chooseMatmul uses it', async () => {
  const gpu = await getGpu();
  const timer = fakeTimer(costOf);
  const { choices, timings } = await tuneMatmuls(gpu, shapes, timer);
  let differsFromRule = 0;
  for (const s of shapes) {
    const cands = matmulCandidates(s);
    const want = cands.reduce((best, v) => (costOf(s, v) < costOf(s, best) ? v : best));
    assert.deepEqual(choices[shapeKey(s)], want, shapeKey(s));
    assert.equal(Object.keys(timings[shapeKey(s)]).length, cands.length);
  }
  assert.equal(timer.calls, shapes.reduce((n, s) => n + matmulCandidates(s).length, 0));
  const store = new MemoryStore();
  await ensureTuned(gpu, shapes, store, { timer: fakeTimer(costOf) });
  for (const s of shapes) {
    const picked = chooseMatmul(gpu, s.M, s.N, s.K, s.transA, s.transB);
    assert.deepEqual(picked, choices[shapeKey(s)]);
    if (variantKey(picked) !== variantKey(ruleOfThumb(gpu, s.M, s.N, s.K, s.transA, s.transB))) differsFromRule++;
  }
  assert.ok(differsFromRule > 0, 'the fake costs should move some shapes off the rule');
});

test('tune: a variant that loses by more than 3× on two shapes is not timed on the rest', async () => {
  const gpu = await getGpu();
  const timer = fakeTimer((_s, v) => (variantKey(v) === 'tile64' ? 10 : 1 + 0.1 * matmulCandidates(_s).findIndex((c) => variantKey(c) === variantKey(v))));
  const seen: string[] = [];
  const wrapped = (async (s: MatShape, v: MatmulVariant, run: () => Promise<void>, best: number) => {
    seen.push(variantKey(v));
    return timer(s, v, run, best);
  }) as TuneTimer;
  const { timings } = await tuneMatmuls(gpu, shapes, wrapped);
  assert.equal(seen.filter((k) => k === 'tile64').length, 2);
  assert.ok(shapes.length > 2);
  assert.ok(Object.values(timings).every((t) => Object.keys(t).length > 0));
});

test('tune: cache keyed by adapter; a warm cache times nothing; retune, another adapter, a new shape or version time again', async () => {
  const gpu = await getGpu();
  const store = new MemoryStore();
  const first = fakeTimer(costOf);
  const r1 = await ensureTuned(gpu, shapes, store, { timer: first });
  assert.ok(first.calls > 0);
  assert.equal(r1.timed, new Set(shapes.map(shapeKey)).size);
  assert.equal(r1.record.adapter, adapterKey(gpu.report));

  const warm = fakeTimer(costOf);
  const r2 = await ensureTuned(gpu, shapes, store, { timer: warm });
  assert.equal(warm.calls, 0, 'a warm cache must not time anything');
  assert.equal(r2.timed, 0);
  assert.equal(store.saves, 1);

  const again = fakeTimer(costOf);
  await ensureTuned(gpu, shapes, store, { timer: again, retune: true });
  assert.ok(again.calls > 0, '--retune times again');

  const extra: MatShape = { M: 8, N: 12, K: 20, transA: false, transB: true };
  const one = fakeTimer(costOf);
  const r3 = await ensureTuned(gpu, [...shapes, extra], store, { timer: one });
  assert.equal(r3.timed, 1, 'only the new shape is timed');
  assert.equal(one.calls, matmulCandidates(extra).length);

  // Stale version, or a record stored under this key for another adapter: timed again.
  const key = adapterKey(gpu.report);
  store.records.set(key, { ...store.records.get(key)!, version: TUNE_VERSION - 1 });
  const stale = fakeTimer(costOf);
  await ensureTuned(gpu, shapes, store, { timer: stale });
  assert.ok(stale.calls > 0, 'a record of another TUNE_VERSION is timed again');

  const base: AdapterReport = { ...gpu.report };
  assert.notEqual(adapterKey({ ...base, description: `${base.description} (driver 2)` }), adapterKey(base), 'a new driver is a new key');
  assert.notEqual(adapterKey({ ...base, device: 'other' }), adapterKey(base));
  assert.notEqual(adapterKey({ ...base, vendor: 'other' }), adapterKey(base));
});

test('tune: the file store round-trips records per adapter and treats a corrupt file as empty', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facm-tune-'));
  try {
    const store = new FileTuneStore(join(dir, 'sub', 'tune.json'));
    assert.equal(await store.load('a'), null);
    const rec = (adapter: string): TuneRecord => ({ version: TUNE_VERSION, adapter, choices: { '8x8x8Bt': { kind: 'reg', wg: 16 } }, timings: { '8x8x8Bt': { reg16: 1 } }, tunedAt: 'now' });
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
