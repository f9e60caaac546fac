// Limits before allocation: the null-device estimate matches what a real trainer allocates; runs
// past a limit are refused with a message naming the limit and the largest batch (or the presets)
// that fit, with fake limits and with the real adapter; every kernel fits the workgroup memory the
// check assumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireDevice } from '../../src/gpu/device';
import { Gpu } from '../../src/gpu/runtime';
import { BUILTIN } from '../../src/data/procedural';
import { PRESETS, type DiTConfig } from '../../src/model/config';
import { objectiveConfig } from '../..//src/config/keys';
import { Trainer, type TrainConfig } from '../..//src/train/trainer';
import { trainDefaults } from '../..//src/config/keys';
import { checkLimits, estimateMemory, KERNEL_WORKGROUP_STORAGE_BYTES, LimitError, limitsOf, machineMemoryBudget } from '../../src/train/limits';
import { totalmem } from 'node:os';
import { TrainingSession } from '../../src/train/session';
import { gpuForFile } from '../helpers/gpu';

const gpu = gpuForFile();
const MiB = 2 ** 20;
const small: DiTConfig = { ...PRESETS.tiny.config, D: 16, depth: 1 };
const cfg = (model: DiTConfig, batch: number, over: Partial<TrainConfig> = {}): TrainConfig => ({ ...trainDefaults(), model, objective: objectiveConfig('facm'), batch, seed: 1, ...over });

// First in the file, so the device's pool holds nothing a trainer could reuse.
test('limits: the null-device estimate is exactly what a real trainer allocates (buffers and bytes)', async () => {
  const g = await gpu();
  const base = g.memory();
  const c = cfg(small, 3, { onNonFinite: 'rollback' });
  const est = await estimateMemory(c);
  const tr = new Trainer(g, c, BUILTIN.blobs8.make(1, 16));
  for (let i = 0; i < 2; i++) await tr.stepOnce();
  await tr.drain();
  const real = g.memory();
  // The estimate's Gpu has its own 'dummy' (as `base` does) and two arenas outside memory().
  assert.equal(real.bytes - base.bytes, est.persistentBytes + est.activationBytes - 256, `real ${JSON.stringify(real)} vs estimate ${JSON.stringify(est)}`);
  assert.equal(real.buffers - base.buffers, est.buffers - 3);
  tr.dispose();
});

test('limits: a binding past maxStorageBufferBindingSize (fake limits) is refused naming it, with the largest batch that fits', async () => {
  const c = cfg(PRESETS.tiny.config, 512);
  const limits = { maxStorageBufferBindingSize: 1 * MiB, maxBufferSize: 256 * MiB };
  const r = await checkLimits(c, limits, { presetName: 'tiny' });
  assert.equal(r.ok, false);
  assert.match(r.message!, /^preset tiny at batch 512 does not fit this adapter: its largest buffer \('linearGelu\.pre', 4\.00 MiB\) exceeds this adapter's maxStorageBufferBindingSize \(1\.00 MiB\)\. Use a smaller batch: 128 is the largest that fits\.$/);
  assert.equal(r.suggestedBatch, 128);
  // The suggestion is the boundary: it fits, one more does not.
  assert.ok((await estimateMemory({ ...c, batch: 128 })).largest.bytes <= 1 * MiB);
  assert.ok((await estimateMemory({ ...c, batch: 129 })).largest.bytes > 1 * MiB);
  assert.equal((await checkLimits({ ...c, batch: 128 }, limits)).ok, true);
});

test('limits: maxBufferSize, workgroup memory, a memory budget, and a model no batch can fit', async () => {
  const c = cfg(PRESETS.tiny.config, 512);
  const buf = await checkLimits({ ...c, batch: 4096 }, { maxStorageBufferBindingSize: 64 * MiB, maxBufferSize: 16 * MiB });
  assert.match(buf.message!, /its largest buffer \('linearGelu\.pre', 32\.0 MiB\) exceeds this adapter's maxBufferSize \(16\.0 MiB\)\. Use a smaller batch: 2048 is the largest/);
  const wg = await checkLimits(cfg(small, 2), { maxComputeWorkgroupStorageSize: 8192 });
  assert.match(wg.message!, /the kernels need 16384 bytes of workgroup memory but this adapter's maxComputeWorkgroupStorageSize is 8192\. This adapter cannot run the kernels/);
  const budget = await checkLimits(c, {}, { budgetBytes: 64 * MiB });
  assert.match(budget.message!, /its buffers add up to [\d.]+ MiB, over the memory budget of 64\.0 MiB\. Use a smaller batch: \d+ is the largest that fits/);
  const est = await estimateMemory({ ...c, batch: budget.suggestedBatch! });
  assert.ok(est.totalBytes <= 64 * MiB);
  // cifar-b's parameter buffers alone exceed 16 MiB: no batch helps, smaller presets do.
  const big = await checkLimits(cfg(PRESETS['cifar-b'].config, 8), { maxStorageBufferBindingSize: 16 * MiB }, { presetName: 'cifar-b' });
  assert.equal(big.suggestedBatch, null);
  assert.match(big.message!, /No batch fits this model; use a smaller preset \(tiny, tiny-16.* at batch 8\)/);
  const grid = await checkLimits(c, { maxComputeWorkgroupsPerDimension: 64 });
  assert.match(grid.message!, /grid \d+×\d+×\d+ exceeds maxComputeWorkgroupsPerDimension 64/);
});

test('limits: the real adapter refuses a too-big batch before allocating anything', async () => {
  const g = new Gpu(await acquireDevice());
  try {
    const lim = limitsOf(g);
    const c = cfg(PRESETS['cifar-b'].config, 2048);
    const before = g.memory();
    await assert.rejects(
      TrainingSession.create(c, BUILTIN.shapes32.make(0, 4), { gpu: g, presetName: 'cifar-b' }),
      (e: Error) => {
        assert.ok(e instanceof LimitError, String(e));
        const which = lim.maxStorageBufferBindingSize <= lim.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
        assert.match(e.message, new RegExp(`preset cifar-b at batch 2048 does not fit this adapter: its largest buffer .* exceeds this adapter's ${which} .* Use a smaller batch: \\d+ is the largest that fits`));
        // Its 134 GB of buffers are also over the default budget, the machine's memory (named in the message).
        assert.match(e.message, /its buffers add up to 134306\.7 MiB, over the memory budget of [\d.]+ MiB \(75 % of the [\d.]+ GiB this process can use; /);
        assert.ok(e.check.suggestedBatch! >= 1 && e.check.suggestedBatch! < 2048);
        assert.ok(e.check.estimate.totalBytes / 2048 * e.check.suggestedBatch! < totalmem(), 'the suggestion fits in the machine');
        return true;
      },
    );
    assert.deepEqual(g.memory(), before, 'nothing was allocated');
    assert.equal(g.lost, null, 'the shared device is not destroyed');
  } finally {
    g.destroy();
  }
});

test('limits: a run over the memory budget is refused before allocating, and the batch it suggests trains a step', async () => {
  const g = new Gpu(await acquireDevice());
  try {
    const c = cfg(small, 512);
    const budget = 12 * MiB;
    const data = BUILTIN.blobs8.make(0, 64);
    const before = g.memory();
    let suggested = 0;
    await assert.rejects(TrainingSession.create(c, data, { gpu: g, presetName: 'tiny', budgetBytes: budget, budgetWhy: 'a test budget' }), (e: Error) => {
      assert.ok(e instanceof LimitError, String(e));
      assert.match(e.message, /^preset tiny at batch 512 does not fit this adapter: its buffers add up to [\d.]+ MiB, over the memory budget of 12\.0 MiB \(a test budget\)\. Use a smaller batch: \d+ is the largest that fits\.$/);
      suggested = e.check.suggestedBatch!;
      return true;
    });
    assert.deepEqual(g.memory(), before, 'nothing was allocated');
    assert.ok(suggested > 1 && suggested < 512, `suggested ${suggested}`);
    // The suggestion really fits: the same budget accepts it, the step runs, and what it allocated is within the budget.
    const s = await TrainingSession.create({ ...c, batch: suggested }, data, { gpu: g, budgetBytes: budget });
    try {
      const recs = [...(await s.stepOnce()), ...(await s.drain())];
      assert.equal(s.step, 1);
      assert.ok(recs.length === 1 && Number.isFinite(recs[0].loss), JSON.stringify(recs.map((r) => r.loss)));
      assert.ok(g.memory().bytes - before.bytes <= budget, `allocated ${g.memory().bytes - before.bytes} bytes`);
    } finally {
      s.dispose();
    }
    // One more image than suggested does not fit.
    assert.equal((await checkLimits({ ...c, batch: suggested + 1 }, limitsOf(g), { budgetBytes: budget })).ok, false);
  } finally {
    g.destroy();
  }
});

test('limits: the default budget is the machine memory this process can use', async () => {
  const b = await machineMemoryBudget();
  assert.ok(b, 'Node always knows its machine memory');
  assert.ok(b.bytes > 0 && b.bytes <= totalmem() * 0.75, `${b.bytes} of ${totalmem()}`);
  assert.match(b.why, /^75 % of the [\d.]+ GiB this process can use; [\d.]+ GiB of [\d.]+ GiB free on this machine$/);
});

// ---- workgroup memory declared by the shaders, per entry point ----

function workgroupBytesPerEntry(code: string): Map<string, number> {
  const src = code.replace(/\/\/[^\n]*/g, '');
  const consts = new Map<string, number>();
  const evalExpr = (e: string): number => {
    const t = e.replace(/\b([A-Za-z_]\w*)\b/g, (id) => {
      if (!consts.has(id)) throw new Error(`unknown constant ${id} in '${e}'`);
      return String(consts.get(id));
    }).replace(/(\d+(?:\.\d+)?)[uif]\b/g, '$1');
    if (!/^[\d\s+\-*/().]+$/.test(t)) throw new Error(`cannot evaluate '${e}'`);
    return Function(`return (${t});`)() as number;
  };
  for (const m of src.matchAll(/\b(?:const|override)\s+(\w+)\s*(?::\s*\w+)?\s*=\s*([^;]+);/g)) {
    try {
      consts.set(m[1], evalExpr(m[2]));
    } catch {
      // not a number (e.g. a bool override)
    }
  }
  const sizeOf = (ty: string): number => {
    ty = ty.trim();
    const arr = /^array<(.+),\s*([^,<>]+)>$/.exec(ty);
    if (arr) return sizeOf(arr[1]) * evalExpr(arr[2]);
    if (/^(f32|u32|i32|atomic<[ui]32>)$/.test(ty)) return 4;
    if (/^vec2(f|u|i|<\w+>)$/.test(ty)) return 8;
    if (/^vec[34](f|u|i|<\w+>)$/.test(ty)) return 16;
    throw new Error(`unknown workgroup type ${ty}`);
  };
  const wg = new Map<string, number>();
  for (const m of src.matchAll(/var<workgroup>\s+(\w+)\s*:\s*([^;]+);/g)) wg.set(m[1], sizeOf(m[2]));
  // Function bodies by brace matching; entry points are the @compute ones.
  const bodies = new Map<string, string>();
  const entries: string[] = [];
  for (const m of src.matchAll(/(@compute[^f]*)?\bfn\s+(\w+)\s*\(/g)) {
    let i = src.indexOf('{', m.index!);
    const start = i;
    let depth = 0;
    for (; i < src.length; i++) {
      if (src[i] === '{') depth++;
      else if (src[i] === '}' && --depth === 0) break;
    }
    bodies.set(m[2], src.slice(start, i + 1));
    if (m[1]) entries.push(m[2]);
  }
  const out = new Map<string, number>();
  for (const e of entries) {
    const seen = new Set<string>();
    const visit = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const [, id] of bodies.get(f)!.matchAll(/\b(\w+)\s*\(/g)) if (bodies.has(id)) visit(id);
    };
    visit(e);
    const used = new Set<string>();
    for (const f of seen) for (const v of wg.keys()) if (new RegExp(`\\b${v}\\b`).test(bodies.get(f)!)) used.add(v);
    out.set(e, [...used].reduce((s, v) => s + wg.get(v)!, 0));
  }
  return out;
}

test(`kernels: every entry point's workgroup memory fits KERNEL_WORKGROUP_STORAGE_BYTES (${KERNEL_WORKGROUP_STORAGE_BYTES}), the limit check's assumption`, () => {
  const dir = 'shaders';
  let entries = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.wgsl'))) {
    for (const [entry, bytes] of workgroupBytesPerEntry(readFileSync(join(dir, f), 'utf8'))) {
      entries++;
      assert.ok(bytes <= KERNEL_WORKGROUP_STORAGE_BYTES, `${f} ${entry}: ${bytes} bytes of workgroup memory > ${KERNEL_WORKGROUP_STORAGE_BYTES}; raise KERNEL_WORKGROUP_STORAGE_BYTES in src/train/limits.ts if intended`);
    }
  }
  assert.ok(entries > 20, `found only ${entries} entry points`);
  // The parser sees the attention JVP's four tiles.
  const att = workgroupBytesPerEntry(readFileSync(join(dir, 'attention.wgsl'), 'utf8'));
  assert.equal(att.get('jvp'), 4 * 4096);
});
