// Distillation through the worker's run session on Dawn: the shipped Fashion-MNIST teacher, a FACM
// student that starts from its weights, the teacher-vs-student panel's data (the teacher's Euler-N
// grids from the run's noise, then its FD per N between training steps) and the student's quality
// figures with the FM branch's Euler-N; a checkpoint records the teacher. A MeanFlow student gets
// the r embedder the teacher lacks at its own init; an uploaded checkpoint that is not a teacher is
// refused with the file's name.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FromWorker } from '../../src/worker/protocol';
import { configFromMetadata, defaults, type Config } from '../../src/config';
import { loadCheckpoint } from '../../src/train/checkpoint';
import { initParams, paramTable } from '../../src/model/params';
import { TEACHERS } from '../../src/data/teachers';
import { readPublic } from '../../src/data/shippedNode';
import { openTeacher } from '../../src/train/distill';
import { TEACHER_STEPS } from '../../src/worker/teacher';
import { sessionHarness } from '../helpers/runSession';

const harness = () => sessionHarness(200_000);

type Of<K extends FromWorker['type']> = Extract<FromWorker, { type: K }>;
const DISTIL: Config = { ...defaults(), preset: 'mnist-16', dataset: 'fashion16', teacher: 'fashion16-fm', objective: 'facm', batch: 2, sampleEvery: 2, euler: 2, qualityEvery: 2, qualitySamples: 16, autosaveEvery: 0 };

test('worker distillation: the student starts as the shipped teacher; the panel gets its Euler-N grids and FD per N; checkpoints record the teacher', { timeout: 600_000 }, async () => {
  const { session, got, next } = harness();
  const teacher = openTeacher(await readPublic(TEACHERS['fashion16-fm'].file.path), 'fashion16-fm');
  try {
    session.receive({ type: 'init', config: DISTIL });
    await next((m) => m.type === 'ready');
    const first = await next<Of<'teacher'>>((m) => m.type === 'teacher');
    assert.deepEqual(first.teacher.steps, TEACHER_STEPS);
    assert.equal(first.teacher.grids.length, TEACHER_STEPS.length);
    for (const g of first.teacher.grids) assert.deepEqual([g.N, g.C, g.H, g.W], [16, 1, 16, 16]);
    assert.notDeepEqual(first.teacher.grids[0].pixels, first.teacher.grids[5].pixels, 'Euler 1 and 50 differ');
    assert.ok(first.teacher.quality.every((q) => q === null), 'FD per N comes later, between steps');
    // Step 0: the student's weights are the teacher's (EMA) weights.
    session.receive({ type: 'save', req: 1 });
    const s0 = await next<Of<'saved'>>((m) => m.type === 'saved' && m.req === 1);
    const ck = loadCheckpoint(s0.bytes);
    assert.deepEqual(ck.params, teacher.params, "the student starts from the teacher's weights");
    const meta = configFromMetadata(ck.run, ck.model);
    assert.equal(meta.config.teacher, 'fashion16-fm', 'the checkpoint records the teacher');
    assert.deepEqual(meta.run.teacherFile, { name: TEACHERS['fashion16-fm'].file.path, sha256: TEACHERS['fashion16-fm'].file.sha256, step: teacher.step });

    session.receive({ type: 'start' });
    const q = await next<Of<'quality'>>((m) => m.type === 'quality');
    assert.ok(Number.isFinite(q.quality.oneStep.fd) && q.quality.oneStep.fd > 0);
    assert.equal(q.quality.euler?.steps, 2, "the FM branch's Euler-N is measured too (FACM trains an anchor)");
    const done = await next<Of<'teacher'>>((m) => m.type === 'teacher' && m.teacher.quality.every((x) => x !== null));
    const fds = done.teacher.quality.map((x) => x!.fd);
    assert.ok(fds.every((fd) => Number.isFinite(fd) && fd > 0), `teacher FD per N: ${fds}`);
    console.log(`teacher FD at Euler ${TEACHER_STEPS.join('/')}: ${fds.map((x) => x.toFixed(2)).join(' / ')} (16 images: noisy); student NFE 1 at step ${q.quality.step}: ${q.quality.oneStep.fd.toFixed(2)}`);
    session.receive({ type: 'pause' });
    assert.ok(!got.some((m) => m.type === 'error'), `errors: ${JSON.stringify(got.filter((m) => m.type === 'error'))}`);
  } finally {
    await session.close();
  }
});

test('worker distillation: a MeanFlow student gets its r embedder at init; an uploaded non-teacher is refused by name', { timeout: 300_000 }, async () => {
  const { session, got, next } = harness();
  const teacher = openTeacher(await readPublic(TEACHERS['fashion16-fm'].file.path), 'fashion16-fm');
  try {
    session.receive({ type: 'init', config: { ...DISTIL, objective: 'meanflow', qualityEvery: 0 } });
    await next((m) => m.type === 'ready');
    session.receive({ type: 'save', req: 1 });
    const ck = loadCheckpoint((await next<Of<'saved'>>((m) => m.type === 'saved')).bytes);
    assert.ok(ck.model.useR);
    const table = paramTable(ck.model);
    const init = initParams(table, DISTIL.seed);
    const from = paramTable(teacher.model);
    for (const s of table.specs) {
      const got = ck.params.subarray(s.offset, s.offset + s.size);
      const f = from.byName.get(s.name);
      const want = f ? teacher.params.subarray(f.offset, f.offset + f.size) : init.subarray(s.offset, s.offset + s.size);
      assert.deepEqual(got, want, s.name);
    }
    // An FACM student's own checkpoint is no teacher.
    session.receive({ type: 'init', config: { ...DISTIL, teacher: 'uploaded' }, teacher: { bytes: await readPublic('data/fashion16/t10k-labels-idx1-ubyte'), name: 'labels.bin' } });
    const err = await next<Of<'error'>>((m) => m.type === 'error');
    assert.match(err.message, /^labels\.bin: .*Choose an FM teacher/);
    assert.ok(got.length > 0);
  } finally {
    await session.close();
  }
});
