// Where a training step's time goes, as figures that survive a shared machine:
//   npm run step-cost -- [--preset points] [--batch 128] [--objective facm,fm] [--steps 40] [--record 30]
// Per objective: dispatches, compute passes and submits per step; steps/s with steps queued back to
// back as the CLI's `train` runs them (wall time: moves with the machine's load); the process's CPU
// time per step (JavaScript + Dawn + SwiftShader's worker threads, all in this process: far less
// sensitive to other jobs than wall time); and the time to record + submit one step with the queue
// idle, as wall time and as the process's CPU time (medians of --record steps, and the fastest: the
// nearest to a quiet machine's figure on a loaded one). Last, the floor under
// that: the same number of empty dispatches recorded and submitted straight through WebGPU (one
// pipeline, one bind group with a dynamic offset each, one pass, one submit): what Dawn itself
// costs per dispatch, none of it ours.

import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { acquireDevice, describeAdapter } from '../src/gpu/device';
import { Gpu } from '../src/gpu/runtime';
import { PRESETS } from '../src/model/config';
import { objectiveConfig, trainDefaults } from '../src/config/keys';
import { median, timingData } from '../src/cli/benchUtil';
import { Trainer } from '../src/train/trainer';

const { values: opt } = parseArgs({
  options: {
    preset: { type: 'string', default: 'points' },
    batch: { type: 'string', default: '128' },
    objective: { type: 'string', default: 'facm,fm' },
    steps: { type: 'string', default: '40' },
    record: { type: 'string', default: '30' },
  },
});

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};


async function main(): Promise<void> {
  const preset = PRESETS[opt.preset];
  if (!preset) throw new Error(`step-cost: no preset '${opt.preset}' (have ${Object.keys(PRESETS).join(', ')})`);
  const B = Number(opt.batch);
  const steps = Number(opt.steps);
  const gpu = new Gpu(await acquireDevice());
  const cfg = { ...preset.config, numClasses: 0, useR: false };
  const data = timingData(cfg, 1024);
  console.log(`# step cost: ${opt.preset}, batch ${B}, ${steps} steps; ${describeAdapter(gpu.report)}; ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const name of opt.objective.split(',')) {
    const trainer = new Trainer(gpu, { ...trainDefaults(), model: cfg, objective: objectiveConfig(name as 'fm'), batch: B }, data);
    for (let i = 0; i < 3; i++) await trainer.stepOnce();
    await gpu.sync();
    // Recording with the queue idle: wall and CPU time of stepOnce alone.
    const recWall: number[] = [];
    const recCpu: number[] = [];
    const c0 = [gpu.dispatchCount, gpu.passCount, gpu.submitCount];
    for (let i = 0; i < Number(opt.record); i++) {
      const w0 = performance.now();
      const u0 = cpuMs();
      await trainer.stepOnce();
      recCpu.push(cpuMs() - u0);
      recWall.push(performance.now() - w0);
      await gpu.sync();
    }
    const n = recWall.length;
    const per = [gpu.dispatchCount - c0[0], gpu.passCount - c0[1], gpu.submitCount - c0[2]].map((x) => x / n);
    // Steps back to back (the CLI's loop): the GPU runs behind; one sync at the end.
    const w0 = performance.now();
    const u0 = cpuMs();
    for (let i = 0; i < steps; i++) await trainer.stepOnce();
    await gpu.sync();
    const wall = performance.now() - w0;
    const cpu = cpuMs() - u0;
    await trainer.drain();
    console.log(
      `${name.padEnd(5)} ${per[0]} dispatches, ${per[1]} passes, ${per[2]} submit(s) per step | ` +
        `${((1000 * steps) / wall).toFixed(2)} steps/s (wall ${(wall / steps).toFixed(1)} ms/step), CPU ${(cpu / steps).toFixed(1)} ms/step | ` +
        `record: wall ${median(recWall).toFixed(2)} ms, CPU ${median(recCpu).toFixed(2)} ms (medians of ${n}; fastest ${Math.min(...recWall).toFixed(2)} / ${Math.min(...recCpu).toFixed(2)})`,
    );
    trainer.dispose();
    const floor = await emptyDispatches(gpu, per[0], Number(opt.record));
    console.log(`      ${per[0]} empty dispatches straight through WebGPU: record + submit wall ${floor.wall.toFixed(2)} ms, CPU ${floor.cpu.toFixed(2)} ms (medians of ${floor.n}; fastest ${floor.fastWall.toFixed(2)} / ${floor.fastCpu.toFixed(2)})`);
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  gpu.destroy();
}

/** Median wall and CPU ms to record and submit `n` empty dispatches with the raw WebGPU API, the queue idle. */
async function emptyDispatches(gpu: Gpu, n: number, reps: number): Promise<{ wall: number; cpu: number; fastWall: number; fastCpu: number; n: number }> {
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
  const cpu: number[] = [];
  for (let r = 0; r < reps + 2; r++) {
    const w0 = performance.now();
    const u0 = cpuMs();
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
      cpu.push(cpuMs() - u0);
      wall.push(performance.now() - w0);
    }
    await gpu.settle(device.queue.onSubmittedWorkDone());
  }
  uniforms.destroy();
  out.destroy();
  return { wall: median(wall), cpu: median(cpu), fastWall: Math.min(...wall), fastCpu: Math.min(...cpu), n: wall.length };
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
