// The CLI codec: every declared key is a flag (lambdaFM → --lambda-fm), parsed and refused with
// the same rules and messages as the URL; a command adds its own options (--steps, --out, ...)
// declared the same way, and `--help` lists both with their ranges and defaults.
// Forms: `--key value`, `--key=value`; a switch also as `--key` (on) and `--no-key` (off).
// Options follow the command; every word after a flag is that flag's value.

import { defaults, KEY_NAMES, KEYS, settlePresetDefaults, specOf, type Config, type Key } from './keys';
import { PRESETS } from '../model/config';
import { describeRange, flagOf, formatValue, parseValue, type KeySpec } from './spec';

/** A command's own option: a typed value like a key, or free text (a path, a list). */
export type OptionSpec = KeySpec | { kind: 'text'; why: string; default?: string };
export const text = (why: string, d?: string): OptionSpec => ({ kind: 'text', why, default: d });

export interface CliParse {
  positionals: string[];
  /** The defaults (with the settings the named preset carries) and every key given on the command line. */
  config: Config;
  /** The keys given on the command line. */
  given: Set<Key>;
  /** The command's options given on the command line. */
  givenOpts: Set<string>;
  /** The command's options: given or their defaults (undefined when neither). */
  opts: Record<string, string | number | boolean | undefined>;
  /** --dataset named something other than a built-in (a folder, files): the CLI reads it. */
  datasetPath: string | null;
}

export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Parses argv against the key table and a command's options. Throws CliError naming the flag. */
export function parseCli(argv: readonly string[], options: Record<string, OptionSpec> = {}): CliParse {
  const byFlag = new Map<string, { key?: Key; opt?: string; spec: OptionSpec }>();
  for (const k of KEY_NAMES) byFlag.set(flagOf(k), { key: k, spec: specOf(k) });
  for (const [name, spec] of Object.entries(options)) byFlag.set(name, { opt: name, spec });
  const config = defaults();
  const given = new Set<Key>();
  const givenOpts = new Set<string>();
  const opts: CliParse['opts'] = Object.fromEntries(Object.entries(options).map(([n, s]) => [n, s.default]));
  const positionals: string[] = [];
  let datasetPath: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    let name = a.slice(2);
    let raw: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) [name, raw] = [name.slice(0, eq), name.slice(eq + 1)];
    let entry = byFlag.get(name);
    if (!entry && name.startsWith('no-') && raw === undefined) {
      const e = byFlag.get(name.slice(3));
      if (e?.spec.kind === 'bool') [entry, raw] = [e, 'off'];
    }
    if (!entry) throw new CliError(`unknown option --${name} (see --help)`);
    if (raw === undefined) {
      const next = argv[i + 1];
      if (entry.spec.kind === 'bool') raw = next !== undefined && !next.startsWith('--') ? argv[++i] : 'on';
      else if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new CliError(`--${name} needs a value: ${rangeOf(entry.spec)}`);
      else raw = argv[++i];
    }
    const spec = entry.spec;
    if (entry.key === 'dataset' && !(KEYS.dataset.values as readonly string[]).includes(raw)) {
      datasetPath = raw; // not a built-in: files or a folder, read by the command
      given.add('dataset');
      continue;
    }
    const v = spec.kind === 'text' ? raw : parseValue(spec, raw);
    if (v instanceof Error) throw new CliError(`--${name} ${raw}: ${v.message}`);
    if (entry.key) {
      (config as Record<string, unknown>)[entry.key] = v;
      given.add(entry.key);
    } else {
      opts[entry.opt!] = v;
      givenOpts.add(entry.opt!);
    }
  }
  settlePresetDefaults(config, given);
  return { positionals, config, given, givenOpts, opts, datasetPath };
}

const rangeOf = (s: OptionSpec): string => (s.kind === 'text' ? 'text' : describeRange(s));

function line(flag: string, s: OptionSpec): string {
  const d = s.default === undefined ? '' : ` (default ${s.kind === 'text' ? s.default : formatValue(s, s.default)})`;
  const range = s.kind === 'text' ? '' : s.kind === 'choice' ? ` {${s.values.join('|')}}` : s.kind === 'bool' ? ' [on|off]' : ` <${s.kind === 'int' ? 'int' : 'number'} in ${s.min}..${s.max}>`;
  return `  --${flag}${range}${d}\n      ${s.why}`;
}

/** `--help` text: the command's options, then every key of the table with its range and default. */
export function helpText(options: Record<string, OptionSpec> = {}, keys: readonly Key[] = KEY_NAMES, datasetNote = ''): string {
  const out: string[] = [];
  if (Object.keys(options).length) out.push('command options:', ...Object.entries(options).map(([n, s]) => line(n, s)));
  out.push('settings (the same keys as the playground URL):');
  for (const k of keys.filter((k) => !(flagOf(k) in options))) {
    const carried = Object.values(PRESETS).filter((p) => p.defaults && k in p.defaults).map((p) => `${p.name} preset: ${formatValue(specOf(k), p.defaults![k as keyof typeof p.defaults])}`);
    out.push(line(flagOf(k), specOf(k)) + (k === 'dataset' && datasetNote ? `\n      ${datasetNote}` : '') + (carried.length ? `\n      default under the ${carried.join('; ')}` : ''));
  }
  return out.join('\n');
}
