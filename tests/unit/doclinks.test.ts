// Every relative link and image in README.md and docs/*.md must resolve to a file inside this
// repository, so the documentation works in a fresh clone (no links into sibling folders).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** The targets of `[text](target)` and `![alt](target)` in a markdown text, code blocks and spans left out. */
function markdownTargets(md: string): string[] {
  const prose = md.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, 'code');
  const out: string[] = [];
  for (const m of prose.matchAll(/!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]!);
  return out;
}

/** Targets of a file that point nowhere in the repository (external URLs and bare #anchors are skipped). */
function brokenLinks(file: string, repoRoot: string): string[] {
  const bad: string[] = [];
  for (const target of markdownTargets(readFileSync(file, 'utf8'))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    const path = decodeURIComponent(target.split('#')[0]!.split('?')[0]!);
    const abs = isAbsolute(path) ? path : resolve(dirname(file), path);
    const rel = relative(repoRoot, abs);
    if (rel.startsWith('..') || isAbsolute(rel)) bad.push(`${target} (outside the repository)`);
    else if (!existsSync(abs)) bad.push(`${target} (no such file)`);
  }
  return bad;
}

const docs = [join(root, 'README.md'), ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(root, 'docs', f))];

test('markdownTargets finds links and images, not code', () => {
  assert.deepEqual(markdownTargets('see [a](x.md) and ![i](img/p.png "t") and [`c`](d/e.md#s)\n```\n[no](y.md)\n```\n`[no](z)`'), ['x.md', 'img/p.png', 'd/e.md#s']);
});

test('brokenLinks reports a link outside the repository and a missing file, and passes a good one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'doclinks-'));
  try {
    mkdirSync(join(dir, 'repo', 'docs'), { recursive: true });
    writeFileSync(join(dir, 'repo', 'docs', 'here.md'), '');
    writeFileSync(join(dir, 'outside.md'), '');
    const md = join(dir, 'repo', 'README.md');
    writeFileSync(md, '[a](../outside.md) [b](docs/missing.md) [c](docs/here.md#x) [d](https://example.org/x)');
    assert.deepEqual(brokenLinks(md, join(dir, 'repo')), ['../outside.md (outside the repository)', 'docs/missing.md (no such file)']);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

for (const file of docs) {
  test(`every relative link in ${relative(root, file)} resolves inside the repository`, () => {
    assert.deepEqual(brokenLinks(file, root), []);
  });
}
