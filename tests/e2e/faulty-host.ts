// The worker's host in the e2e test build (vite.config.ts, mode 'e2e'): the production host with
// its devices and op backend wrapped by the tests' fault injector (tests/helpers/faults.ts). The
// browser tests reach it from Playwright with worker.evaluate (scripts/e2e-helpers.ts `injectFault`):
//   self.__facmFaults.poison()      the next step writes NaN into blocks.0.attn.qkv's output
//   self.__facmFaults.loseDevice()  destroys the run's current device (as a driver reset would)

import { paramTable } from '../../src/model/params';
import { workerHost as productionHost } from '../../src/worker/host';
import type { FromWorker } from '../../src/worker/protocol';
import { modelOf, type Config } from '../../src/config';
import type { Host } from '../../src/worker/session';
import { Faults } from '../helpers/faults';

export function workerHost(scope: DedicatedWorkerGlobalScope): Host {
  const host = productionHost(scope);
  const faults = new Faults();
  let config: Config | null = null; // the built run's, as its 'ready' message reports it
  (scope as unknown as { __facmFaults: unknown }).__facmFaults = {
    poison: () => {
      if (!config) throw new Error('poison: this worker has no run yet');
      faults.poisonNextStep({ table: paramTable(modelOf(config)), cfg: config }, { name: 'blocks.0.attn.qkv', index: 0 });
    },
    loseDevice: () => faults.loseDevice(),
  };
  return {
    post: (msg: FromWorker, transfer?: Transferable[]) => {
      if (msg.type === 'ready') config = msg.info.config;
      host.post(msg, transfer);
    },
    openGpu: async () => faults.track(await host.openGpu()),
    backend: faults.backend,
  };
}
