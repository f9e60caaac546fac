// Helpers for the PyTorch bridge's tests (python/facm_bridge): run Debian's Python with the
// package on its path, run the Node CLI, and decide whether the tests can run at all.
//
// Torch absent: the tests skip with the reason, except under CI (process.env.CI set), where a
// missing torch is a failure (.ci/run installs python3-torch).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PYTHON = process.env.FACM_PYTHON ?? '/usr/bin/python3';
const PKG = resolve('python');

export interface Ran {
  code: number;
  out: string;
  err: string;
}

function torchProbe(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} cannot be run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} has no torch / numpy (${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}); install Debian's python3-torch`;
  return null;
}

const missing = torchProbe();
if (missing && process.env.CI) throw new Error(`the PyTorch bridge tests need torch under CI: ${missing}`);
/** `{ skip: reason }` for node:test when torch is absent (outside CI), else `{}`. */
export const needTorch: { skip?: string } = missing ? { skip: missing } : {};

/** python -m <module> args…, with python/ on PYTHONPATH and one thread per process (the machine is shared). */
export function py(module: string, args: string[], extraEnv: Record<string, string> = {}): Ran {
  const env = { ...process.env, PYTHONPATH: PKG, OMP_NUM_THREADS: '1', ...extraEnv };
  const r = spawnSync(PYTHON, ['-m', module, ...args], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** npm run facm -- args… (the Node CLI on Dawn). */
export function facm(...args: string[]): Ran {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'src/cli/main.ts', ...args], { encoding: 'utf8', env: process.env, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

export interface MetricLine {
  step: number;
  loss: number;
  lossFM: number;
  lossCM: number;
  gradNorm: number;
}

export function metrics(dir: string): MetricLine[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as MetricLine);
}
