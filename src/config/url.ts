// The URL codec: a config as a query string (only the keys that differ from their defaults, so a
// link stays short and survives a change of defaults), and back. Reading never throws: an unknown
// key or a bad value gives one message and falls back to the default, so a stale or hand-edited
// link still opens a run.

import { CUSTOM_DATASET, defaultDatasetFor, defaultFor, defaults, KEY_NAMES, KEYS, NO_TEACHER, settlePresetDefaults, specOf, UPLOADED_TEACHER, type Config, type Key } from './keys';
import { TEACHERS } from '../data/teachers';
import { formatValue, parseValue } from './spec';

export interface Parsed {
  config: Config;
  /** Ablation preset named in the link ('' for none). */
  ablation: string;
  /** What was wrong with the link, one line each (shown on the page; bad values fall back to defaults). */
  messages: string[];
}

/** Keys in the URL that are not config: routes. */
const ROUTE_KEYS = new Set(['smoke']);

/** One key's value from text, or the message that says why not and what is used instead. */
export function readKey(k: string, raw: string, config: Config): string | null {
  if (!(k in KEYS)) return `unknown setting '${k}'; ignored`;
  const key = k as Key;
  const v = parseValue(specOf(key), raw);
  if (v instanceof Error) return `${key}=${raw}: ${v.message}; using the default ${formatValue(specOf(key), KEYS[key].default)}`;
  (config as Record<string, unknown>)[key] = v;
  return null;
}

/** After reading keys: the dataset follows the preset unless named, and a link cannot carry the user's files. */
export function settleDataset(config: Config, named: boolean, messages: string[]): void {
  if (config.dataset === CUSTOM_DATASET && named) {
    const fallback = defaultDatasetFor(config.preset);
    messages.push(`dataset=${CUSTOM_DATASET}: the link's run used files from its author's disk, which a link cannot carry; drop them here to use them. Using ${fallback} meanwhile`);
    config.dataset = fallback;
  } else if (!named) config.dataset = defaultDatasetFor(config.preset);
}

/** After reading keys: a link cannot carry an uploaded teacher; a shipped one brings its preset and data set unless the link names them. */
export function settleTeacher(config: Config, given: ReadonlySet<string>, messages: string[]): void {
  if (config.teacher === UPLOADED_TEACHER) {
    messages.push(`teacher=${UPLOADED_TEACHER}: the link's run distilled from a checkpoint on its author's disk, which a link cannot carry; upload it here under Distillation. Training from scratch meanwhile`);
    config.teacher = NO_TEACHER;
    return;
  }
  const t = TEACHERS[config.teacher];
  if (!t) return;
  if (!given.has('preset')) config.preset = t.preset;
  if (!given.has('dataset')) config.dataset = t.dataset;
}

/** Reads a config from a query string. `ablationIds` are the valid values of `ablation`. */
export function parseSearch(search: string, ablationIds: readonly string[] = []): Parsed {
  const config = defaults();
  const messages: string[] = [];
  let ablation = '';
  const seen = new Set<string>();
  const given = new Set<string>();
  for (const [k, raw] of new URLSearchParams(search)) {
    if (ROUTE_KEYS.has(k)) continue;
    if (seen.has(k)) messages.push(`'${k}' appears more than once in the link; using the last value`);
    seen.add(k);
    if (k === 'ablation') {
      if (ablationIds.includes(raw)) ablation = raw;
      else messages.push(`ablation=${raw} is not a preset (have ${ablationIds.join(', ')}); ignored`);
      continue;
    }
    const msg = readKey(k, raw, config);
    if (msg) messages.push(msg.replace(/^unknown setting '(.*)'; ignored$/, "unknown setting '$1' in the link; ignored"));
    else given.add(k);
  }
  settleDataset(config, given.has('dataset'), messages);
  settleTeacher(config, given, messages);
  settlePresetDefaults(config, given);
  return { config, ablation, messages };
}

/** The query string for a config: only keys that differ from their defaults (its preset's, where it carries one), in declared order. */
export function toSearch(config: Config, ablation = ''): string {
  const p = new URLSearchParams();
  for (const k of KEY_NAMES) {
    const v = config[k];
    if (k === 'dataset' ? v === defaultDatasetFor(config.preset) : v === defaultFor(k, config.preset)) continue;
    p.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  if (ablation) p.set('ablation', ablation);
  const s = p.toString();
  return s ? `?${s}` : '';
}
