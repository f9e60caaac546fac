// The browser side of `npm run step-cost -- --browser`: reads the options from the query string, runs
// the shared measurement (./step-cost-core.ts) on the page's WebGPU device and writes each line to
// the console (which the script relays) and the page; `window.stepCostDone` says it ended.
import { acquireDevice, describeAdapter } from '../src/gpu/device';
import { Gpu } from '../src/gpu/runtime';
import { measureStepCost } from './step-cost-core';

const w = window as unknown as { stepCostDone?: boolean };
const log = (line: string) => {
  console.log(`step-cost: ${line}`);
  document.getElementById('out')!.textContent += `${line}\n`;
};

async function main(): Promise<void> {
  const q = new URLSearchParams(location.search);
  const gpu = new Gpu(await acquireDevice());
  log(`${describeAdapter(gpu.report)}; ${navigator.hardwareConcurrency} CPUs; ${navigator.userAgent.match(/Chrom\w+\/[\d.]+/)?.[0] ?? navigator.userAgent}`);
  await measureStepCost(gpu, {
    preset: q.get('preset')!,
    batch: Number(q.get('batch')),
    objectives: q.get('objective')!.split(','),
    steps: Number(q.get('steps')),
    record: Number(q.get('record')),
    tune: q.get('tune') === '1',
  }, log);
  gpu.destroy();
}

main()
  .catch((e: Error) => log(`error: ${e.message}`))
  .finally(() => (w.stepCostDone = true));
