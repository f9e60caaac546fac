// Per-kernel aggregation of a timestamp profile (Gpu.startProfile / stopProfile: one entry per
// dispatch): dispatches, GPU time and share of the total per kernel label, slowest first. Shared by
// the CLI's `bench --profile` and the playground's profile panel.

import type { ProfileEntry } from './runtime';

export interface KernelTime {
  /** The dispatch label: `module.entry`. */
  label: string;
  dispatches: number;
  /** GPU time summed over the kernel's dispatches (ms). */
  ms: number;
  /** Fraction of the profiled total, in [0, 1]. */
  share: number;
}

export interface ProfileSummary {
  kernels: KernelTime[];
  dispatches: number;
  totalMs: number;
}

export function summarizeProfile(entries: readonly ProfileEntry[]): ProfileSummary {
  const by = new Map<string, { n: number; ms: number }>();
  for (const e of entries) {
    const s = by.get(e.label) ?? { n: 0, ms: 0 };
    s.n++;
    s.ms += e.ms;
    by.set(e.label, s);
  }
  const totalMs = entries.reduce((a, e) => a + e.ms, 0);
  const kernels = [...by.entries()]
    .map(([label, s]) => ({ label, dispatches: s.n, ms: s.ms, share: totalMs > 0 ? s.ms / totalMs : 0 }))
    .sort((a, b) => b.ms - a.ms || a.label.localeCompare(b.label));
  return { kernels, dispatches: entries.length, totalMs };
}
