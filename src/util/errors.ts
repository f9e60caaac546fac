// Error messages about a named file: the name once, then what is wrong, then what to do.

const baseName = (p: string) => p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * `name: what is wrong; what to do`. A message that already starts with the name (or its base
 * name) keeps one copy, and `todo` is added only when the message does not say it already.
 */
export function fileError(name: string, e: unknown, todo?: string): Error {
  let msg = errorMessage(e).trim();
  for (const n of [name, baseName(name)]) while (n && msg.startsWith(`${n}: `)) msg = msg.slice(n.length + 2);
  const text = `${name}: ${msg}`;
  return new Error(todo && !msg.includes(todo) ? `${text.replace(/[.;\s]+$/, '')}. ${todo}` : text);
}
