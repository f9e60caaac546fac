// What a declared setting is: its type, default, range, label and a one-line why; and the one
// parser and formatter every codec (URL, checkpoint metadata, CLI flags, the page's fields) uses,
// so a value means the same and is refused with the same message wherever it comes from.

/** 'run' keys define a training run (they go into checkpoints and config diffs); 'view' keys only change what is shown or saved. */
export type Group = 'run' | 'view';

interface Base<T> {
  default: T;
  /** Name shown in the page. */
  label: string;
  /** Why the default is what it is (tensorflow/playground style); the tooltip and `--help` text. */
  why: string;
  group: Group;
  /** An objective knob: shown and compared only for the objectives that read it (src/objectives/table.ts). */
  knob?: true;
  /** Read only by runs of this shape (keys.ts `relevantKeys`): a class-conditional model, or distillation from a class-conditional teacher. */
  needs?: Needs;
}
/** What a run must be for a `needs` key to apply: its model takes class labels; it distils from a teacher that does. */
export type Needs = 'labels' | 'labelled-teacher';
export interface NumSpec extends Base<number> {
  kind: 'int' | 'float';
  min: number;
  max: number;
}
export interface BoolSpec extends Base<boolean> {
  kind: 'bool';
}
export interface ChoiceSpec<V extends string = string> extends Base<V> {
  kind: 'choice';
  values: readonly V[];
  /** Names shown in the page for some values. */
  names?: Readonly<Record<string, string>>;
}
export type KeySpec = NumSpec | BoolSpec | ChoiceSpec;

type Extra = { group?: Group; knob?: true; needs?: Needs };
// The constructors keep `knob: true` in the type, so the table's knob keys can be derived from it.
export const int = <const X extends Extra = {}>(d: number, min: number, max: number, label: string, why: string, x?: X): NumSpec & X =>
  ({ kind: 'int', default: d, min, max, label, why, group: 'run', ...x }) as NumSpec & X;
export const float = <const X extends Extra = {}>(d: number, min: number, max: number, label: string, why: string, x?: X): NumSpec & X =>
  ({ kind: 'float', default: d, min, max, label, why, group: 'run', ...x }) as NumSpec & X;
export const bool = <const X extends Extra = {}>(d: boolean, label: string, why: string, x?: X): BoolSpec & X => ({ kind: 'bool', default: d, label, why, group: 'run', ...x }) as BoolSpec & X;
export const choice = <const V extends string, const X extends Extra & { names?: Record<string, string> } = {}>(d: NoInfer<V>, values: readonly V[], label: string, why: string, x?: X): ChoiceSpec<V> & X =>
  ({ kind: 'choice', default: d, values, label, why, group: 'run', ...x }) as ChoiceSpec<V> & X;

/** The allowed values in words: "an integer in [1, 1024]", "on or off", "one of a, b". */
export function describeRange(s: KeySpec): string {
  if (s.kind === 'bool') return 'on or off (1/0, true/false)';
  if (s.kind === 'choice') return `one of ${s.values.join(', ')}`;
  return `${s.kind === 'int' ? 'an integer' : 'a number'} in [${s.min}, ${s.max}]`;
}

/** One value against its spec: typed, or an Error saying what is allowed. Strings are parsed (URL, flags). */
export function parseValue(s: KeySpec, raw: unknown): string | number | boolean | Error {
  if (s.kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    const t = String(raw).toLowerCase();
    if (['1', 'true', 'on', 'yes'].includes(t)) return true;
    if (['0', 'false', 'off', 'no'].includes(t)) return false;
    return new Error(`must be ${describeRange(s)}`);
  }
  if (s.kind === 'choice') {
    const t = String(raw);
    return typeof raw === 'string' && s.values.includes(t) ? t : new Error(`must be ${describeRange(s)}`);
  }
  const x = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(x) || (s.kind === 'int' && !Number.isInteger(x)) || x < s.min || x > s.max) return new Error(`must be ${describeRange(s)}`);
  return x;
}

/** A value as the page and messages show it: booleans on/off, floats to 6 significant digits. */
export function formatValue(s: KeySpec, v: unknown): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number' && s.kind === 'float') return String(Number(v.toPrecision(6)));
  return String(v);
}

/** camelCase key → its CLI flag: lambdaFM → lambda-fm, onNonFinite → on-non-finite. */
export const flagOf = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
