// Web Worker entry: one training run per worker (see session.ts for why). Messages in and out are
// the typed protocol of protocol.ts; the page never touches this worker's GPU device.

import { workerHost } from './host';
import type { FromWorker, ToWorker } from './protocol';
import { RunSession } from './session';

const scope = self as unknown as DedicatedWorkerGlobalScope;

const session = new RunSession(workerHost(scope));

scope.onmessage = (ev: MessageEvent<ToWorker>) => session.receive(ev.data);
scope.onerror = (ev) => {
  scope.postMessage({ type: 'error', message: `worker: ${String((ev as ErrorEvent).message ?? ev)}`, fatal: false } satisfies FromWorker);
};
