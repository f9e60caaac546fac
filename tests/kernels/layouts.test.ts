// Uniform and binding layouts, read from the WGSL (src/gpu/wgsl.ts): every kernel module gives each
// resource variable its own slot, every entry names variables that exist, and the uniform structs
// have the byte layout WGSL gives them. The runtime packs uniforms by field name at these offsets;
// a missing, unknown or ill-typed field is refused at dispatch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KernelModule } from '../../src/gpu/runtime';
import { parseBindings, structLayout } from '../../src/gpu/wgsl';
import { attentionKernel } from '../../src/ops/attention';
import { elementwiseKernel } from '../../src/ops/elementwise';
import { embedKernel } from '../../src/ops/embed';
import { guidanceKernel } from '../../src/ops/guidance';
import { layernormKernel } from '../../src/ops/layernorm';
import { linearKernel } from '../../src/ops/linear';
import { lossKernel } from '../../src/ops/loss';
import { modulateKernel } from '../../src/ops/modulate';
import { optimKernel } from '../../src/ops/optim';
import { patchKernel } from '../../src/ops/patch';
import { gpuForFile } from '../helpers/gpu';

const getGpu = gpuForFile();

const MODULES: KernelModule[] = [attentionKernel, elementwiseKernel, embedKernel, guidanceKernel, layernormKernel, linearKernel, lossKernel, modulateKernel, optimKernel, patchKernel];

test('layouts: one slot per variable in every module; every entry names existing variables, the uniform first', () => {
  for (const mod of MODULES) {
    const vars = parseBindings(mod.code, mod.name); // throws on a shared slot
    for (const [entry, names] of Object.entries(mod.entries)) {
      assert.equal(new Set(names).size, names.length, `${mod.name}.${entry} names a variable twice`);
      names.forEach((n, i) => {
        const v = vars.get(n);
        assert.ok(v, `${mod.name}.${entry}: no variable ${n}`);
        if (v.kind === 'uniform') assert.equal(i, 0, `${mod.name}.${entry}: uniform ${n} must come first`);
      });
      assert.ok(new RegExp(`@compute[^;{]*fn\\s+${entry}\\s*\\(`).test(mod.code), `${mod.name} has no entry point ${entry}`);
    }
  }
});

test('layouts: a slot declared twice in one module is refused, naming both variables', () => {
  const code = '@group(0) @binding(1) var<storage, read> a: array<f32>;\n@group(0) @binding(1) var<storage, read_write> b: array<f32>;';
  assert.throws(() => parseBindings(code, 'twice'), /@binding\(1\) is declared twice \(a and b\)/);
});

test('layouts: WGSL struct offsets and sizes (scalars packed, vec2 on 8, vec3/vec4 on 16, size rounded to the alignment)', () => {
  const s = structLayout('struct S { a: u32, b: vec3f, c: f32, d: vec2<i32>, e: u32 }', 'S');
  assert.deepEqual(s.fields.map((f) => [f.name, f.offset, f.scalar, f.width]), [['a', 0, 'u32', 1], ['b', 16, 'f32', 3], ['c', 28, 'f32', 1], ['d', 32, 'i32', 2], ['e', 40, 'u32', 1]]);
  assert.equal(s.size, 48);
  assert.throws(() => structLayout('struct S { a: bool }', 'S'), /member a has type bool/);
});

test('layouts: the uniform of every entry, as the runtime packs it (offsets, sizes, field order pinned)', async () => {
  const gpu = await getGpu();
  // [module, entry, struct, size in bytes, fields in order]; all fields here are 4-byte scalars.
  const want: [KernelModule, string, string, number, string][] = [
    [linearKernel, 'matmul', 'Dims', 16, 'M N K flags'],
    [attentionKernel, 'jvp', 'Dims', 32, 'B T H D hd rows scale pad'],
    [elementwiseKernel, 'add', 'Dims', 8, 'n R'],
    [embedKernel, 'label_forward', 'Dims', 16, 'B D rows pad'],
    [guidanceKernel, 'guide_forward', 'Dims', 8, 'n w'],
    [layernormKernel, 'lnmod_forward', 'Dims', 28, 'R D eps T C k0 k1'],
    [lossKernel, 'res_grad', 'Dims', 32, 'B N C HW flags p scale _pad'],
    [modulateKernel, 'gate_jvp', 'Dims', 24, 'B T D C k0 k1'],
    [optimKernel, 'norm_partial', 'ReduceParams', 16, 'n groups maxNorm _pad'],
    [optimKernel, 'adamw', 'AdamParams', 40, 'n hasMask lrWd beta1 oneMinusBeta1 beta2 oneMinusBeta2 stepSize invSqrtBc2 eps'],
    [optimKernel, 'ema', 'ElemParams', 8, 'n s'],
    [patchKernel, 'patchify', 'Dims', 20, 'B C H W p'],
  ];
  for (const [mod, entry, struct, size, fields] of want) {
    const l = gpu.uniformLayout(mod, entry);
    assert.ok(l, `${mod.name}.${entry} has a uniform`);
    assert.equal(l.name, struct, `${mod.name}.${entry}`);
    assert.equal(l.size, size, `${mod.name}.${entry}: ${struct} size`);
    assert.deepEqual(l.fields.map((f) => f.name).join(' '), fields, `${mod.name}.${entry}: ${struct} fields`);
    l.fields.forEach((f, i) => assert.equal(f.offset, 4 * i, `${mod.name}.${entry}: ${struct}.${f.name} offset`));
  }
  // Every entry with a uniform resolves (its struct is found and fits an arena slot).
  for (const mod of MODULES) for (const entry of Object.keys(mod.entries)) gpu.uniformLayout(mod, entry);
});

test('layouts: dispatch refuses a missing, unknown or ill-typed uniform field and a wrong binding count', async () => {
  const gpu = await getGpu();
  const x = gpu.alloc([64]);
  const out = gpu.alloc([64]);
  const ok = { M: 1, N: 64, K: 0, flags: 0 };
  gpu.dispatch(linearKernel, 'colsum', ok, [x, out], [1]);
  assert.throws(() => gpu.dispatch(linearKernel, 'colsum', { M: 1, N: 64, K: 0 }, [x, out], [1]), /uniform field Dims\.flags not given/);
  assert.throws(() => gpu.dispatch(linearKernel, 'colsum', { ...ok, rows: 3 }, [x, out], [1]), /Dims has no field rows/);
  assert.throws(() => gpu.dispatch(linearKernel, 'colsum', { ...ok, N: -1 }, [x, out], [1]), /uniform u32 Dims\.N out of range: -1/);
  assert.throws(() => gpu.dispatch(linearKernel, 'colsum', { ...ok, N: 2.5 }, [x, out], [1]), /out of range: 2\.5/);
  assert.throws(() => gpu.dispatch(linearKernel, 'colsum', ok, [x], [1]), /1 bindings for 2 storage variables/);
  assert.throws(() => gpu.dispatch(linearKernel, 'colsum', null, [x, out], [1]), /needs uniforms/);
  gpu.release(x, out);
  await gpu.sync();
});

test('layouts: a warm repeat of the same dispatches creates no bind group', async () => {
  const gpu = await getGpu();
  const x = gpu.alloc([64]);
  const out = gpu.alloc([64]);
  const run = () => {
    for (let i = 0; i < 3; i++) gpu.dispatch(linearKernel, 'colsum', { M: 1, N: 64, K: 0, flags: i & 2 }, [x, out], [1]);
    gpu.flush();
  };
  run();
  const before = gpu.bindGroupsCreated;
  run();
  assert.equal(gpu.bindGroupsCreated, before);
  gpu.release(x, out);
  await gpu.sync();
});
