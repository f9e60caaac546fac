// Autotuning in the worker (src/worker/tune.ts) with an injected store standing in for IndexedDB: the
// first build on an adapter times the kernels (within the time budget) and stores the choice; a
// second session on the same adapter (a page load with a warm cache) times nothing and uses the same
// variants; Re-tune times again; with no store (no IndexedDB) nothing is timed and the rule stands.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaults } from '../../src/config';
import { tokens, PRESETS } from '../../src/model/config';
import { adapterKey, ditTuneItems, type TuneRecord, type TuneStore } from '../../src/ops/tune';
import type { FromWorker } from '../../src/worker/protocol';
import { sessionHarness } from '../helpers/runSession';

type Tuned = Extract<FromWorker, { type: 'tuned' }>;

class MemoryStore implements TuneStore {
  records = new Map<string, TuneRecord>();
  saves = 0;
  async load(adapter: string) {
    return structuredClone(this.records.get(adapter) ?? null);
  }
  async save(r: TuneRecord) {
    this.saves++;
    this.records.set(r.adapter, structuredClone(r));
  }
}

const config = { ...defaults(), preset: 'tiny', dataset: 'blobs8', batch: 2, sampleEvery: 1000, euler: 0 } as const;

test('worker autotuning: first load tunes and stores; a warm cache times nothing; Re-tune times again; no store, no timing', { timeout: 300_000 }, async () => {
  const store = new MemoryStore();
  const items = ditTuneItems(PRESETS.tiny.config, config.batch);
  assert.ok(tokens(PRESETS.tiny.config) > 1 && items.some((it) => it.key.startsWith('attention.')));

  // First load on this adapter: every shape is accounted for (timed, or left to the rule past the budget) and stored.
  const a = sessionHarness(120_000, { tuneStore: store, tuneBudgetMs: 500 });
  a.session.receive({ type: 'init', config });
  const first = await a.next<Tuned>((m) => m.type === 'tuned');
  await a.next((m) => m.type === 'ready');
  assert.equal(first.tune.note, null);
  assert.equal(first.tune.timed, items.length);
  assert.ok(first.tune.skipped < items.length, 'at least the heaviest shape was timed');
  assert.equal(store.saves, 1);
  const rec = [...store.records.values()][0];
  assert.equal(first.tune.adapter, rec.adapter);
  assert.equal(Object.keys(rec.timings).length, items.length);
  assert.ok(first.tune.rows.some((r) => r.from === 'tuned'), JSON.stringify(first.tune.rows));
  assert.ok(first.tune.rows.some((r) => r.layer === 'attention backward'));

  // A second page load (a new session and device, the same adapter and store): nothing timed, the same choices.
  const b = sessionHarness(120_000, { tuneStore: store, tuneBudgetMs: 500 });
  b.session.receive({ type: 'init', config });
  const warm = await b.next<Tuned>((m) => m.type === 'tuned');
  await b.next((m) => m.type === 'ready');
  assert.equal(warm.tune.timed, 0, 'a warm cache must not time anything');
  assert.equal(store.saves, 1);
  assert.deepEqual(warm.tune.rows, first.tune.rows);
  assert.equal(warm.tune.adapter, first.tune.adapter);

  // Re-tune (the profile panel's button): timed again and stored again.
  b.session.receive({ type: 'retune', req: 7 });
  const again = await b.next<Tuned>((m) => m.type === 'tuned' && m.req === 7);
  assert.equal(again.tune.timed, items.length);
  assert.equal(store.saves, 2);

  // No IndexedDB (the default in Node): nothing is timed, and the panel says why.
  const c = sessionHarness(120_000, { tuneStore: null });
  c.session.receive({ type: 'init', config });
  const none = await c.next<Tuned>((m) => m.type === 'tuned');
  assert.equal(none.tune.timed, 0);
  assert.match(none.tune.note ?? '', /no IndexedDB/);
  assert.ok(none.tune.rows.every((r) => r.from === 'rule'));
  assert.equal(adapterKey({ ...(await c.next<Extract<FromWorker, { type: 'ready' }>>((m) => m.type === 'ready')).info.adapter }), first.tune.adapter);
  for (const h of [a, b, c]) await h.session.close();
});
