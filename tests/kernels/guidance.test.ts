// Classifier-free guidance of a stacked pair, y = u + w·(c − u), against the f64 reference through
// the op harness (forward, JVP against finite differences, backward against the JVP).
import { opTests, type OpCase } from '../helpers/opcheck';

interface GuideCase extends OpCase {
  n: number;
  w: number;
}

const guide = (label: string, n: number, w: number, extra: Partial<GuideCase> = {}): GuideCase => ({ label, n, w, inputs: { x: [2 * n] }, ...extra });

opTests<GuideCase>({
  name: 'guide',
  cases: [
    guide('reference weight 1.75, n=192 (B 1 of 3×8×8)', 192, 1.75),
    guide('w = 1 (the conditional half), odd n=63', 63, 1),
    guide('w = 4, n=1000 (4 workgroups, ragged tail)', 1000, 4),
    guide('odd n=1, w = 0 (the unconditional half)', 1, 0),
    guide('extreme ±300, w = 20', 257, 20, { scale: 300 }),
  ],
  forward: (be, c, v) => [be.ops.guide.forward(v.x, c.w, c.n)],
  jvp: (be, c, v, t) => {
    const [y, tY] = be.ops.guide.jvp(v.x, t.x, c.w, c.n);
    return [[y], [tY]];
  },
  backward: (be, c, _v, [dY]) => ({ x: be.ops.guide.backward(dY, c.w, c.n) }),
});
