// The sinusoidal time embedding and the label embedding table against the f64 reference.
import { opTests, type OpCase } from '../helpers/opcheck';
import type { LabelEmbedDims } from '../../src/ops/embed';

// ------------------------------------------------------------------ time

interface TimeCase extends OpCase {
  B: number;
}

// c spread over [0, 2], the range FACM uses (CM branch c = t ∈ [0, 1], FM branch c = 2 − t ∈ [1, 2]).
// Arguments c·f stay ≤ 2, so the defaults hold: f32 rounding of c·f and of sin/cos is ~1e-7.
// fdStep: the default 1e-5 (h = 1e-5; O(h²·f³) ≤ 2e-11 against fdTol 1e-6).
const time = (label: string, B: number, extra: Partial<TimeCase> = {}): TimeCase => ({
  label,
  B,
  inputs: { c: [B] },
  gen: { c: (rng) => rng.uniform(0, 2) },
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
    // Far outside FACM's range, for finiteness: c·f reaches ~1000 rad. The f32 argument then carries
    // ~|c·f|·2⁻²⁴ ≈ 6e-5 absolute error before sin/cos see it (and GPU range reduction adds to it), so
    // values and tangents are compared to 1e-3 of their max (tangents grow with f·|tC|, so atol scales too).
    // fdStep 1e-7: h = 3e-5 keeps the O(h²) error of central differences near 1e-9.
    time('extreme c ~ N(0, 300²) B=7', 7, { gen: undefined, scale: 300, fdStep: 1e-7, fwdTol: { rtol: 1e-3 }, jvpTol: { rtol: 1e-3 }, bwdTol: { rtol: 1e-3 } }),
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
