// The data behind the quality plots, shaped here (pure, unit-tested) so the panels only draw:
// FD over steps per run (NFE 1, NFE 2, the FM branch's Euler-N where the meter measured it), and
// the teacher-vs-student quality-vs-NFE lines with "how many teacher steps is one student step worth".

import type { RunQuality, TeacherView } from '../../worker/protocol';

export interface Line {
  name: string;
  x: number[];
  y: number[];
}

/** FD over steps of one run's measurements: a line per sampler measured at least once (non-finite FD left out: a log axis cannot show it). */
export function fdOverSteps(history: readonly RunQuality[]): Line[] {
  const line = (name: string, pick: (q: RunQuality) => number | undefined): Line => {
    const x: number[] = [];
    const y: number[] = [];
    for (const q of history) {
      const fd = pick(q);
      if (fd !== undefined && Number.isFinite(fd) && fd > 0) {
        x.push(q.step);
        y.push(fd);
      }
    }
    return { name, x, y };
  };
  const eulerSteps = [...new Set(history.flatMap((q) => (q.euler ? [q.euler.steps] : [])))];
  return [
    line('NFE 1', (q) => q.oneStep.fd),
    line('NFE 2', (q) => q.twoStep.fd),
    ...eulerSteps.map((n) => line(`Euler ${n}`, (q) => (q.euler?.steps === n ? q.euler.fd : undefined))),
  ].filter((l) => l.x.length > 0);
}

/** FD against network calls: the teacher's Euler-N (as far as measured) and the student's NFE 1 and 2 (its latest measurement). */
export function nfeLines(teacher: TeacherView | null, student: RunQuality | null): { teacher: Line | null; student: Line | null } {
  let t: Line | null = null;
  if (teacher) {
    const x: number[] = [];
    const y: number[] = [];
    teacher.steps.forEach((n, i) => {
      const q = teacher.quality[i];
      if (q && Number.isFinite(q.fd)) {
        x.push(n);
        y.push(q.fd);
      }
    });
    if (x.length) t = { name: 'teacher, Euler N', x, y };
  }
  const s = student ? ([1, 2] as const).map((n) => [n, (n === 1 ? student.oneStep : student.twoStep).fd] as const).filter(([, fd]) => Number.isFinite(fd)) : [];
  return { teacher: t, student: s.length ? { name: `student @ step ${student!.step}`, x: s.map((p) => p[0]), y: s.map((p) => p[1]) } : null };
}

/**
 * How many of the teacher's Euler steps a student sample of FD `fd` is worth: the N where the
 * teacher's FD-vs-N line (linear in FD between measured points, log-spaced in N) falls to `fd`,
 * at its first crossing. 'below': worse than even the teacher's fewest steps; 'above': at least as
 * good as its most; null without a teacher line or a finite fd.
 */
export function stepsWorth(teacher: Line | null, fd: number): { steps: number; bound: 'below' | 'within' | 'above' } | null {
  if (!teacher || teacher.x.length === 0 || !Number.isFinite(fd)) return null;
  const { x, y } = teacher;
  if (fd >= y[0]) return { steps: x[0], bound: 'below' };
  for (let i = 1; i < x.length; i++) {
    if (y[i] <= fd) {
      const f = (y[i - 1] - fd) / (y[i - 1] - y[i]);
      return { steps: Math.exp(Math.log(x[i - 1]) + f * (Math.log(x[i]) - Math.log(x[i - 1]))), bound: 'within' };
    }
  }
  return { steps: x[x.length - 1], bound: 'above' };
}

/** The panel's sentence for a student NFE-1 FD. */
export function worthText(teacher: Line | null, fd: number, complete: boolean): string {
  const w = stepsWorth(teacher, fd);
  if (!w) return 'no figures yet: the student is measured every “quality every” steps, the teacher once per build';
  const n = (s: number) => (s >= 10 ? s.toFixed(0) : s.toFixed(1));
  if (w.bound === 'below') return `one student step is worth less than ${w.steps} teacher Euler step${w.steps > 1 ? 's' : ''} (its FD is higher than the teacher's at ${w.steps})`;
  if (w.bound === 'above') return complete ? `one student step is worth at least ${w.steps} teacher Euler steps (its FD is as low as the teacher's at ${w.steps})` : `one student step is worth at least ${w.steps} teacher Euler steps so far (the teacher's larger N are still being measured)`;
  return `one student step is worth about ${n(w.steps)} teacher Euler steps (where the teacher's FD line falls to the student's ${fd.toFixed(2)})`;
}
