// SiLU, GELU, add and broadcast add against the f64 reference, through the op harness.
import { opTests, type OpCase, type OpSpec } from '../helpers/opcheck';
import type { Rng } from '../../src/util/rng';

// ------------------------------------------------------------------ activations

interface UnaryCase extends OpCase {
  n: number;
}

const unary = (label: string, n: number, extra: Partial<UnaryCase> = {}): UnaryCase => ({ label, n, inputs: { x: [n] }, ...extra });

// Saturated, huge and near-zero values side by side: ±1e4 (x³ ~ 1e12), ±300, ±88 (exp's f32 edge),
// GELU's clamp edge (|K(x + Cx³)| = 15 near |x| ≈ 6.4), and the smooth middle.
const EXTREMES = [1e4, -1e4, 300, -300, 88.5, -88.5, 6.4, -6.4, 20, -20, 1e-3, -1e-3, 0, 0.5, -0.5, 2, -2];
const extremes = (rng: Rng, i: number) => (i < EXTREMES.length ? EXTREMES[i] : rng.normal() * 10);

const activationCases = (): UnaryCase[] => [
  unary('tile-aligned n=256', 256),
  unary('odd n=1', 1),
  unary('odd n=63', 63),
  unary('odd n=1000 (4 workgroups, ragged tail)', 1000),
  // fdStep 1e-7 (h = 3e-5 at scale 300): the default h = 3e-3 leaves an O(h²·f''') ≈ 1e-6 error for
  // values near 0, right at fdTol (these draws pass either way); f64 cancellation ~1e-16·300/h ≈ 1e-9.
  unary('extreme N(0, 300²) n=257', 257, { scale: 300, fdStep: 1e-7 }),
  unary('extreme ±1e4, ±300, ±88, clamp edge n=64', 64, { gen: { x: extremes } }),
];

const activationSpec = (name: 'silu' | 'gelu'): OpSpec<UnaryCase> => ({
  name,
  cases: activationCases(),
  forward: (be, c, v) => [be.ops[name].forward(v.x, c.n)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops[name].jvp(v.x, t.x, c.n);
    return [[y], [tY]];
  },
  backward: (be, c, v, [dY]) => ({ x: be.ops[name].backward(v.x, dY, c.n) }),
});

opTests(activationSpec('silu'));
opTests(activationSpec('gelu'));

// ------------------------------------------------------------------ add

const binary = (label: string, n: number, extra: Partial<UnaryCase> = {}): UnaryCase => ({ label, n, inputs: { a: [n], b: [n] }, ...extra });

opTests<UnaryCase>({
  name: 'add',
  cases: [binary('tile-aligned n=512', 512), binary('odd n=1', 1), binary('odd n=63', 63), binary('odd n=1000', 1000), binary('extreme ±300 n=257', 257, { scale: 300 })],
  forward: (be, c, v) => [be.ops.add.forward(v.a, v.b, c.n)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops.add.jvp(v.a, t.a, v.b, t.b, c.n);
    return [[y], [tY]];
  },
  backward: (be, c, v, [dY]) => {
    const [dA, dB] = be.ops.add.backward(dY, c.n);
    return { a: dA, b: dB };
  },
});

// ------------------------------------------------------------------ broadcast add

interface BroadcastCase extends OpCase {
  d: { B: number; R: number };
}

const bcast = (label: string, B: number, R: number, scale = 1): BroadcastCase => ({
  label,
  d: { B, R },
  inputs: { x: [B, R] },
  // The position embedding: a constant, so it has no tangent and no gradient.
  consts: { p: (rng) => Array.from({ length: R }, () => Math.fround(rng.normal() * scale)) },
  scale,
});

opTests<BroadcastCase>({
  name: 'broadcastAdd',
  cases: [bcast('tile-aligned B=4 R=64', 4, 64), bcast('odd B=3 R=7', 3, 7), bcast('odd B=67 R=33', 67, 33), bcast('one row B=1 R=1000', 1, 1000), bcast('extreme ±300 B=5 R=13', 5, 13, 300)],
  forward: (be, c, v) => [be.ops.broadcastAdd.forward(v.x, v.p, c.d)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops.broadcastAdd.jvp(v.x, t.x, v.p, c.d);
    return [[y], [tY]];
  },
  backward: (be, c, v, [dY]) => ({ x: be.ops.broadcastAdd.backward(dY, c.d) }),
});
