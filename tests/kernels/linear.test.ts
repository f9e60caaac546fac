import { opTests, withGpuOps, type OpSpec } from '../helpers/opcheck';
import { linearGpu, type LinearDims, type MatmulVariant } from '../../src/ops/linear';
import type { OpCase } from '../helpers/opcheck';

interface LinearCase extends OpCase {
  d: LinearDims;
  bias: boolean;
}

const mk = (label: string, rows: number, inF: number, outF: number, bias = true, extra: Partial<LinearCase> = {}): LinearCase => ({
  label,
  d: { rows, inF, outF },
  bias,
  inputs: { x: [rows, inF] },
  params: bias ? { w: [outF, inF], b: [outF] } : { w: [outF, inF] },
  ...extra,
});

const spec: OpSpec<LinearCase> = {
  name: 'linear',
  cases: [
    mk('tile-aligned 64×32→64', 64, 32, 64),
    mk('odd 7×13→5', 7, 13, 5),
    mk('odd 67×33→70 (crosses tiles)', 67, 33, 70),
    mk('no bias 9×17→3', 9, 17, 3, false),
    mk('vector 1×256→32 (time MLP)', 1, 256, 32),
    mk('extreme ±300', 5, 9, 6, true, { scale: 300, fwdTol: { rtol: 1e-4 } }),
    // Multiples of 4 in every dimension: the register kernel serves all three matmuls.
    mk('DiT-like 40×32→96 (qkv)', 40, 32, 96),
    mk('DiT-like 36×128→32 (fc2)', 36, 128, 32),
    mk('DiT-like 20×12→32 (patch embed), rows not a multiple of 8', 20, 12, 32),
  ],
  forward: (be, c, v) => [be.ops.linear.forward(v.x, v.w, c.bias ? v.b : null, c.d)],
  jvp: (be, c, v, t) => {
    const [y, ty] = be.ops.linear.jvp(v.x, t.x, v.w, c.bias ? v.b : null, c.d);
    return [[y], [ty]];
  },
  backward: (be, c, v, [dy], grads) => ({ x: be.ops.linear.backward(v.x, v.w, dy, c.d, grads.w, c.bias ? grads.b : null) }),
};

opTests(spec);
// Each matmul kernel pinned (where it fits the shape; chooseMatmul's pick elsewhere).
const pinned = (label: string, v: MatmulVariant) => opTests({ ...spec, name: `linear (${label})`, gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ linear: linearGpu(g, v) })) });
pinned('64×64 tile', { kind: 'tile', tt: 16 });
pinned('32×32 tile', { kind: 'tile', tt: 8 });
pinned('register, 16-thread groups', { kind: 'reg', wg: 16 });
