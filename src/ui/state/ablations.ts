// One-click ablation presets: each is a set of runs that share the focused run's model, data,
// batch, learning rate and seed, and differ only in the objective knobs listed. They reproduce, at
// toy scale, the stability findings of the FACM paper (docs/math.md, "Baselines").

import { defaults, NO_TEACHER, OBJECTIVE_KNOBS, presetDefaults, type Config } from '../../config';
import { shippedTeacher, teacherForPreset } from '../../data/teachers';

export interface Ablation {
  id: string;
  title: string;
  /** What the paper reports, and what to look for here. */
  finding: string;
  /** Every run trains to this step and stops there (the `stopAt` view key), so the runs compare at one step. */
  stopAt: number;
  /** `seedOffset`: the run's seed is the focused run's seed plus this (a preset over several seeds). */
  runs: { name: string; overrides: Partial<Config>; seedOffset?: number }[];
  /** View keys the preset sets where the run still has their defaults (a link's own values win). */
  view?: Partial<Config>;
  /** A "from the teacher" variant: the id of the preset it distils. */
  variantOf?: string;
  /**
   * What this preset's "from the teacher" variant runs, where its own runs do not carry over (the
   * rate that separates the objectives from scratch is not the one that does from a teacher).
   */
  fromTeacher?: Pick<Ablation, 'finding' | 'stopAt' | 'runs'>;
}

/**
 * The high-learning-rate preset's seeds, from the seed field on: each objective on each, side by side
 * (a distribution, not one run). Six: the whole seed table of the README's *Stability* in one page.
 */
export const HIGH_LR_SEEDS = 6;
/**
 * The 2-D high-lr pair: the points preset's settings with the peak rate raised to 2e-2 and its cosine
 * over 900 steps (to 0 at step 1,000), where its seed table was measured (README, Stability in 2-D).
 */
const HIGH_LR_2D: Partial<Config> = { preset: 'points', lr: 2e-2, lrDecaySteps: 900 };
/** Seeds of the 2-D high-lr pair: the four of its seed table (a 1,000-step run is slow on a software adapter). */
export const HIGH_LR_2D_SEEDS = 4;
const HIGH_LR = { preset: 'tiny', dataset: 'shapes8', batch: 8, lr: 0.06 } as const;
/** Distilling the Fashion teacher at a rate where the anchor decides (README, Distillation on Fashion-MNIST). */
const DISTIL_HIGH_LR = { batch: 32, lr: 3e-3, lrWarmup: 0 } as const;
const DISTIL_HIGH_LR_FINDING =
  'FACM and CM without anchor distilled from the shipped Fashion teacher at lr 3e-3 (10× the demo’s rate, no warm-up, batch 32, seed 0), each to step 200. ' +
  'At lr 3e-4 both distil (NFE-1 FD 10.4 against 11.1 at step 1000); at 3e-3, measured on 1,000 samples of the EMA weights, the no-anchor run fails: ' +
  'its one-step FD rises from 15.5 at step 100 to 22.7 at step 200 and its precision falls to 0.06 (blotchy images off the garments), while FACM’s falls from 11.8 to 11.2 (precision 0.20): the anchor lets the higher rate distil faster instead of breaking the student. ' +
  'On WebGPU the step-200 figures agree (22.2 and 11.2). At 1e-2 the gap is the same (22.9 against 11.5 at step 400). ' +
  'Watch the one-step grids: FACM keeps the teacher’s garments, the no-anchor run’s turn to noise-textured blots.';

export const ABLATIONS: Ablation[] = [
  {
    id: 'stability',
    stopAt: 500,
    title: 'Stability: FACM vs baselines',
    finding:
      'The paper: without an anchor the consistency objective collapses; MeanFlow with flow_ratio 0 collapses, 0.75 is stable but weaker; FACM stays stable. ' +
      'Watch L_CM, the clamped fraction and the one-step samples of each run.',
    runs: [
      { name: 'FACM', overrides: { objective: 'facm' } },
      { name: 'CM, no anchor', overrides: { objective: 'cm-no-anchor' } },
      { name: 'MeanFlow r=0', overrides: { objective: 'meanflow', flowRatio: 0 } },
      { name: 'MeanFlow r=0.75', overrides: { objective: 'meanflow', flowRatio: 0.75 } },
      { name: 'sCM-style', overrides: { objective: 'scm' } },
    ],
  },
  {
    id: 'high-lr',
    title: 'Collapse at a high learning rate',
    finding:
      `At lr 6e-2 (tiny, shapes8, batch 8), FACM and CM without an anchor on ${HIGH_LR_SEEDS} seeds (the seed field and the next ones), side by side, each trained to step 300. ` +
      'Read it as a distribution, not a single run: whether one run collapses depends on its seed (and a little on the adapter\'s rounding). ' +
      'Measured over seeds 0–5, in the CLI and in Chromium alike: CM without an anchor ends flagged (samples ≈ noise) on 4 of 6; FACM on 2 of 6 (seeds 3 and 5; at this rate the anchor makes a collapse rarer, not impossible). ' +
      'Neither objective goes non-finite here: a collapse shows as one-step samples that stay near the noise (NFE 1 → data close to the noise figure) while the loss keeps falling.',
    stopAt: 300,
    runs: Array.from({ length: HIGH_LR_SEEDS }, (_, i) => i).flatMap((i) => [
      { name: 'FACM, seed', overrides: { objective: 'facm', ...HIGH_LR }, seedOffset: i },
      { name: 'CM, no anchor, seed', overrides: { objective: 'cm-no-anchor', ...HIGH_LR }, seedOffset: i },
    ]),
    fromTeacher: {
      stopAt: 200,
      finding: DISTIL_HIGH_LR_FINDING,
      runs: [
        { name: 'FACM from the teacher, lr 3e-3', overrides: { objective: 'facm', ...DISTIL_HIGH_LR } },
        { name: 'CM, no anchor, from the teacher, lr 3e-3', overrides: { objective: 'cm-no-anchor', ...DISTIL_HIGH_LR } },
      ],
    },
  },
  {
    id: 'lambda',
    stopAt: 500,
    title: 'Anchor weight λ_FM',
    finding: 'The paper: from scratch λ_FM ≥ 0.1 is needed; λ_FM = 0 is the no-anchor collapse.',
    runs: [
      { name: 'λ_FM = 1', overrides: { objective: 'facm', lambdaFM: 1 } },
      { name: 'λ_FM = 0.1', overrides: { objective: 'facm', lambdaFM: 0.1 } },
      { name: 'λ_FM = 0.01', overrides: { objective: 'facm', lambdaFM: 0.01 } },
      { name: 'λ_FM = 0', overrides: { objective: 'cm-no-anchor' } },
    ],
  },
  {
    id: 'interval',
    stopAt: 500,
    title: 'Extended interval vs auxiliary condition',
    finding: 'The paper: putting the anchor at c = 2 − t (a separate stretch of the time axis) beats telling the two tasks apart with an extra flag.',
    runs: [
      { name: 'extended (c = 2 − t)', overrides: { objective: 'facm', interval: 'extended' } },
      { name: 'auxiliary flag', overrides: { objective: 'facm', interval: 'aux' } },
    ],
  },
  {
    id: 'alpha',
    stopAt: 500,
    title: 'α-interpolation and the clamp',
    finding: 'The paper: the relaxed step α = 1 − √t speeds convergence; the clamp keeps a large dF/dt from taking over the target.',
    runs: [
      { name: 'α on, clamp on', overrides: { objective: 'facm', alpha: true, clamp: true } },
      { name: 'α off', overrides: { objective: 'facm', alpha: false, clamp: true } },
      { name: 'clamp off', overrides: { objective: 'facm', alpha: true, clamp: false } },
    ],
  },
  {
    id: '2d-stability',
    title: '2-D: FACM vs baselines on eight Gaussians',
    stopAt: 2000,
    finding:
      'The stability story on points in the plane (the points preset and its settings: one token per point, eight Gaussians, batch 256, lr 3e-3 with warm-up and cosine decay, t sampler mean −0.5 / std 1): FACM, CM without anchor, MeanFlow flow ratio 0 and 0.75, sCM-style on one seed. ' +
      'Watch the blue one-step points: on the grey modes, a blob, a curve or a few points; and the sliced W2 distance against the held-out and noise figures.',
    runs: [
      { name: 'FACM', overrides: { objective: 'facm', preset: 'points' } },
      { name: 'CM, no anchor', overrides: { objective: 'cm-no-anchor', preset: 'points' } },
      { name: 'MeanFlow r=0', overrides: { objective: 'meanflow', flowRatio: 0, preset: 'points' } },
      { name: 'MeanFlow r=0.75', overrides: { objective: 'meanflow', flowRatio: 0.75, preset: 'points' } },
      { name: 'sCM-style', overrides: { objective: 'scm', preset: 'points' } },
    ],
  },
  {
    id: '2d-high-lr',
    title: '2-D: a high learning rate, with and without the anchor',
    stopAt: 1000,
    finding:
      `FACM and CM without anchor at the points preset's settings with the peak rate raised to 2e-2 (6.7× the preset's 3e-3) and the cosine over 900 steps, on ${HIGH_LR_2D_SEEDS} seeds (the seed field and the next ones), each to step 1,000: a distribution, not one run. ` +
      'On WebGPU (Node, seeds 0–3, EMA, 4096 points) every no-anchor run ended about as far from the data as the input noise (NFE-1 sliced W2 at 87–111 % of the noise’s, 7.2–10.8× held-out; NFE 2 further still on three), one of them drifting off (Euler samples on one mode); ' +
      'every FACM run fell towards the noise’s distance while the rate was high and came back as it decayed (31–48 % of the noise’s at step 1,000; 2.4–5.1× held-out). The anchor does not keep the high rate harmless, it keeps the run recoverable. ' +
      'Look for blue one-step points that stay a noise-shaped blob while the distance sits at the noise figure, against rings forming after step 600.',
    runs: Array.from({ length: HIGH_LR_2D_SEEDS }, (_, i) => i).flatMap((i) => [
      { name: 'FACM, lr 2e-2, seed', overrides: { objective: 'facm', ...HIGH_LR_2D }, seedOffset: i },
      { name: 'CM, no anchor, lr 2e-2, seed', overrides: { objective: 'cm-no-anchor', ...HIGH_LR_2D }, seedOffset: i },
    ]),
  },
];

/** The Fashion-MNIST distillation demo: one FACM student of the shipped teacher, on the shipped data. */
const FASHION = shippedTeacher('fashion16-fm');
export const DISTIL_PRESET: Ablation = {
  id: 'distil-fashion16',
  title: 'Distil Fashion-MNIST 16×16 from the shipped teacher',
  stopAt: 1000,
  finding:
    `FACM distilled from the shipped FM teacher (${FASHION.label}, ${FASHION.steps} steps) on the shipped 16×16 Fashion-MNIST subset, batch 32. ` +
    'The student starts as a copy of the teacher and learns to jump from noise to an image in one call. ' +
    'Watch the teacher-vs-student panel: the teacher needs many Euler steps for a garment; the student’s one- and two-step samples, and its FD, close in on them as it trains.',
  runs: [{ name: 'FACM from the teacher', overrides: { objective: 'facm', teacher: FASHION.id, preset: FASHION.preset, dataset: FASHION.dataset, batch: 32, lr: 3e-4, lrWarmup: 0 } }],
  view: { qualityEvery: 100, sampleEvery: 25 },
};

/** A preset's "from the teacher" variant: the same runs, each distilling from the shipped teacher of the preset's kind of data. */
export function teacherVariant(a: Ablation): Ablation {
  const points = a.runs.some((r) => r.overrides.preset === 'points');
  const t = teacherForPreset(points ? 'points' : 'mnist-16')!;
  const { fromTeacher, ...rest } = a;
  return {
    ...rest,
    id: `${a.id}-teacher`,
    title: `${a.title}, from the teacher`,
    finding: fromTeacher
      ? fromTeacher.finding
      : `${a.finding} Here every run distils from the shipped teacher (${t.label}): the student starts from its weights and v comes from the teacher, not from x − ε.`,
    stopAt: fromTeacher?.stopAt ?? a.stopAt,
    runs: (fromTeacher?.runs ?? a.runs).map((r) => ({ ...r, overrides: { ...r.overrides, teacher: t.id, preset: t.preset, dataset: t.dataset } })),
    variantOf: a.id,
  };
}

/** Every preset a link or a button can name: the ablations, their "from the teacher" variants, the distillation demo. */
export const ALL_ABLATIONS: Ablation[] = [...ABLATIONS, ...ABLATIONS.map(teacherVariant), DISTIL_PRESET];
export const ABLATION_IDS = ALL_ABLATIONS.map((a) => a.id);
export const findAblation = (id: string): Ablation | undefined => ALL_ABLATIONS.find((x) => x.id === id);

/** The runs of an ablation on top of a base config: its model, data and optimizer; objective knobs reset to defaults first. */
export function ablationRuns(id: string, base: Config): { name: string; config: Config }[] {
  const a = findAblation(id);
  if (!a) return [];
  const dBase = defaults(base.preset);
  const view = Object.fromEntries(Object.entries(a.view ?? {}).filter(([k]) => base[k as keyof Config] === dBase[k as keyof Config]));
  return a.runs.map((r) => {
    // A run on another preset than the base's starts from that preset's settings (a points run's
    // batch, t sampler); the objective knobs always start from the run's preset defaults, and the
    // run trains from scratch unless the preset names a teacher.
    const preset = r.overrides.preset ?? base.preset;
    const d = defaults(preset);
    const carried = preset === base.preset ? {} : { ...presetDefaults(preset), dataset: d.dataset };
    const knobs = { ...Object.fromEntries((['objective', ...OBJECTIVE_KNOBS] as const).map((k) => [k, d[k]])), teacher: NO_TEACHER };
    const name = r.seedOffset === undefined ? r.name : `${r.name} ${base.seed + r.seedOffset}`;
    return { name, config: { ...base, ...carried, ...knobs, ...view, stopAt: base.stopAt || a.stopAt, ...r.overrides, seed: base.seed + (r.seedOffset ?? 0) } as Config };
  });
}
