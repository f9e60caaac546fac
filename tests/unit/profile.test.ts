// summarizeProfile: per-kernel dispatches, GPU time and share, slowest first (bench --profile and the playground's panel).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarizeProfile } from '../../src/gpu/profile';

test('profile summary: grouped by kernel label, slowest first, shares add up to 1', () => {
  const p = summarizeProfile([
    { label: 'linear.matmul', ms: 2 },
    { label: 'optim.adamw', ms: 1 },
    { label: 'linear.matmul', ms: 3 },
    { label: 'patch.patchify', ms: 1 },
  ]);
  assert.equal(p.dispatches, 4);
  assert.equal(p.totalMs, 7);
  assert.deepEqual(p.kernels.map((k) => [k.label, k.dispatches, k.ms]), [['linear.matmul', 2, 5], ['optim.adamw', 1, 1], ['patch.patchify', 1, 1]]);
  assert.ok(Math.abs(p.kernels.reduce((a, k) => a + k.share, 0) - 1) < 1e-12);
  assert.deepEqual(summarizeProfile([]), { kernels: [], dispatches: 0, totalMs: 0 });
});
