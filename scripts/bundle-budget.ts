// The page's JavaScript budget: every .js file a build writes (page, lazy chunks and the worker),
// gzipped, must stay at or under BUDGET_BYTES. vite.config.ts runs it after each build (so
// `npm run build` and the e2e tests' builds fail above it); `node --import tsx scripts/bundle-budget.ts [dir]`
// checks an existing dist/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import type { Plugin } from 'vite';
import { gzipSync } from 'node:zlib';

export const BUDGET_BYTES = 700 * 1024;

/** Gzipped size of every .js under `dir` (level 9, as a static host would serve it). */
export interface BundleFile {
  file: string;
  bytes: number;
  gzip: number;
}

export function gzippedJs(dir: string): { files: BundleFile[]; total: number } {
  const files: BundleFile[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.js') || p.endsWith('.mjs')) {
        const raw = readFileSync(p);
        files.push({ file: relative(dir, p), bytes: raw.length, gzip: gzipSync(raw, { level: 9 }).length });
      }
    }
  };
  walk(dir);
  return { files, total: files.reduce((s, f) => s + f.gzip, 0) };
}

/** Throws (naming the files, largest first) when the gzipped total exceeds `limit`. */
export function checkBudget(dir: string, limit = BUDGET_BYTES): { files: BundleFile[]; total: number } {
  const r = gzippedJs(dir);
  if (r.files.length === 0) throw new Error(`bundle budget: no JavaScript under ${dir}`);
  if (r.total > limit) {
    const list = [...r.files].sort((a, b) => b.gzip - a.gzip).map((f) => `  ${f.file}: ${(f.gzip / 1024).toFixed(1)} KiB gzipped`);
    throw new Error(`bundle budget: ${(r.total / 1024).toFixed(1)} KiB of gzipped JavaScript exceeds ${(limit / 1024).toFixed(0)} KiB\n${list.join('\n')}`);
  }
  return r;
}

/** Vite plugin: checks the output folder once the bundle is written. */
export function bundleBudget(limit = BUDGET_BYTES): Plugin {
  let outDir = 'dist';
  return {
    name: 'facm-bundle-budget',
    apply: 'build',
    configResolved(cfg) {
      outDir = isAbsolute(cfg.build.outDir) ? cfg.build.outDir : join(cfg.root, cfg.build.outDir);
    },
    closeBundle() {
      const r = checkBudget(outDir, limit);
      this.info(`${(r.total / 1024).toFixed(1)} KiB of gzipped JavaScript in ${r.files.length} files (budget ${(limit / 1024).toFixed(0)} KiB)`);
    },
  };
}

if (process.argv[1]?.endsWith('bundle-budget.ts')) {
  const r = checkBudget(process.argv[2] ?? 'dist');
  for (const f of r.files) console.log(`${f.file}: ${(f.bytes / 1024).toFixed(1)} KiB, ${(f.gzip / 1024).toFixed(1)} KiB gzipped`);
  console.log(`total ${(r.total / 1024).toFixed(1)} KiB gzipped (budget ${(BUDGET_BYTES / 1024).toFixed(0)} KiB)`);
}
