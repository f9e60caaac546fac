// Controls generated from the declared config keys: a select for a choice, a checkbox for a
// switch, a number field (validated on commit against the key's range) otherwise.

import { useEffect, useState } from 'react';
import { formatKey, parseKey, specOf, type Config, type Key } from '../../config';

export function NumberField({ k, value, onCommit, width = 90, disabled }: { k: Key; value: number; onCommit: (v: number) => void; width?: number; disabled?: boolean }) {
  const [draft, setDraft] = useState(formatKey(k, value));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setDraft(formatKey(k, value));
    setError(null);
  }, [k, value]);
  const commit = () => {
    const v = parseKey(k, draft);
    if (v instanceof Error) setError(v.message);
    else {
      setError(null);
      if (v !== value) onCommit(v as number);
    }
  };
  return (
    <input
      className={error ? 'invalid' : ''}
      data-testid={`cfg-${k}`}
      type="text"
      inputMode="decimal"
      value={draft}
      disabled={disabled}
      title={error ?? specOf(k).why}
      style={{ width }}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => e.key === 'Enter' && commit()}
    />
  );
}

export function ConfigField<K extends Key>({ k, config, onChange, options, disabled, note }: { k: K; config: Config; onChange: (k: K, v: Config[K]) => void; options?: string[]; disabled?: boolean; note?: string }) {
  const spec = specOf(k);
  const value = config[k];
  const names: Readonly<Record<string, string>> = (spec.kind === 'choice' && spec.names) || {};
  let control;
  if (spec.kind === 'choice') {
    control = (
      <select data-testid={`cfg-${k}`} value={String(value)} disabled={disabled} onChange={(e) => onChange(k, e.target.value as Config[K])}>
        {(options ?? spec.values).map((v) => (
          <option key={v} value={v}>
            {names[v] ?? v}
          </option>
        ))}
      </select>
    );
  } else if (spec.kind === 'bool') {
    control = <input type="checkbox" data-testid={`cfg-${k}`} checked={Boolean(value)} disabled={disabled} onChange={(e) => onChange(k, e.target.checked as Config[K])} />;
  } else {
    control = <NumberField k={k} value={value as number} disabled={disabled} onCommit={(v) => onChange(k, v as Config[K])} />;
  }
  return (
    <label className={`field ${spec.kind === 'bool' ? 'bool' : ''}`} title={spec.why}>
      <span className="field-label">{spec.label}</span>
      {control}
      {note && <span className="field-note">{note}</span>}
    </label>
  );
}
