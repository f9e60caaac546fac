// Memory soak: run a session for many steps and sample the device's live buffers at intervals.
// After warm-up (the pool has met every tensor shape of a step, the checkpoint staging has run)
// the count and bytes must not move: any growth is a leak in the runtime, trainer or session.

import type { StepRecord } from './trainer';
import type { TrainingSession } from './session';

export interface SoakSample {
  step: number;
  buffers: number;
  bytes: number;
  pooledFree: number;
  /** JS heap in bytes, when the caller can measure it (Node: process.memoryUsage). */
  heap: number | null;
  stepsPerSec: number;
}

export interface SoakOptions {
  /** Sample every this many steps. */
  every: number;
  /** Read metrics back every this many steps (as the UI does a few times a second). */
  drainEvery?: number;
  /** Called before step i (1-based), e.g. to inject a fault (tests/helpers/faults.ts). */
  beforeStep?: (i: number) => void;
  heap?: () => number;
  onSample?: (s: SoakSample) => void;
}

export interface SoakResult {
  samples: SoakSample[];
  /** Samples after `warmup` steps all equal in buffers and bytes. */
  flat: boolean;
  message: string;
}

export async function soak(session: TrainingSession, steps: number, opts: SoakOptions): Promise<SoakResult & { records: number }> {
  const samples: SoakSample[] = [];
  let records = 0;
  let t0 = performance.now();
  let s0 = session.step;
  const count = (r: StepRecord[]) => (records += r.length);
  for (let i = 1; i <= steps; i++) {
    opts.beforeStep?.(i);
    count(await session.stepOnce());
    if (opts.drainEvery && i % opts.drainEvery === 0) count(await session.drain());
    if (i % opts.every === 0) {
      count(await session.drain());
      await session.gpu.sync();
      const m = session.gpu.memory();
      const now = performance.now();
      const s: SoakSample = { step: i, buffers: m.buffers, bytes: m.bytes, pooledFree: m.pooledFree, heap: opts.heap?.() ?? null, stepsPerSec: ((i - s0) * 1000) / (now - t0) };
      t0 = now;
      s0 = i;
      samples.push(s);
      opts.onSample?.(s);
    }
  }
  return { ...flatAfter(samples, 0), records };
}

/** Are buffers and bytes constant over the samples taken after `warmupSteps`? */
export function flatAfter(samples: SoakSample[], warmupSteps: number): SoakResult {
  const after = samples.filter((s) => s.step > warmupSteps);
  if (after.length < 2) return { samples, flat: false, message: `need at least 2 samples after step ${warmupSteps}, have ${after.length}` };
  const first = after[0];
  const moved = after.find((s) => s.buffers !== first.buffers || s.bytes !== first.bytes);
  if (moved)
    return {
      samples,
      flat: false,
      message: `live GPU memory moved after warm-up: step ${first.step} had ${first.buffers} buffers / ${first.bytes} bytes, step ${moved.step} has ${moved.buffers} / ${moved.bytes}`,
    };
  return { samples, flat: true, message: `flat from step ${first.step} to ${after[after.length - 1].step}: ${first.buffers} buffers, ${first.bytes} bytes` };
}
