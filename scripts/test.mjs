#!/usr/bin/env node
// Runs every tests/**/*.test.ts with node's built-in test runner (TypeScript through tsx, WGSL
// through scripts/wgsl-loader.mjs). Without a GPU, Dawn runs on SwiftShader (see src/gpu/device.ts).
// Usage: npm test [-- filter-substring ...]
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const filters = process.argv.slice(2);
const files = [];
const walk = (dir) => {
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.test.ts') && (filters.length === 0 || filters.some((x) => p.includes(x)))) files.push(p);
  }
};
walk('tests');
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const env = { ...process.env };
if (!env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = '/tmp'; // Dawn's Vulkan loader warns without one
const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!env.VK_ICD_FILENAMES && existsSync(icd) && !existsSync('/dev/nvidia0')) env.VK_ICD_FILENAMES = icd;
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
process.exit(r.status ?? 1);
