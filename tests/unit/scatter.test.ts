// Scatter rasteriser: a dot lands where its coordinates say (y up), in its colour; layers stack in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderScatter, sideBySide } from '../../src/util/scatter';

const px = (r: { rgba: Uint8Array; width: number }, x: number, y: number) => Array.from(r.rgba.subarray(4 * (y * r.width + x), 4 * (y * r.width + x) + 3));

test('renderScatter: (−e, −e) is the bottom-left pixel, (e, e) the top-right; later layers paint over earlier ones', () => {
  const r = renderScatter([
    { points: Float32Array.of(-2, -2, 2, 2), color: [255, 0, 0], alpha: 1, radius: 0.5 },
    { points: Float32Array.of(2, 2), color: [0, 0, 255], alpha: 1, radius: 0.5 },
  ], 2, 11);
  assert.deepEqual(px(r, 0, 10), [255, 0, 0]);
  assert.deepEqual(px(r, 10, 0), [0, 0, 255]);
  assert.deepEqual(px(r, 5, 5), [255, 255, 255]);
  assert.deepEqual(px(r, 0, 0), [255, 255, 255], 'top-left is empty: y points up');
  const half = renderScatter([{ points: Float32Array.of(0, 0), color: [0, 0, 0], alpha: 0.5, radius: 0.5 }], 1, 9);
  assert.deepEqual(px(half, 4, 4), [128, 128, 128]);
  const nan = renderScatter([{ points: Float32Array.of(NaN, 0), color: [0, 0, 0], alpha: 1 }], 1, 9);
  assert.ok(nan.rgba.every((v) => v === 255), 'a non-finite point is not drawn');
  assert.throws(() => renderScatter([{ points: new Float32Array(3), color: [0, 0, 0] }], 1), /3 values, not \(n, 2\)/);
  const two = sideBySide([r, r], 3);
  assert.equal(two.width, 25);
  assert.deepEqual(px(two, 24, 0), [0, 0, 255]);
  assert.deepEqual(px(two, 14, 10), [255, 0, 0]);
  assert.deepEqual(px(two, 12, 5), [255, 255, 255], 'the gap is white');
});
