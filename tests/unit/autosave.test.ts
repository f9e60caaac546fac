// The playground's autosave decisions (src/ui/persistence/autosavePolicy.ts): which saved set a page load
// looks at, when it is applied rather than offered, and the thinned metric series (src/train/metrics.ts).
// When a run is saved is the session's: tests/train/session.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pickSet, restoreDecision, restoredText, type SavedRun } from '../../src/ui/persistence/autosavePolicy';
import { thinChunk } from '../../src/train/metrics';
import { METRIC_FIELDS, T_BINS, type MetricsChunk } from '../../src/worker/protocol';

const saved = (page: string, order: number, at: number, extra: Partial<SavedRun> = {}): SavedRun => ({ slot: `${page}:run${order}`, page, order, focused: order === 0, step: 100, saved: at, search: '?preset=tiny', ...extra });

test('a page load looks at the newest page load’s set, in its order; older sets are stale', () => {
  const all = [saved('a', 0, 10), saved('b', 1, 30), saved('b', 0, 20), saved('a', 1, 11)];
  const { set, stale } = pickSet(all);
  assert.deepEqual(set.map((m) => m.slot), ['b:run0', 'b:run1']);
  assert.deepEqual(stale.map((m) => m.slot).sort(), ['a:run0', 'a:run1']);
  assert.deepEqual(pickSet([]), { set: [], stale: [] });
});

test('restore rule: applied on a bare address or a reload of the same address; a shared link only gets an offer', () => {
  const set = [saved('b', 0, 20, { search: '?preset=tiny&autosaveEvery=3' }), saved('b', 1, 20, { search: '?other' })];
  assert.equal(restoreDecision('', null, []), 'none');
  assert.equal(restoreDecision('?preset=tiny', null, []), 'none');
  assert.equal(restoreDecision('', null, set), 'apply');
  assert.equal(restoreDecision('?', null, set), 'apply');
  assert.equal(restoreDecision('?preset=tiny&autosaveEvery=3', null, set), 'apply', 'the focused run’s saved address');
  assert.equal(restoreDecision('?preset=tiny&seed=9', '?preset=tiny&seed=9', set), 'apply', 'the address this tab left with (edited after the save)');
  assert.equal(restoreDecision('?preset=tiny-16&objective=meanflow', null, set), 'offer', 'a new tab with a shared link');
  assert.equal(restoreDecision('?preset=tiny-16&objective=meanflow', '?preset=tiny&autosaveEvery=3', set), 'offer', 'a link pasted into this tab');
});

test('restored notice text', () => {
  assert.equal(restoredText([7]), 'restored 1 run from autosave at step 7, press Train to continue');
  assert.equal(restoredText([400, 400]), 'restored 2 runs from autosave at step 400, press Train to continue');
  assert.equal(restoredText([400, 350]), 'restored 2 runs from autosave at steps 400, 350, press Train to continue');
});

function chunk(n: number): MetricsChunk {
  const c = { n, step: Float64Array.from({ length: n }, (_, i) => i + 1) } as MetricsChunk;
  for (const k of METRIC_FIELDS) c[k] = Float32Array.from({ length: n }, (_, i) => i * 10);
  c.binCount = Float32Array.from({ length: n * T_BINS }, (_, i) => Math.floor(i / T_BINS));
  c.binClamp = new Float32Array(n * T_BINS);
  c.binG2 = new Float32Array(n * T_BINS);
  return c;
}

test('thinChunk keeps short series whole and thins long ones evenly, first and last rows kept, bins per row', () => {
  const short = chunk(5);
  assert.equal(thinChunk(short, 5), short);
  const t = thinChunk(chunk(1001), 11);
  assert.equal(t.n, 11);
  assert.deepEqual([...t.step], [1, 101, 201, 301, 401, 501, 601, 701, 801, 901, 1001]);
  assert.deepEqual([...t.loss].slice(0, 3), [0, 1000, 2000]);
  for (const k of METRIC_FIELDS) assert.equal(t[k].length, 11);
  assert.equal(t.binCount.length, 11 * T_BINS);
  assert.deepEqual([...t.binCount.subarray(T_BINS, 2 * T_BINS)], Array(T_BINS).fill(100), 'the bins of row 100 go with it');
});
