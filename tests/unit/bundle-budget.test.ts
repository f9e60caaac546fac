// The page's JavaScript budget check (scripts/bundle-budget.ts, run by vite.config.ts after each build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { checkBudget, gzippedJs } from '../../scripts/bundle-budget';

test('bundle budget: sums every .js (nested folders too) gzipped and fails above the limit, naming the largest file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'facm-budget-'));
  try {
    await mkdir(join(dir, 'assets'));
    let seed = 1;
    const noise = () => Array.from({ length: 20000 }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), String.fromCharCode(33 + (seed % 90)))).join('');
    const big = `var a = "${noise()}";`;
    const small = 'export const x = 1;\n'.repeat(50);
    await writeFile(join(dir, 'assets', 'big.js'), big);
    await writeFile(join(dir, 'small.js'), small);
    await writeFile(join(dir, 'style.css'), noise()); // not JavaScript: not counted
    const want = gzipSync(big, { level: 9 }).length + gzipSync(small, { level: 9 }).length;
    const r = gzippedJs(dir);
    assert.equal(r.files.length, 2);
    assert.equal(r.total, want);
    assert.equal(checkBudget(dir, want).total, want);
    assert.throws(() => checkBudget(dir, want - 1), /exceeds[\s\S]*assets\/big\.js/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
