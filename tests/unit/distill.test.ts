// Distillation before the GPU: the registry of shipped teachers (each file is the one recorded, and
// a file that is not is refused with a message naming it and the registry), the teacher check (a
// broken file, a checkpoint that is not an FM teacher, another image size or model, an FM student),
// the student's initial weights (the teacher's, MeanFlow's r embedder at its own init), and the
// shaping of the teacher-vs-student panel's and the FD plot's data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { loadShippedTeacher, TEACHER_IDS, TEACHERS, teacherForPreset } from '../../src/data/teachers';
import { readPublic } from '../../src/data/shippedNode';
import { PRESETS } from '../../src/model/config';
import { initParams, paramTable } from '../../src/model/params';
import { saveCheckpoint } from '../../src/train/checkpoint';
import { openTeacher, studentParams, teacherMismatch } from '../../src/train/distill';
import { defaults, modelOf, NO_TEACHER, parseSearch, runMetadata, toSearch, UPLOADED_TEACHER, type Config } from '../../src/config';
import { ablationRuns, ABLATIONS, DISTIL_PRESET, findAblation } from '../../src/ui/state/ablations';
import { fdOverSteps, nfeLines, stepsWorth, worthText } from '../../src/ui/state/qualityPlots';
import type { QualityFigures, RunQuality, TeacherView } from '../../src/worker/protocol';

// ---------------------------------------------------------------- the registry

test('shipped teachers: every file is under public/ and is the one recorded (SHA-256), of its preset and an FM teacher', async () => {
  for (const id of TEACHER_IDS) {
    const t = TEACHERS[id];
    assert.equal(t.id, id);
    assert.ok(PRESETS[t.preset], `${id}: preset ${t.preset}`);
    assert.ok(t.command.includes(`make-teachers.py ${id}`), `${id}: made by scripts/make-teachers.py (its table says how)`);
    assert.ok(existsSync(`public/${t.file.path}`), `public/${t.file.path} missing (the command: ${t.command})`);
    const bytes = await loadShippedTeacher(id, readPublic);
    assert.ok(bytes.length <= 4 * 2 ** 20, `${id}: ${bytes.length} bytes, over 4 MB`);
    const ck = openTeacher(bytes, t.file.path);
    assert.equal(ck.preset, t.preset, `${id}: the file's model is its preset`);
    assert.equal(teacherMismatch(ck, t.preset, 'facm'), null);
  }
  assert.equal(teacherForPreset('mnist-16')?.id, 'fashion16-fm');
  assert.equal(teacherForPreset('points')?.id, 'eight-gaussians-fm');
});

test('shipped teachers: a file that is not the recorded one is refused, naming it, its checksum and the registry', async () => {
  const real = await readPublic(TEACHERS['fashion16-fm'].file.path);
  const damaged = real.slice();
  damaged[damaged.length - 1] ^= 1;
  await assert.rejects(loadShippedTeacher('fashion16-fm', async () => damaged), (e: Error) => {
    assert.match(e.message, /^teachers\/fashion16-fm\.safetensors: SHA-256 [0-9a-f]{64} \(\d+ bytes\) is not the recorded [0-9a-f]{64}; the shipped file is damaged or was remade \(recorded in src\/data\/teachers\.ts\)$/);
    return true;
  });
  await assert.rejects(loadShippedTeacher('mnist-fm', readPublic), /unknown shipped teacher 'mnist-fm' \(have fashion16-fm, eight-gaussians-fm\)/);
});

// ---------------------------------------------------------------- the teacher check

const MNIST = PRESETS['mnist-16'].config;
function checkpoint(over: Partial<Config>, model = MNIST, ema = true): Uint8Array {
  const c = { ...defaults(), preset: 'mnist-16', dataset: 'fashion16', ...over };
  const table = paramTable(model);
  const params = initParams(table, 3, 0.01);
  return saveCheckpoint({ model, run: runMetadata(c, c.dataset), step: 42, params, ema: ema ? params.map((x) => x + 1) : undefined });
}

test('teacher check: an FM checkpoint of the run\'s model teaches it; its EMA weights are the ones used', () => {
  const t = openTeacher(checkpoint({ objective: 'fm' }), 'mine.safetensors');
  assert.equal(t.preset, 'mnist-16');
  assert.equal(t.step, 42);
  const plain = initParams(paramTable(MNIST), 3, 0.01);
  assert.equal(t.params[0], Math.fround(plain[0] + 1), 'EMA weights');
  for (const o of ['facm', 'cm-no-anchor', 'scm', 'meanflow'] as const) assert.equal(teacherMismatch(t, 'mnist-16', o), null, o);
  assert.equal(openTeacher(checkpoint({ objective: 'fm' }, MNIST, false), 'x').params[0], plain[0], 'parameters without EMA');
});

test('teacher check: a broken file, a non-teacher, another image size or model, and an FM student are refused with what to do', () => {
  const good = checkpoint({ objective: 'fm' });
  assert.throws(() => openTeacher(good.slice(0, 1000), 'cut.safetensors'), (e: Error) => /^cut\.safetensors: .+Choose an FM teacher/.test(e.message));
  assert.throws(() => openTeacher(new TextEncoder().encode('hello'), 'notes.txt'), (e: Error) => /^notes\.txt: .*Choose an FM teacher/.test(e.message));
  assert.throws(() => openTeacher(checkpoint({ objective: 'facm' }), 'student.safetensors'), (e: Error) => {
    assert.match(e.message, /^student\.safetensors: was trained with objective facm, not fm: a teacher is a flow-matching checkpoint\. Choose an FM teacher/);
    return true;
  });
  const noRun = saveCheckpoint({ model: MNIST, step: 1, params: initParams(paramTable(MNIST), 1) });
  assert.throws(() => openTeacher(noRun, 'bare.safetensors'), (e: Error) => /^bare\.safetensors: records no training run/.test(e.message));
  // Another image size: the tiny preset's 3×8×8 teacher for a mnist-16 run.
  const tiny = openTeacher(checkpoint({ objective: 'fm', preset: 'tiny', dataset: 'shapes8' }, PRESETS.tiny.config), 'tiny-fm.safetensors');
  assert.equal(teacherMismatch(tiny, 'mnist-16', 'facm'), "tiny-fm.safetensors: the teacher is for 3×8×8 images and this run's model (mnist-16) for 1×16×16: pick the preset tiny, or a teacher of this image size");
  // Same image size, another model (tiny-16 is 3×16×16; a 1×16×16 model wider than mnist-16 is no preset).
  const wide = { ...MNIST, D: 128 };
  const w = openTeacher(saveCheckpoint({ model: wide, run: runMetadata({ ...defaults(), objective: 'fm' }, 'fashion16'), step: 1, params: initParams(paramTable(wide), 1) }), 'wide.safetensors');
  assert.equal(w.preset, null);
  assert.match(teacherMismatch(w, 'mnist-16', 'facm')!, /^wide\.safetensors: the teacher's model \(1×16×16 patch 4, D 128, .*\) is not the mnist-16 preset .*must be the same model: train a teacher on one of the presets$/);
  const t = openTeacher(good, 'fm.safetensors');
  assert.match(teacherMismatch(t, 'mnist-16', 'fm')!, /^FM is what a teacher is trained with: distil into FACM, CM, no anchor, sCM-style, MeanFlow$/);
});

test('student weights: the teacher\'s, and MeanFlow\'s r embedder at its own init', () => {
  const t = openTeacher(checkpoint({ objective: 'fm' }), 'fm.safetensors');
  const same = studentParams(t, MNIST, 7);
  assert.deepEqual(same, t.params, 'FACM (extended interval): the same model, the teacher\'s weights');
  const student = modelOf({ ...defaults(), preset: 'mnist-16', objective: 'meanflow' });
  assert.ok(student.useR);
  const p = studentParams(t, student, 7);
  const from = paramTable(MNIST);
  const to = paramTable(student);
  const init = initParams(to, 7);
  for (const s of to.specs) {
    const got = p.subarray(s.offset, s.offset + s.size);
    const f = from.byName.get(s.name);
    if (s.name.startsWith('r_embedder.')) assert.deepEqual(got, init.subarray(s.offset, s.offset + s.size), `${s.name} at its init`);
    else assert.deepEqual(got, t.params.subarray(f!.offset, f!.offset + f!.size), `${s.name} from the teacher`);
  }
  assert.ok(to.specs.some((s) => s.name === 'r_embedder.mlp.0.weight'));
});

// ---------------------------------------------------------------- config, links and presets

test('the teacher in links: a shipped one brings its model and data; an uploaded one cannot be carried', () => {
  const a = parseSearch('?teacher=fashion16-fm');
  assert.deepEqual([a.config.teacher, a.config.preset, a.config.dataset, a.messages], ['fashion16-fm', 'mnist-16', 'fashion16', []]);
  const back = parseSearch(toSearch(a.config));
  assert.equal(back.config.teacher, 'fashion16-fm');
  const u = parseSearch(`?preset=mnist-16&teacher=${UPLOADED_TEACHER}`);
  assert.equal(u.config.teacher, NO_TEACHER);
  assert.match(u.messages.join('\n'), /teacher=uploaded: the link's run distilled from a checkpoint on its author's disk, which a link cannot carry/);
});

test('presets: the distillation demo and every ablation\'s "from the teacher" variant distil from a shipped teacher of their model', () => {
  const runs = ablationRuns(DISTIL_PRESET.id, defaults());
  assert.equal(runs.length, 1);
  assert.deepEqual([runs[0].config.teacher, runs[0].config.preset, runs[0].config.dataset, runs[0].config.objective], ['fashion16-fm', 'mnist-16', 'fashion16', 'facm']);
  assert.equal(runs[0].config.qualityEvery, 100, 'the preset measures quality often');
  assert.equal(ablationRuns(DISTIL_PRESET.id, { ...defaults(), qualityEvery: 4 })[0].config.qualityEvery, 4, "a link's own view values win");
  assert.deepEqual([runs[0].config.lr, runs[0].config.lrWarmup, runs[0].config.batch], [3e-4, 0, 32], "the measured run's rate, not the mnist-16 preset's from-scratch settings");
  // The high-lr preset's variant runs its own pair (the rate where the anchor decides in distillation), not the 6 seeds at 6e-2.
  const high = ablationRuns('high-lr-teacher', defaults());
  assert.deepEqual(high.map((r) => [r.config.objective, r.config.teacher, r.config.lr, r.config.lrWarmup, r.config.batch, r.config.seed, r.config.stopAt]), [
    ['facm', 'fashion16-fm', 3e-3, 0, 32, 0, 200],
    ['cm-no-anchor', 'fashion16-fm', 3e-3, 0, 32, 0, 200],
  ]);
  assert.match(findAblation('high-lr-teacher')!.finding, /lr 3e-3/);
  for (const a of ABLATIONS) {
    const v = findAblation(`${a.id}-teacher`)!;
    assert.equal(v.variantOf, a.id);
    for (const r of ablationRuns(v.id, defaults())) {
      const t = TEACHERS[r.config.teacher];
      assert.ok(t, `${v.id}: ${r.name} distils`);
      assert.equal(r.config.preset, t.preset);
    }
    // The plain preset trains from scratch, whatever the focused run distilled from.
    for (const r of ablationRuns(a.id, { ...defaults(), teacher: 'fashion16-fm', preset: 'mnist-16' })) assert.equal(r.config.teacher, NO_TEACHER, `${a.id}: ${r.name}`);
  }
});

// ---------------------------------------------------------------- the panels' data

const fig = (fd: number): QualityFigures => ({ fd, precision: 0.5, recall: 0.5, n: 64 });
const q = (step: number, one: number, two: number, euler?: number): RunQuality => ({
  step,
  n: 64,
  oneStep: fig(one),
  twoStep: fig(two),
  ...(euler !== undefined && { euler: { ...fig(euler), steps: 16 } }),
  real: fig(0.3),
  noise: fig(90),
});

test('FD over steps: one line per sampler measured, non-finite figures left out', () => {
  const lines = fdOverSteps([q(100, 20, 15, 12), q(200, Infinity, 10), q(300, 8, 6, 5)]);
  assert.deepEqual(lines, [
    { name: 'NFE 1', x: [100, 300], y: [20, 8] },
    { name: 'NFE 2', x: [100, 200, 300], y: [15, 10, 6] },
    { name: 'Euler 16', x: [100, 300], y: [12, 5] },
  ]);
  assert.deepEqual(fdOverSteps([q(100, 20, 15)]).map((l) => l.name), ['NFE 1', 'NFE 2'], 'no Euler line where the meter did not measure it');
  assert.deepEqual(fdOverSteps([]), []);
});

test('teacher vs student: FD against network calls, and how many teacher steps one student step is worth', () => {
  const view: TeacherView = { key: 'k', name: 't', steps: [1, 2, 4, 8, 16, 50], grids: [], quality: [fig(40), fig(20), fig(10), null, null, null] };
  const { teacher, student } = nfeLines(view, q(500, 15, 12));
  assert.deepEqual(teacher, { name: 'teacher, Euler N', x: [1, 2, 4], y: [40, 20, 10] });
  assert.deepEqual(student, { name: 'student @ step 500', x: [1, 2], y: [15, 12] });
  assert.deepEqual(nfeLines(null, null), { teacher: null, student: null });
  // FD 15 lies half-way between the teacher's 20 (N = 2) and 10 (N = 4): √(2·4) on a log-N axis.
  const w = stepsWorth(teacher, 15)!;
  assert.equal(w.bound, 'within');
  assert.ok(Math.abs(w.steps - Math.sqrt(8)) < 1e-12, `${w.steps}`);
  assert.deepEqual(stepsWorth(teacher, 20), { steps: 2, bound: 'within' });
  assert.deepEqual(stepsWorth(teacher, 50), { steps: 1, bound: 'below' });
  assert.deepEqual(stepsWorth(teacher, 5), { steps: 4, bound: 'above' });
  assert.equal(stepsWorth(null, 5), null);
  assert.equal(stepsWorth(teacher, NaN), null);
  assert.match(worthText(teacher, 15, false), /^one student step is worth about 2\.8 teacher Euler steps/);
  assert.match(worthText(teacher, 5, false), /at least 4 teacher Euler steps so far/);
  assert.match(worthText(teacher, 5, true), /at least 4 teacher Euler steps \(its FD is as low/);
  assert.match(worthText(teacher, 50, true), /worth less than 1 teacher Euler step /);
});
