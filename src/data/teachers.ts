// The FM teachers shipped with the app: flow-matching checkpoints made by this project's own CLI,
// stored as safetensors under public/teachers/ and fetched from the page's own origin (never the
// internet). Each entry says what the teacher is (model preset, data set), how it was made (steps,
// the exact command) and the SHA-256 of its file, checked at load as the shipped data sets are
// (src/data/shipped.ts): a damaged or remade file is refused with a message, not distilled from.

import { readChecked, type ReadAsset, type ShippedFile } from './shipped';

export interface ShippedTeacher {
  id: string;
  /** Name shown in the page. */
  label: string;
  /** The model preset the teacher is (and its students are). */
  preset: string;
  /** The data set it was trained on (built in or shipped): the data its students distil on. */
  dataset: string;
  /** The checkpoint under public/, with its SHA-256. */
  file: ShippedFile;
  /** Optimizer steps it was trained for. */
  steps: number;
  /** The command that made the file (then copied to `public/${file.path}`). */
  command: string;
}

export const TEACHERS: Record<string, ShippedTeacher> = {
  'fashion16-fm': {
    id: 'fashion16-fm',
    label: 'Fashion-MNIST 16×16, FM',
    preset: 'mnist-16',
    dataset: 'fashion16',
    file: { path: 'teachers/fashion16-fm.safetensors', sha256: '4d06d6ba8353247c75237c8efc9aa5694088d9300d2319b34be68b9ce79511a1' },
    steps: 500,
    command: '/usr/bin/python3 scripts/make-teachers.py fashion16-fm --procs 4',
  },
  'eight-gaussians-fm': {
    id: 'eight-gaussians-fm',
    label: 'eight Gaussians (2-D), FM',
    preset: 'points',
    dataset: 'eight-gaussians',
    file: { path: 'teachers/eight-gaussians-fm.safetensors', sha256: '88ed160d154b1e6af56dc4c3de2659c770f4736d7283e3f279cfeefc5234161e' },
    steps: 1500,
    command: '/usr/bin/python3 scripts/make-teachers.py eight-gaussians-fm',
  },
};

export const TEACHER_IDS = Object.keys(TEACHERS);

export function shippedTeacher(id: string): ShippedTeacher {
  const t = TEACHERS[id];
  if (!t) throw new Error(`unknown shipped teacher '${id}' (have ${TEACHER_IDS.join(', ')})`);
  return t;
}

/** The shipped teacher trained for a model preset, if there is one (the "from the teacher" presets pick it). */
export const teacherForPreset = (preset: string): ShippedTeacher | null => Object.values(TEACHERS).find((t) => t.preset === preset) ?? null;

/** A shipped teacher's checkpoint bytes, refused unless they are the recorded file (SHA-256). */
export async function loadShippedTeacher(id: string, read: ReadAsset): Promise<Uint8Array> {
  return readChecked(shippedTeacher(id).file, read, 'src/data/teachers.ts');
}

/**
 * What a teacher's panel figures depend on: the teacher's file, the run's grid noise (its seed), the
 * data set and the number of images the quality meter draws. Runs with one key show the same figures.
 */
export const teacherKey = (sha256: string, c: { seed: number; dataset: string; qualitySamples: number }): string => `${sha256.slice(0, 16)}:${c.seed}:${c.dataset}:${c.qualitySamples}`;
