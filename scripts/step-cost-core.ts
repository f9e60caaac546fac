// The measurement behind `npm run step-cost`, shared by Node (scripts/step-cost.ts) and the page it
// opens in headless Chromium with --browser (scripts/step-cost.html): no Node imports here. Per
// objective: dispatches, compute passes and submits per step; steps/s with steps queued back to back
// as `train` and the playground's worker run them (wall time: moves with the machine's load); the
// CPU time per step where the host can tell (Node: the whole process, JavaScript + Dawn +
// SwiftShader's threads; the page cannot); the time to record + submit one step with the queue idle
// (medians of `record` steps, and the fastest). Last, the floor under that: the same number of empty
// dispatches recorded and submitted straight through WebGPU (one pipeline, one bind group with a
// dynamic offset each, one pass, one submit): what WebGPU itself costs per dispatch, none of it ours.

import type { Gpu } from '../src/gpu/runtime';
import { PRESETS } from '../src/model/config';
import { objectiveConfig, trainDefaults } from '../src/config/keys';
import { median, timingData } from '../src/cli/benchUtil';
import type { TuneRecord } from '../src/ops/tune';
import { RunTuner } from '../src/worker/tune';
import { needsR } from '../src/objectives/table';
import { Trainer } from '../src/train/trainer';

export interface StepCostOpts {
  preset: string;
  batch: number;
  objectives: string[];
  steps: number;
  record: number;
  /** Autotune first as the playground's worker does on a first visit (its RunTuner, its budget, an empty cache); else the rule's variants. */
  tune?: boolean;
  /** The host's CPU clock in ms (Node: process.cpuUsage), if it has one. */
  cpuMs?: () => number;
}

export async function measureStepCost(gpu: Gpu, o: StepCostOpts, log: (line: string) => void): Promise<void> {
  const preset = PRESETS[o.preset];
  if (!preset) throw new Error(`step-cost: no preset '${o.preset}' (have ${Object.keys(PRESETS).join(', ')})`);
  const cfg = { ...preset.config, numClasses: 0, useR: false };
  const data = timingData(cfg, 1024);
  const cpu = o.cpuMs ?? (() => NaN);
  const ms = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(1));
  if (o.tune) {
    let kept: TuneRecord | null = null;
    const store = { load: async () => kept, save: async (x: TuneRecord) => void (kept = x) };
    const v = await new RunTuner(store, () => {}).apply(gpu, cfg, o.batch);
    const timed = v.rows.filter((c) => c.from === 'tuned');
    log(`tuned ${v.timed - v.skipped} of ${v.timed} shapes in ${(v.ms / 1000).toFixed(1)} s${v.note ? ` (${v.note})` : ''}; chosen by timing: ${timed.map((c) => `${c.layer} ${c.shape} ${c.variant}`).join(', ') || 'none (the rule everywhere)'}`);
  }
  for (const name of o.objectives) {
    const objective = objectiveConfig(name as 'fm');
    // MeanFlow's model takes a second time (r) condition: the same preset with useR.
    const model = { ...cfg, useR: needsR(objective) };
    const trainer = new Trainer(gpu, { ...trainDefaults(), model, objective, batch: o.batch }, data);
    for (let i = 0; i < 3; i++) await trainer.stepOnce();
    await gpu.sync();
    // Recording with the queue idle: wall and CPU time of stepOnce alone.
    const recWall: number[] = [];
    const recCpu: number[] = [];
    const c0 = [gpu.dispatchCount, gpu.passCount, gpu.submitCount];
    for (let i = 0; i < o.record; i++) {
      const w0 = performance.now();
      const u0 = cpu();
      await trainer.stepOnce();
      recCpu.push(cpu() - u0);
      recWall.push(performance.now() - w0);
      await gpu.sync();
    }
    const n = recWall.length;
    const per = [gpu.dispatchCount - c0[0], gpu.passCount - c0[1], gpu.submitCount - c0[2]].map((x) => x / n);
    // Steps back to back (the CLI's loop): the GPU runs behind; one sync at the end.
    const w0 = performance.now();
    const u0 = cpu();
    for (let i = 0; i < o.steps; i++) await trainer.stepOnce();
    await gpu.sync();
    const wall = performance.now() - w0;
    const used = cpu() - u0;
    await trainer.drain();
    log(
      `${name.padEnd(5)} ${per[0]} dispatches, ${per[1]} passes, ${per[2]} submit(s) per step | ` +
        `${((1000 * o.steps) / wall).toFixed(2)} steps/s (wall ${(wall / o.steps).toFixed(1)} ms/step), CPU ${ms(used / o.steps)} ms/step | ` +
        `record: wall ${median(recWall).toFixed(2)} ms, CPU ${ms(median(recCpu))} ms (medians of ${n}; fastest ${Math.min(...recWall).toFixed(2)} / ${ms(Math.min(...recCpu))})`,
    );
    trainer.dispose();
    const floor = await emptyDispatches(gpu, per[0], o.record, cpu);
    log(`      ${per[0]} empty dispatches straight through WebGPU: record + submit wall ${floor.wall.toFixed(2)} ms, CPU ${ms(floor.cpu)} ms (medians of ${floor.n}; fastest ${floor.fastWall.toFixed(2)} / ${ms(floor.fastCpu)})`);
  }
}

/** Median wall and CPU ms to record and submit `n` empty dispatches with the raw WebGPU API, the queue idle. */
async function emptyDispatches(gpu: Gpu, n: number, reps: number, cpu: () => number): Promise<{ wall: number; cpu: number; fastWall: number; fastCpu: number; n: number }> {
  const { device } = gpu;
  const module = device.createShaderModule({
    code: `@group(0) @binding(0) var<uniform> u: vec4u;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(1) fn main() { if (u.x == 12345u) { o[0] = 1.0; } }`,
  });
  const layout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
    ],
  });
  const withLayout = device.createComputePipeline({ layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }), compute: { module, entryPoint: 'main' } });
  const uniforms = device.createBuffer({ size: 256 * n, usage: GPUBufferUsage.UNIFORM });
  const out = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
  const bindGroup = device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer: uniforms, size: 16 } }, { binding: 1, resource: { buffer: out } }] });
  const offset = new Uint32Array(1);
  const wall: number[] = [];
  const used: number[] = [];
  for (let r = 0; r < reps + 2; r++) {
    const w0 = performance.now();
    const u0 = cpu();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(withLayout);
    for (let i = 0; i < n; i++) {
      offset[0] = 256 * i;
      pass.setBindGroup(0, bindGroup, offset, 0, 1);
      pass.dispatchWorkgroups(1);
    }
    pass.end();
    device.queue.submit([enc.finish()]);
    if (r >= 2) {
      used.push(cpu() - u0);
      wall.push(performance.now() - w0);
    }
    await gpu.settle(device.queue.onSubmittedWorkDone());
  }
  uniforms.destroy();
  out.destroy();
  return { wall: median(wall), cpu: median(used), fastWall: Math.min(...wall), fastCpu: Math.min(...used), n: wall.length };
}
