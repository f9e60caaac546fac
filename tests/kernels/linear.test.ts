import { test } from 'node:test';
import assert from 'node:assert/strict';
import { opTests, withGpuOps, type OpSpec } from '../helpers/opcheck';
import { chooseMatmul, colsum, linearCpu, linearGeluGpu, linearGpu, matmul, regFits, variantKey, type LinearDims, type MatmulVariant } from '../../src/ops/linear';
import { gpuOps } from '../../src/ops/table';
import { Rng } from '../../src/util/rng';
import { expectClose } from '../helpers/close';
import { gpuForFile } from '../helpers/gpu';
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

const getGpu = gpuForFile();

opTests(spec);
// Each matmul kernel pinned (where it fits the shape; chooseMatmul's pick elsewhere).
const pinned = (label: string, v: MatmulVariant) => opTests({ ...spec, name: `linear (${label})`, gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ linear: linearGpu(g, v) })) });
pinned('64×64 tile', { kind: 'tile', tt: 16 });
pinned('32×32 tile', { kind: 'tile', tt: 8 });
pinned('register, 16-thread groups', { kind: 'reg', wg: 16 });
pinned('one thread per element', { kind: 'el' });
pinned('register 8×8, 16-thread groups', { kind: 'reg8', wg: 16 });

// ---------------------------------------------------------------- GELU epilogues
// linearGelu: y = gelu(x·Wᵀ + b) (forward: one matmul writing pre and y; JVP tangent: one matmul
// multiplied by gelu'(pre)). The checked output is y; pre is what the backward is handed.
const geluCases: LinearCase[] = [
  mk('DiT-like 36×32→128 (fc1)', 36, 32, 128),
  mk('odd 7×13→5', 7, 13, 5),
  mk('odd 67×33→70 (crosses tiles)', 67, 33, 70),
  mk('no bias 9×16→12', 9, 16, 12, false),
  mk('extreme ±300', 5, 8, 12, true, { scale: 300, fwdTol: { rtol: 1e-4 } }),
];

const geluSpec: OpSpec<LinearCase> = {
  name: 'linearGelu',
  cases: geluCases,
  forward: (be, c, v) => {
    const [pre, y] = be.ops.linearGelu.forward(v.x, v.w, c.bias ? v.b : null, c.d);
    be.release(pre);
    return [y];
  },
  jvp: (be, c, v, t) => {
    const [pre, y, tY] = be.ops.linearGelu.jvp(v.x, t.x, v.w, c.bias ? v.b : null, c.d);
    be.release(pre);
    return [[y], [tY]];
  },
  backward: (be, c, v, [dy], grads) => {
    const [pre, y] = be.ops.linearGelu.forward(v.x, v.w, c.bias ? v.b : null, c.d);
    const dx = be.ops.linearGelu.backward(v.x, v.w, pre, dy, c.d, grads.w, c.bias ? grads.b : null);
    be.release(pre, y);
    return { x: dx };
  },
};
opTests(geluSpec);
opTests({ ...geluSpec, name: 'linearGelu (64×64 tile)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ linearGelu: linearGeluGpu(g, { kind: 'tile', tt: 16 }) })) });
opTests({ ...geluSpec, name: 'linearGelu (register, 16-thread groups)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ linearGelu: linearGeluGpu(g, { kind: 'reg', wg: 16 }) })) });
opTests({ ...geluSpec, name: 'linearGelu (register 8×8, 16-thread groups)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ linearGelu: linearGeluGpu(g, { kind: 'reg8', wg: 16 }) })) });

// linear.backward with geluPre: the layer after a GELU (fc2), y = gelu(p)·Wᵀ + b, differentiated in p
// (its dX matmul multiplies by gelu'(p) in the epilogue).
const afterGeluSpec: OpSpec<LinearCase> = {
  name: 'linear after GELU (backward geluPre)',
  cases: [
    mk('DiT-like 36×128→32 (fc2)', 36, 128, 32),
    mk('odd 7×13→5', 7, 13, 5),
    mk('odd 67×33→70 (crosses tiles)', 67, 33, 70),
    mk('extreme ±300', 5, 12, 8, true, { scale: 300, fwdTol: { rtol: 1e-4 } }),
  ],
  forward: (be, c, v) => {
    const g = be.ops.gelu.forward(v.x, c.d.rows * c.d.inF);
    const y = be.ops.linear.forward(g, v.w, c.bias ? v.b : null, c.d);
    be.release(g);
    return [y];
  },
  jvp: (be, c, v, t) => {
    const [g, tg] = be.ops.gelu.jvp(v.x, t.x, c.d.rows * c.d.inF);
    const [y, ty] = be.ops.linear.jvp(g, tg, v.w, c.bias ? v.b : null, c.d);
    be.release(g, tg);
    return [[y], [ty]];
  },
  backward: (be, c, v, [dy], grads) => {
    const g = be.ops.gelu.forward(v.x, c.d.rows * c.d.inF);
    const dx = be.ops.linear.backward(g, v.w, dy, c.d, grads.w, c.bias ? grads.b : null, v.x);
    be.release(g);
    return { x: dx };
  },
};
opTests(afterGeluSpec);
opTests({ ...afterGeluSpec, name: 'linear after GELU (64×64 tile)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ linear: linearGpu(g, { kind: 'tile', tt: 16 }) })) });
opTests({ ...afterGeluSpec, name: 'linear after GELU (register, 16-thread groups)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ linear: linearGpu(g, { kind: 'reg', wg: 16 }) })) });
opTests({ ...afterGeluSpec, name: 'linear after GELU (register 8×8, 16-thread groups)', gpuBackend: (gpu) => withGpuOps(gpu, (g) => ({ linear: linearGpu(g, { kind: 'reg8', wg: 16 }) })) });

// ---------------------------------------------------------------- bias-gradient epilogue
// matmul's 'biasGrad' epilogue (EPI 3): C += op(A)·op(B) and aux += op(A)'s row sums in one launch,
// on every kernel, transposition and shape class (the backward above uses it with Aᵀ only), against
// the f64 reference; and its sums are colsum's, bit for bit, on the backward's own use.
test('matmul biasGrad epilogue: every variant, with and without transposes, odd and aligned shapes, accumulating into C and aux', async () => {
  const gpu = await getGpu();
  const rng = new Rng(11);
  const variants: MatmulVariant[] = [{ kind: 'tile', tt: 16 }, { kind: 'tile', tt: 8 }, { kind: 'reg', wg: 16 }, { kind: 'reg8', wg: 16 }, { kind: 'el' }];
  let checked = 0;
  for (const [M, N, K] of [[5, 13, 7], [32, 64, 40], [96, 32, 36], [24, 8, 20]])
    for (const transA of [true, false])
      for (const transB of [false, true])
        for (const v of variants) {
          if ((v.kind === 'reg' || v.kind === 'reg8') && !regFits(M, N, K, transA, transB)) continue;
          const a = rng.normals(M * K);
          const b = rng.normals(K * N);
          const c0 = rng.normals(M * N);
          const s0 = rng.normals(M);
          const wantC = new Float64Array(M * N);
          const wantS = Float64Array.from(s0);
          for (let m = 0; m < M; m++) {
            for (let k = 0; k < K; k++) wantS[m] += a[transA ? k * M + m : m * K + k];
            for (let n = 0; n < N; n++) {
              let acc = c0[m * N + n];
              for (let k = 0; k < K; k++) acc += a[transA ? k * M + m : m * K + k] * b[transB ? n * K + k : k * N + n];
              wantC[m * N + n] = acc;
            }
          }
          const [A, B, C, S] = [gpu.upload(a, [M * K]), gpu.upload(b, [K * N]), gpu.upload(c0, [M, N]), gpu.upload(s0, [M])];
          matmul(gpu, A, B, C, M, N, K, { transA, transB, accumulate: true, variant: v, epilogue: { kind: 'biasGrad', aux: S } });
          const what = `${M}×${N}×${K}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''} ${variantKey(v)}`;
          expectClose(`${what} C`, await gpu.read(C), wantC, { rtol: 1e-5 });
          expectClose(`${what} row sums`, await gpu.read(S), wantS, { rtol: 1e-5 });
          gpu.release(A, B, C, S);
          checked++;
        }
  assert.ok(checked >= 60, `only ${checked} cases checked`);
});

test('matmul biasGrad epilogue: the row sums equal colsum(dY) bit for bit on the backward shape (dW += dYᵀ·x)', async () => {
  const gpu = await getGpu();
  const rng = new Rng(12);
  const [rows, inF, outF] = [64, 32, 96];
  const dy = gpu.upload(rng.normals(rows * outF), [rows, outF]);
  const x = gpu.upload(rng.normals(rows * inF), [rows, inF]);
  const db0 = rng.normals(outF);
  for (const v of [chooseMatmul(gpu, outF, inF, rows, true, false), { kind: 'tile', tt: 16 } as MatmulVariant, { kind: 'el' } as MatmulVariant]) {
    const [dW, fused, alone] = [gpu.zeros([outF, inF]), gpu.upload(db0, [outF]), gpu.upload(db0, [outF])];
    matmul(gpu, dy, x, dW, outF, inF, rows, { transA: true, accumulate: true, variant: v, epilogue: { kind: 'biasGrad', aux: fused } });
    colsum(gpu, dy, alone, rows, outF, true);
    assert.deepEqual(await gpu.read(fused), await gpu.read(alone), variantKey(v));
    gpu.release(dW, fused, alone);
  }
  gpu.release(dy, x);
});

test('linear.backward dxInto: dX added into a tensor in the dX matmul (accumulate) equals the f64 reference, and the separate add bit for bit', async () => {
  const gpu = await getGpu();
  const rng = new Rng(13);
  const ops = gpuOps(gpu);
  for (const d of [{ rows: 32, inF: 32, outF: 192 }, { rows: 7, inF: 13, outF: 5 }]) {
    const [x, w, dy, acc0] = [rng.normals(d.rows * d.inF), rng.normals(d.outF * d.inF), rng.normals(d.rows * d.outF), rng.normals(d.rows * d.inF)];
    const ref = linearCpu.backward(Float64Array.from(x), Float64Array.from(w), Float64Array.from(dy), d, null, null, null, Float64Array.from(acc0));
    const [X, W, DY] = [gpu.upload(x, [d.rows, d.inF]), gpu.upload(w, [d.outF, d.inF]), gpu.upload(dy, [d.rows, d.outF])];
    const into = gpu.upload(acc0, [d.rows, d.inF]);
    assert.equal(ops.linear.backward(X, W, DY, d, null, null, null, into), into);
    const fused = await gpu.read(into);
    expectClose(`${d.rows}×${d.inF}→${d.outF} dxInto`, fused, ref, { rtol: 1e-5 });
    const dx = ops.linear.backward(X, W, DY, d, null, null);
    const acc = gpu.upload(acc0, [d.rows, d.inF]);
    const sum = ops.add.forward(acc, dx, d.rows * d.inF);
    assert.deepEqual(fused, await gpu.read(sum));
    gpu.release(X, W, DY, into, dx, acc, sum);
  }
  assert.throws(() => ops.linear.backward(gpu.dummy, gpu.dummy, gpu.dummy, { rows: 1, inF: 4, outF: 4 }, null, null, gpu.dummy, gpu.dummy), /dxInto takes no geluPre/);
});
