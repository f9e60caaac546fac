// The objectives as a declared table, the way src/ops/table.ts declares the op families: what each
// objective is called, which config keys (knobs) change what it does, whether its model needs the
// second time condition r, which branch is its flow-matching anchor (what Euler integrates), and
// how it samples in one step. The UI, the CLI, the worker and the checkpoint code ask this table;
// nothing outside src/objectives tests an objective's name. How each one builds a step is
// `planStep` (objectives.ts), which reads the same knobs.

import type { ObjectiveConfig, ObjectiveKnob } from '../config/keys';

export interface ObjectiveSpec {
  /** Name shown in the page and in messages. */
  label: string;
  /** One line: what it is, for the controls' tooltip and `--help`. */
  why: string;
  /** The config keys this objective reads (the controls show these; config diffs compare these). */
  knobs: readonly ObjectiveKnob[];
  /** Knobs held at a value by definition (CM without anchor is FACM with λ_FM = 0). */
  fixed?: Partial<Pick<ObjectiveConfig, ObjectiveKnob>>;
  /** Does the model take a second time condition r (MeanFlow's, or the auxiliary-interval flag)? */
  needsR(o: ObjectiveConfig): boolean;
  /**
   * The flow-matching branch that Euler integrates, if the objective trains one: 'fm' at c = 2 − t
   * (the extended interval, or a stage-1 teacher), 'cm-time' at c = t with the auxiliary flag.
   */
  anchor(o: ObjectiveConfig): 'fm' | 'cm-time' | null;
  /** One-step sampling: z + F(z, 0) ('cm'), or z + F(z, 0, r = 1) ('meanflow'). */
  oneStep: 'cm' | 'meanflow';
}

const T_SAMPLER = ['tMean', 'tStd'] as const;
const aux = (o: ObjectiveConfig) => o.interval === 'aux';

export const OBJECTIVES = ['fm', 'facm', 'cm-no-anchor', 'scm', 'meanflow'] as const;
export type ObjectiveName = (typeof OBJECTIVES)[number];

export const OBJECTIVE_TABLE: Record<ObjectiveName, ObjectiveSpec> = {
  fm: {
    label: 'FM (teacher)',
    why: 'flow matching only (stage 1): half the batch at c = t, half at c = 2 − t; the teacher FACM distils from',
    knobs: [],
    needsR: () => false,
    anchor: () => 'fm',
    oneStep: 'cm',
  },
  facm: {
    label: 'FACM',
    why: 'the consistency shortcut at c = t anchored by flow matching at c = 2 − t (the paper)',
    knobs: ['lambdaFM', 'interval', 'alpha', 'clamp', ...T_SAMPLER],
    needsR: aux,
    anchor: (o) => (o.lambdaFM > 0 ? (aux(o) ? 'cm-time' : 'fm') : null),
    oneStep: 'cm',
  },
  'cm-no-anchor': {
    label: 'CM, no anchor',
    why: 'FACM with λ_FM = 0: the consistency objective alone, the run expected to collapse',
    knobs: ['interval', 'alpha', 'clamp', ...T_SAMPLER],
    fixed: { lambdaFM: 0 },
    needsR: aux,
    anchor: () => null,
    oneStep: 'cm',
  },
  scm: {
    label: 'sCM-style',
    why: 'continuous-time CM with a warmed-up tangent term and an RMS-normalised (or clamped) residual, no anchor',
    knobs: ['scmWarmup', 'scmNormalise', ...T_SAMPLER],
    needsR: () => false,
    anchor: () => null,
    oneStep: 'cm',
  },
  meanflow: {
    label: 'MeanFlow',
    why: 'average velocity from t to r with a second time condition; flow ratio 0 reproduces its collapse',
    knobs: ['flowRatio', 'meanflowP', ...T_SAMPLER],
    needsR: () => true,
    anchor: () => null,
    oneStep: 'meanflow',
  },
};

export function objectiveSpec(name: ObjectiveName): ObjectiveSpec {
  const s = OBJECTIVE_TABLE[name];
  if (!s) throw new Error(`unknown objective '${name}' (have ${OBJECTIVES.join(', ')})`);
  return s;
}

/** Does this objective's model need the second condition input? */
export const needsR = (o: ObjectiveConfig): boolean => objectiveSpec(o.name).needsR(o);

/** The anchor branch Euler integrates, or null when the objective trains none. */
export const anchorOf = (o: ObjectiveConfig): 'fm' | 'cm-time' | null => objectiveSpec(o.name).anchor(o);
