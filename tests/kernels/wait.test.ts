// The runtime's waits for the GPU in Node on a CPU-like adapter: Dawn's polling goes through a timer
// while one of our waits is pending (not a setImmediate spin that takes a core from SwiftShader),
// overlapping waits restore the real setImmediate once, and results are unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpuForFile } from '../helpers/gpu';

const gpu = gpuForFile();

test('gentle wait: on for a CPU-like adapter in Node; setImmediate is a timer during waits and itself after', async () => {
  const g = await gpu();
  assert.equal(g.gentleWait, g.report.backend === 'node' && g.cpuLike && process.env.FACM_GENTLE_WAIT !== '0');
  if (!g.gentleWait) return;
  const real = globalThis.setImmediate;
  const t = g.upload([1, 2, 3, 4], [4]);
  const read = g.read(t); // pending: setImmediate is swapped
  assert.notEqual(globalThis.setImmediate, real, 'setImmediate not routed through a timer during a wait');
  const sync = g.sync(); // overlapping
  // Something else scheduling work meanwhile still runs, and can be cleared.
  let ran = false;
  await new Promise<void>((res) => setImmediate(() => ((ran = true), res())));
  const cleared = setImmediate(() => assert.fail('a cleared callback ran'));
  clearImmediate(cleared);
  const [vals] = await Promise.all([read, sync]);
  assert.deepEqual(Array.from(vals), [1, 2, 3, 4]);
  assert.ok(ran);
  assert.equal(globalThis.setImmediate, real, 'setImmediate not restored after the last wait');
  await new Promise((res) => setTimeout(res, 5)); // the cleared callback would have run by now
  g.release(t);
});
