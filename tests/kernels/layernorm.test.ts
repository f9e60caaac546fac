import { opTests, withGpuOps, type OpCase, type OpSpec } from '../helpers/opcheck';
import { layernormGpu, type RowDims } from '../../src/ops/layernorm';

interface LnCase extends OpCase {
  d: RowDims;
}

const mk = (label: string, rows: number, D: number, extra: Partial<LnCase> = {}): LnCase => ({
  label,
  d: { rows, D },
  inputs: { x: [rows, D] },
  ...extra,
});

const spec: OpSpec<LnCase> = {
  name: 'layernorm',
  cases: [
    mk('aligned 8×64', 8, 64),
    mk('odd 7×13 (D < workgroup)', 7, 13),
    mk('odd 130×100', 130, 100),
    mk('one row 1×1024 (widest)', 1, 1024),
    mk('odd 3×384 (DiT-S width)', 3, 384),
    mk('extreme ±300', 7, 100, { scale: 300 }),
    // Row 1 is constant (variance 0, so ρ = 1/√eps = 1000) at 123.456, a value whose naive f32 mean
    // is off by an ulp (the kernel then outputs 7.6e-3, not 0); the kernel's shifted sums make it exact.
    // Near var 0 the output bends on the scale h²·var/eps, so central differences need a smaller
    // step than the default 1e-5; 3e-7 balances that against f64 round-off at the offset (~1e-16·123/h).
    mk('constant row (variance 0)', 3, 100, {
      gen: { x: (rng, i) => (Math.floor(i / 100) === 1 ? 123.456 : rng.normal()) },
      fdStep: 3e-7,
    }),
  ],
  forward: (be, c, v) => [be.ops.layernorm.forward(v.x, c.d)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops.layernorm.jvp(v.x, t.x, c.d);
    return [[y], [tY]];
  },
  backward: (be, c, v, [dY]) => ({ x: be.ops.layernorm.backward(v.x, dY, c.d) }),
};

// Both kernel layouts on every case, whatever the adapter would pick (the model tests use the pick).
opTests({ ...spec, name: 'layernorm (one thread per row)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ layernorm: layernormGpu(g, 'row') })) });
opTests({ ...spec, name: 'layernorm (workgroup per row)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ layernorm: layernormGpu(g, 'group') })) });
