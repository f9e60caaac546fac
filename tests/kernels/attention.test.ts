import assert from 'node:assert/strict';
import { test } from 'node:test';
import { opTests, type OpCase, type OpSpec } from '../helpers/opcheck';
import { attentionCpu, type AttnDims } from '../../src/ops/attention';

interface AttnCase extends OpCase {
  d: AttnDims;
}

const mk = (label: string, B: number, T: number, heads: number, D: number, extra: Partial<AttnCase> = {}): AttnCase => ({
  label,
  d: { B, T, heads, D },
  inputs: { qkv: [B, T, 3 * D] },
  ...extra,
});

const spec: OpSpec<AttnCase> = {
  name: 'attention',
  cases: [
    mk('B2 T16 heads2 D16', 2, 16, 2, 16),
    mk('odd B3 T7 heads3 D15 (hd 5)', 3, 7, 3, 15),
    mk('T65 heads4 D64 (hd 16, two workgroups of rows, two key tiles)', 1, 65, 4, 64),
    mk('hd 64 (MAX_HD) T33: key tiles of 16 rows', 1, 33, 2, 128),
    // Logits ~ ±1e3: softmax saturates to near one-hot. f32 logits carry ~1e-4 absolute error at this
    // size, which moves near-tied weights, so GPU-vs-f64 tolerances are looser. Second derivatives
    // are ~1e3× larger too, so central differences need a smaller step.
    mk('x300', 2, 16, 2, 16, { scale: 300, skipFd: true, fwdTol: { rtol: 2e-3 }, jvpTol: { rtol: 2e-3 }, bwdTol: { rtol: 2e-3 } }),
    mk('x300b', 3, 7, 3, 15, { scale: 300, skipFd: true, fwdTol: { rtol: 2e-3 }, jvpTol: { rtol: 2e-3 }, bwdTol: { rtol: 2e-3 } }),
    mk('extreme logits (inputs ×30)', 2, 16, 2, 16, {
      scale: 30,
    }),
  ],
  forward: (be, c, v) => [be.ops.attention.forward(v.qkv, c.d)],
  jvp: (be, c, v, t) => {
    const [o, tO] = be.ops.attention.jvp(v.qkv, t.qkv, c.d);
    return [[o], [tO]];
  },
  backward: (be, c, v, [dO]) => ({ qkv: be.ops.attention.backward(v.qkv, dO, c.d) }),
};

opTests(spec);

test('attention: head dim over 64 is rejected with a clear error', () => {
  const d = { B: 1, T: 2, heads: 1, D: 65 };
  assert.throws(() => attentionCpu.forward(new Float64Array(2 * 3 * 65), d), /head dim .* exceeds 64/);
  assert.throws(() => attentionCpu.forward(new Float64Array(2 * 3 * 6), { B: 1, T: 2, heads: 4, D: 6 }), /must divide D/);
});
