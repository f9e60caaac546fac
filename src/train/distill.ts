// Distillation (the reference's stage 2), before the Trainer: is a checkpoint a teacher this run can
// distil from, and what the student starts from. A teacher is a flow-matching (objective fm)
// checkpoint of this project; the student is the same model as the teacher (it starts from the
// teacher's weights), plus whatever its objective needs that the teacher lacks: MeanFlow's second
// time condition r (and FACM's auxiliary-interval flag) is an embedder the teacher never had, so
// the student's starts at its own initialisation, as it would from scratch.

import { PRESETS, type DiTConfig } from '../model/config';
import { initParams, paramTable } from '../model/params';
import { objectiveSpec, OBJECTIVES, type ObjectiveName } from '../objectives/table';
import { configFromMetadata, presetOfModel } from '../config/metadata';
import { describeConfig, loadCheckpoint } from './checkpoint';
import { fileError } from '../util/errors';

export const TEACHER_TODO = 'Choose an FM teacher: a .safetensors checkpoint trained with objective fm by the playground or `npm run facm -- train --objective fm`, or a shipped teacher.';

export interface TeacherCheckpoint {
  name: string;
  model: DiTConfig;
  /** The preset the teacher's model is, or null when it is none of them. */
  preset: string | null;
  /** The weights the teacher is evaluated with: its EMA when stored, else its parameters. */
  params: Float32Array;
  step: number;
}

/** Opens teacher bytes, refusing (with the file's name and what to do) a broken file or a checkpoint that is not an FM teacher. */
export function openTeacher(bytes: Uint8Array, name: string): TeacherCheckpoint {
  let st;
  try {
    st = loadCheckpoint(bytes);
  } catch (e) {
    throw fileError(name, e, TEACHER_TODO);
  }
  if (!st.run) throw fileError(name, 'records no training run in its metadata, so it cannot be told to be an FM teacher', TEACHER_TODO);
  let objective: string;
  try {
    objective = configFromMetadata(st.run, st.model).config.objective;
  } catch (e) {
    throw fileError(name, e, TEACHER_TODO);
  }
  if (objective !== 'fm') throw fileError(name, `was trained with objective ${objective}, not fm: a teacher is a flow-matching checkpoint`, TEACHER_TODO);
  if (st.model.useR) throw fileError(name, 'has a second time input r, which an FM teacher never has', TEACHER_TODO);
  return { name, model: st.model, preset: presetOfModel(st.model), params: st.ema ?? st.params, step: st.step };
}

/** Why `t` cannot teach a run of model preset `preset` with `objective`, or null when it can. */
export function teacherMismatch(t: TeacherCheckpoint, preset: string, objective: ObjectiveName): string | null {
  if (objective === 'fm') return `FM is what a teacher is trained with: distil into ${OBJECTIVES.filter((o) => o !== 'fm').map((o) => objectiveSpec(o).label).join(', ')}`;
  const p = PRESETS[preset];
  if (!p) return `unknown preset '${preset}'`;
  const m = t.model;
  const s = p.config;
  const other = t.preset ? `pick the preset ${t.preset}` : 'train a teacher on one of the presets';
  if (m.C !== s.C || m.H !== s.H || m.W !== s.W)
    return `${t.name}: the teacher is for ${m.C}×${m.H}×${m.W} images and this run's model (${preset}) for ${s.C}×${s.H}×${s.W}: ${other}, or a teacher of this image size`;
  if (t.preset !== preset)
    return `${t.name}: the teacher's model (${describeConfig(m)}) is not the ${preset} preset (${describeConfig(s)}); the student starts from the teacher's weights, so it must be the same model: ${other}`;
  return null;
}

/**
 * The student's initial parameters: every tensor the teacher has, copied; the ones it lacks (the r
 * embedder of MeanFlow or the auxiliary interval) as `initParams(student, seed)` draws them.
 */
export function studentParams(t: TeacherCheckpoint, student: DiTConfig, seed: number): Float32Array {
  const from = paramTable(t.model);
  const to = paramTable(student);
  const out = initParams(to, seed);
  for (const s of to.specs) {
    const f = from.byName.get(s.name);
    if (!f) continue;
    if (f.shape.join(',') !== s.shape.join(',')) throw new Error(`${t.name}: teacher tensor ${s.name} has shape [${f.shape}], the student needs [${s.shape}]`);
    out.set(t.params.subarray(f.offset, f.offset + f.size), s.offset);
  }
  return out;
}
