// The 2-D point sets: deterministic per seed, held-out split independent of training, normalised,
// registered as built-ins with the (2, 1, 1) shape the `points` preset expects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUILTIN } from '../../src/data/procedural';
import { POINT_SETS, isPointShape, makePoints } from '../../src/data/points2d';
import { PRESETS } from '../../src/model/config';

test('point sets: same seed → same points; other seed or held-out split → other points', () => {
  for (const name of POINT_SETS) {
    const a = makePoints(name, 256, 3);
    const b = makePoints(name, 256, 3);
    assert.deepEqual(a.images, b.images, `${name}: not deterministic`);
    const c = makePoints(name, 256, 4);
    const h = makePoints(name, 256, 3, 'heldout');
    const same = (p: Float32Array, q: Float32Array) => p.filter((v, i) => v === q[i]).length;
    assert.ok(same(a.images, c.images) < 10, `${name}: seeds 3 and 4 share ${same(a.images, c.images)} coordinates`);
    const train = new Set(Array.from({ length: 256 }, (_, i) => `${a.images[2 * i]},${a.images[2 * i + 1]}`));
    const shared = Array.from({ length: 256 }, (_, i) => `${h.images[2 * i]},${h.images[2 * i + 1]}`).filter((k) => train.has(k));
    assert.equal(shared.length, 0, `${name}: held-out shares points with train`);
    assert.ok(isPointShape(a) && a.count === 256 && a.name === name && h.name === `${name}:heldout`);
  }
});

test('point sets: about zero mean and unit variance per coordinate on any seed', () => {
  for (const name of POINT_SETS) {
    for (const seed of [0, 7]) {
      const d = makePoints(name, 8192, seed);
      let total = 0;
      for (const k of [0, 1]) {
        let m = 0;
        let v = 0;
        for (let i = 0; i < d.count; i++) m += d.images[2 * i + k] / d.count;
        for (let i = 0; i < d.count; i++) v += (d.images[2 * i + k] - m) ** 2 / d.count;
        assert.ok(Math.abs(m) < 0.1, `${name} seed ${seed} coordinate ${k}: mean ${m.toFixed(3)}`);
        // One scale for both coordinates keeps the shape: two moons is wider (1.5) than tall (0.5).
        assert.ok(v > 0.3 && v < 1.7, `${name} seed ${seed} coordinate ${k}: variance ${v.toFixed(3)}`);
        total += v / 2;
      }
      assert.ok(Math.abs(total - 1) < 0.05, `${name} seed ${seed}: mean variance ${total.toFixed(3)}`);
    }
  }
});

test('eight Gaussians: eight tight modes on a circle, labelled by mode', () => {
  const d = makePoints('eight-gaussians', 4096, 1);
  const counts = new Array(8).fill(0);
  let far = 0;
  const R = Math.SQRT2 / Math.sqrt(1 + 2 * 0.01); // unit variance per coordinate: R²/2 + σ²R² = 1 with σ = 0.1 of the radius
  for (let i = 0; i < d.count; i++) {
    const k = d.labels[i];
    counts[k]++;
    const a = (k * Math.PI) / 4;
    const dist = Math.hypot(d.images[2 * i] - R * Math.cos(a), d.images[2 * i + 1] - R * Math.sin(a));
    if (dist > 0.7) far++; // 5σ (σ ≈ 0.14 after scaling)
  }
  assert.ok(counts.every((c) => c > 400 && c < 630), `mode counts ${counts}`);
  assert.ok(far < 5, `${far} points more than 0.7 from their mode's centre`);
});

test('checkerboard: every point on a dark square of the 4×4 board', () => {
  const d = makePoints('checkerboard', 2048, 2);
  // Undo the scale: each coordinate is uniform on the board's [−2, 2], whose RMS is √(4/3).
  const unit = Math.sqrt(4 / 3);
  let checked = 0;
  for (let i = 0; i < d.count; i++) {
    const [x, y] = [d.images[2 * i] * unit + 2, d.images[2 * i + 1] * unit + 2];
    // The centring is measured on a finite draw: skip points within 0.02 of a square's edge.
    const edge = (u: number) => Math.abs(u - Math.round(u)) < 0.02;
    if (edge(x) || edge(y)) continue;
    checked++;
    const col = Math.floor(x);
    const row = Math.floor(y);
    assert.equal((row + col) % 2, 0, `point ${i} on a light square (${row}, ${col})`);
  }
  assert.ok(checked > 1800, `only ${checked} points checked`);
});

test('point sets are built-ins of the (2, 1, 1) shape of the points preset; bad input is refused', () => {
  for (const name of POINT_SETS) {
    const d = BUILTIN[name].make(0, 64);
    const m = PRESETS.points.config;
    assert.deepEqual([d.C, d.H, d.W], [m.C, m.H, m.W], name);
  }
  assert.throws(() => makePoints('nine-gaussians', 10, 0), /unknown 2-D point set 'nine-gaussians' \(have eight-gaussians/);
  assert.throws(() => makePoints('spiral', 0, 0), /count must be a positive integer/);
});
