// A worker run session on Dawn for tests: every message it posts is kept, and `next` waits for the
// first one (already posted or to come) that satisfies a predicate, with the last messages in the
// timeout's error.

import { acquireDevice } from '../../src/gpu/device';
import { Gpu } from '../../src/gpu/runtime';
import { RunSession, type Host } from '../../src/worker/session';
import type { FromWorker } from '../../src/worker/protocol';

/** `host`: overrides of the host (e.g. a tune store). */
export function sessionHarness(defaultMs = 120_000, host: Partial<Host> = {}) {
  const got: FromWorker[] = [];
  const waiters: { pred: (m: FromWorker) => boolean; resolve: (m: FromWorker) => void }[] = [];
  const session = new RunSession({
    post: (m) => {
      got.push(m);
      for (const w of waiters.splice(0)) (w.pred(m) ? w.resolve(m) : waiters.push(w));
    },
    openGpu: async () => new Gpu(await acquireDevice()),
    ...host,
  });
  const next = <T extends FromWorker>(pred: (m: FromWorker) => boolean, ms = defaultMs): Promise<T> =>
    new Promise((resolve, reject) => {
      const found = got.find(pred);
      if (found) return resolve(found as T);
      const timer = setTimeout(() => reject(new Error(`timed out; last messages: ${got.slice(-5).map((m) => JSON.stringify(m).slice(0, 200)).join('\n')}`)), ms);
      waiters.push({ pred, resolve: (m) => (clearTimeout(timer), resolve(m as T)) });
    });
  return { session, got, next, clear: () => got.splice(0) };
}
