// What the worker's RunSession is given by its surroundings: how to post a message to the page and
// how to open a WebGPU device. The e2e test build swaps this module for tests/e2e/faulty-host.ts
// (vite.config.ts, mode 'e2e'), which wraps it with the tests' fault injector; the production bundle
// has no fault hook.

import { acquireDevice } from '../gpu/device';
import { Gpu } from '../gpu/runtime';
import type { FromWorker } from './protocol';
import type { Host } from './session';

export function workerHost(scope: DedicatedWorkerGlobalScope): Host {
  return {
    post: (msg: FromWorker, transfer: Transferable[] = []) => scope.postMessage(msg, transfer),
    openGpu: async () => new Gpu(await acquireDevice()),
  };
}
