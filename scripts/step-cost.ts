// Where a training step's time goes, as figures that survive a shared machine (the measurement is
// scripts/step-cost-core.ts; its header says what each figure is):
//   npm run step-cost -- [--preset points] [--batch 128] [--objective facm,fm] [--steps 40] [--record 30] [--tune] [--browser]
// --browser runs the same measurement in headless Chromium (Debian's, on its WebGPU adapter: SwiftShader
// here) from a page served by Vite's dev server, after the Node run, so the two lines of each
// objective compare Dawn in Node with the browser's WebGPU on the same machine at the same minute.
// --tune autotunes first, as the playground's worker does on a first visit (its 3 s budget).

import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { acquireDevice, describeAdapter } from '../src/gpu/device';
import { Gpu } from '../src/gpu/runtime';
import { measureStepCost, type StepCostOpts } from './step-cost-core';

const { values: opt } = parseArgs({
  options: {
    preset: { type: 'string', default: 'points' },
    batch: { type: 'string', default: '128' },
    objective: { type: 'string', default: 'facm,fm' },
    steps: { type: 'string', default: '40' },
    record: { type: 'string', default: '30' },
    tune: { type: 'boolean', default: false },
    browser: { type: 'boolean', default: false },
  },
});

const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');

async function inNode(o: StepCostOpts): Promise<void> {
  const gpu = new Gpu(await acquireDevice());
  console.log(`# Node: ${describeAdapter(gpu.report)}; ${cpus().length} CPUs, load average ${load()}`);
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  await measureStepCost(gpu, { ...o, cpuMs }, (line) => console.log(line));
  gpu.destroy();
}

async function inChromium(o: StepCostOpts): Promise<void> {
  // Loaded here so a Node-only run needs neither Vite nor a browser.
  const { createServer } = await import('vite');
  const { chromiumMissing, launchChromium } = await import('./e2e-helpers');
  const missing = chromiumMissing();
  if (missing) throw new Error(`step-cost --browser: ${missing}`);
  const server = await createServer({ configFile: 'vite.config.ts', logLevel: 'warn', server: { host: '127.0.0.1', port: 0 } });
  await server.listen();
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => m.text().startsWith('step-cost: ') && console.log(m.text().slice('step-cost: '.length)));
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    const q = new URLSearchParams({ preset: o.preset, batch: String(o.batch), objective: o.objectives.join(','), steps: String(o.steps), record: String(o.record), tune: o.tune ? '1' : '0' });
    console.log(`# Chromium (load average ${load()}):`);
    await page.goto(`${server.resolvedUrls!.local[0]}scripts/step-cost.html?${q}`);
    await page.waitForFunction(() => (window as unknown as { stepCostDone?: boolean }).stepCostDone, null, { timeout: 0, polling: 500 });
  } finally {
    await browser.close();
    await server.close();
  }
}

async function main(): Promise<void> {
  const o: StepCostOpts = { preset: opt.preset, batch: Number(opt.batch), objectives: opt.objective.split(','), steps: Number(opt.steps), record: Number(opt.record), tune: opt.tune };
  console.log(`# step cost: ${o.preset}, batch ${o.batch}, ${o.steps} steps${o.tune ? ', autotuned first' : ''}`);
  await inNode(o);
  if (opt.browser) await inChromium(o);
  console.log(`load average after: ${load()}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
