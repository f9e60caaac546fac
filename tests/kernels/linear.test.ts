import { opTests, type OpSpec } from '../helpers/opcheck';
import type { LinearDims } from '../../src/ops/linear';
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
  ],
  forward: (be, c, v) => [be.ops.linear.forward(v.x, v.w, c.bias ? v.b : null, c.d)],
  jvp: (be, c, v, t) => {
    const [y, ty] = be.ops.linear.jvp(v.x, t.x, v.w, c.bias ? v.b : null, c.d);
    return [[y], [ty]];
  },
  backward: (be, c, v, [dy], grads) => ({ x: be.ops.linear.backward(v.x, v.w, dy, c.d, grads.w, c.bias ? grads.b : null) }),
};

opTests(spec);
