import assert from 'node:assert/strict';
import { test } from 'node:test';
import { opTests, withGpuOps, type OpCase, type OpSpec } from '../helpers/opcheck';
import { expectFinite } from '../helpers/close';
import { gpuForFile } from '../helpers/gpu';
import { attentionCpu, attentionGpu, type AttnDims } from '../../src/ops/attention';
import { Rng } from '../../src/util/rng';

const gpu = gpuForFile();

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
    mk('T1024 (the largest supported) heads1 D8', 1, 1024, 1, 8),
    mk('one token T1 (2-D points) B5 heads2 D64', 5, 1, 2, 64),
    // Logits ~ ±1e3: softmax saturates to near one-hot. The f32 logits are off by ~1e-4, which moves
    // near-tied weights, and the tangent amplifies that by |tS| ~ 50: a few elements of tO sit near
    // 3e-4 relative (measured), hence jvp rtol 1e-3. The f64 reference's second derivatives are ~1e3×
    // those at unit scale, so central differences need a smaller step.
    mk('extreme logits (inputs ×30)', 2, 16, 2, 16, { scale: 30, fdStep: 1e-8, jvpTol: { rtol: 1e-3 } }),
    mk('extreme logits (inputs ×30), T65', 1, 65, 4, 64, { scale: 30, fdStep: 1e-8, jvpTol: { rtol: 1e-3 } }),
  ],
  forward: (be, c, v) => [be.ops.attention.forward(v.qkv, c.d)],
  jvp: (be, c, v, t) => {
    const [o, tO] = be.ops.attention.jvp(v.qkv, t.qkv, c.d);
    return [[o], [tO]];
  },
  backward: (be, c, v, [dO]) => ({ qkv: be.ops.attention.backward(v.qkv, dO, c.d) }),
};

// Both kernel layouts on every case, whatever the adapter would pick (the model tests use the pick).
opTests({ ...spec, name: 'attention (tiled)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ attention: attentionGpu(g, 'tiled') })) });
opTests({ ...spec, name: 'attention (direct)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ attention: attentionGpu(g, 'direct') })) });

// Logits ~ ±1e5, past anything a LayerNorm'd DiT produces: f32 rounding of the logits alone moves
// the tangent by percents there, so this checks only that every output stays finite.
test('attention: inputs ×300 stay finite (forward, jvp, backward)', async () => {
  const g = await gpu();
  for (const variant of ['tiled', 'direct'] as const) {
    const ops = attentionGpu(g, variant);
    const d = { B: 3, T: 7, heads: 3, D: 15 };
    const rng = new Rng(300);
    const n = d.B * d.T * 3 * d.D;
    const qkv = g.upload(Array.from({ length: n }, () => rng.normal() * 300), [n]);
    const tQkv = g.upload(Array.from({ length: n }, () => rng.normal()), [n]);
    const dO = g.upload(Array.from({ length: n / 3 }, () => rng.normal()), [n / 3]);
    const outs = { o: ops.forward(qkv, d), jvp: ops.jvp(qkv, tQkv, d), dQkv: ops.backward(qkv, dO, d) };
    expectFinite(`attention (${variant}) ×300 o`, await g.read(outs.o));
    expectFinite(`attention (${variant}) ×300 jvp o`, await g.read(outs.jvp[0]));
    expectFinite(`attention (${variant}) ×300 jvp tO`, await g.read(outs.jvp[1]));
    expectFinite(`attention (${variant}) ×300 dQkv`, await g.read(outs.dQkv));
    g.release(qkv, tQkv, dO, outs.o, ...outs.jvp, outs.dQkv);
  }
});

test('attention: head dim over 64 is rejected with a clear error', () => {
  const d = { B: 1, T: 2, heads: 1, D: 65 };
  assert.throws(() => attentionCpu.forward(new Float64Array(2 * 3 * 65), d), /head dim .* exceeds 64/);
  assert.throws(() => attentionCpu.forward(new Float64Array(2 * 3 * 6), { B: 1, T: 2, heads: 4, D: 6 }), /must divide D/);
});
