// The sinusoidal time embedding and the label embedding table against the f64 reference.
import { opTests, type OpCase } from '../helpers/opcheck';
import type { LabelEmbedDims } from '../../src/ops/embed';

// ------------------------------------------------------------------ time

interface TimeCase extends OpCase {
  B: number;
}

// Tolerances: WGSL promises sin/cos only to 2⁻¹¹ ≈ 4.9e-4 absolute on [−π, π] (SwiftShader measures
// 1.9e-4 over the whole range), far above f32 rounding, so:
//   forward  atol 5e-4: embedding values are bounded by 1;
//   jvp      rtol 1e-3: the error of tC·f·(−sin, cos) is ≤ 2⁻¹¹·|tC|·f ≤ 2⁻¹¹·max|tC|, and
//            max|tEmb| ≥ max|tC|/√2 (f₀ = 1), so atol = 1e-3·max|tEmb| covers it;
//   backward rtol 1e-3: dC sums 128 such errors weighted by f·dY (SwiftShader: ~1.3e-4 of max|dC|).
const TRIG_TOL: Partial<TimeCase> = { fwdTol: { atol: 5e-4, rtol: 0 }, jvpTol: { rtol: 1e-3 }, bwdTol: { rtol: 1e-3 } };

// c spread over [0, 2], the range FACM uses (CM branch c = t ∈ [0, 1], FM branch c = 2 − t ∈ [1, 2]),
// so c·f ≤ 2 stays inside [−π, π] where the WGSL bound holds.
// fdStep: the default 1e-5 (h = 1e-5; O(h²·f³) ≤ 2e-11 against fdTol 1e-6).
const time = (label: string, B: number, extra: Partial<TimeCase> = {}): TimeCase => ({
  label,
  B,
  inputs: { c: [B] },
  gen: { c: (rng) => rng.uniform(0, 2) },
  ...TRIG_TOL,
  ...extra,
});

opTests<TimeCase>({
  name: 'timeEmbed',
  cases: [
    time('B=1', 1),
    time('odd B=5', 5),
    time('B=64', 64),
    time('odd B=67', 67),
    time('endpoints c = 0, 1, 2', 3, { gen: { c: (_, i) => i } }),
    // Far outside FACM's range, for finiteness: c·f reaches ~1000 rad, beyond where WGSL bounds sin/cos
    // at all, and the f32 argument c·f already carries ~|c·f|·2⁻²⁴ ≈ 6e-5 absolute error (SwiftShader:
    // 1.9e-4 in all). fdStep 1e-7: h = 3e-5 keeps central differences' O(h²) error near 1e-9.
    time('extreme c ~ N(0, 300²) B=7', 7, { gen: undefined, scale: 300, fdStep: 1e-7 }),
  ],
  forward: (be, c, v) => [be.ops.timeEmbed.forward(v.c, c.B)],
  jvp: (be, c, v, t) => {
    const [emb, tEmb] = be.ops.timeEmbed.jvp(v.c, t.c, c.B);
    return [[emb], [tEmb]];
  },
  backward: (be, c, v, [dY]) => ({ c: be.ops.timeEmbed.backward(v.c, dY, c.B) }),
});

// ------------------------------------------------------------------ label

interface LabelCase extends OpCase {
  d: LabelEmbedDims;
}

// Labels in [0, rows) with repeats (B > rows, or forced) so the scatter-add really adds; the last row is always used.
const label = (name: string, B: number, rows: number, D: number, scale = 1): LabelCase => ({
  label: name,
  d: { B, D, rows },
  inputs: {},
  params: { table: [rows, D] },
  consts: { y: (rng) => Array.from({ length: B }, (_, b) => (b === 0 ? rows - 1 : b === 1 ? 0 : b === 2 ? rows - 1 : rng.int(rows))) },
  scale,
});

opTests<LabelCase>({
  name: 'labelEmbed',
  cases: [
    label('B=8 rows=5 D=64', 8, 5, 64),
    label('odd B=67 rows=11 D=33', 67, 11, 33),
    label('one row B=3 rows=1 D=1', 3, 1, 1),
    label('wide B=5 rows=1001 D=300 (rows·D ragged over workgroups)', 5, 1001, 300),
    label('extreme ±300 B=9 rows=4 D=7', 9, 4, 7, 300),
  ],
  forward: (be, c, v) => [be.ops.labelEmbed.forward(v.table, v.y, c.d)],
  jvp: (be, c, v) => {
    const [emb, tEmb] = be.ops.labelEmbed.jvp(v.table, v.y, c.d);
    return [[emb], [tEmb]];
  },
  backward: (be, c, v, [dY], grads) => {
    be.ops.labelEmbed.backward(v.y, dY, c.d, grads.table);
    return {};
  },
});
