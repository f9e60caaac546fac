// The 2-D probes (trajectories, fields with the JVP residual) on the GPU vs the f64 DiT, the Euler
// path's end and the jump vs the samplers, and dF/dt vs central differences along (v, 1).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PRESETS } from '../../src/model/config';
import { initParams } from '../../src/model/params';
import { fields, grid2d, interpolate, trajectories } from '../../src/objectives/probe2d';
import { sampleConsistency, sampleEuler } from '../../src/objectives/samplers';
import { Rng } from '../../src/util/rng';
import { expectClose } from '../helpers/close';
import { gpuForFile } from '../helpers/gpu';
import { cpuParams, gpuParams, models } from '../helpers/model';

const gpu = gpuForFile();
const cfg = { ...PRESETS.points.config, D: 32, heads: 2 };

test('2-D probes: GPU = f64 reference; Euler end and jump = the samplers; dF/dt = central differences; g as defined', async () => {
  const g = await gpu();
  const { table, cpu, gpu: gm } = models(g, cfg);
  const flat = initParams(table, 3, 0.2);
  const Pc = cpuParams(table, flat).P;
  const Pg = gpuParams(g, table, flat, 'params').P;
  const z = new Rng(9).normals(2 * 6);

  const tc = await trajectories(cpu.be, cpu, Pc, z, { eulerSteps: 4, renoiseSeed: 5 });
  const tg = await trajectories(gm.be, gm, Pg, z, { eulerSteps: 4, renoiseSeed: 5 });
  expectClose('Euler path (GPU vs f64)', tg.euler, tc.euler, { rtol: 2e-4, atol: 1e-5 });
  expectClose('jump (GPU vs f64)', tg.jump, tc.jump, { rtol: 2e-4, atol: 1e-5 });
  expectClose('NFE-2 end (GPU vs f64)', tg.nfe2.end2, tc.nfe2.end2, { rtol: 2e-4, atol: 1e-5 });
  assert.deepEqual(Array.from(tc.euler.subarray(0, 12)), Array.from(z), 'the path starts at the noise');
  const eul = await sampleEuler(cpu.be, cpu, Pc, z, 6, 4, { branch: 'fm' });
  expectClose('Euler end = sampleEuler', tc.euler.subarray(4 * 12), eul, { rtol: 1e-6, atol: 1e-7 });
  const one = await sampleConsistency(cpu.be, cpu, Pc, z, 6, 1, new Rng(0));
  expectClose('jump = NFE-1 sample', tc.jump, one, { rtol: 1e-6, atol: 1e-7 });
  const two = await sampleConsistency(cpu.be, cpu, Pc, z, 6, 2, new Rng(5));
  expectClose('NFE-2 end = NFE-2 sample (same re-noising stream)', tc.nfe2.end2, two, { rtol: 1e-6, atol: 1e-7 });

  const t = 0.3;
  const fc = await fields(cpu.be, cpu, Pc, t, { size: 4, extent: 2 });
  const fg = await fields(gm.be, gm, Pg, t, { size: 4, extent: 2 });
  for (const k of ['v', 'F', 'dFdt', 'g'] as const) expectClose(`${k} (GPU vs f64)`, fg[k], fc[k], { rtol: 5e-4, atol: 1e-5 });
  const pts = grid2d(4, 2);
  assert.deepEqual([pts[0], pts[1], pts[6], pts[7], pts[30], pts[31]], [-2, -2, 2, -2, 2, 2]);
  // dF/dt along (v, 1) by central differences of F(x + h·v, t + h).
  const h = 1e-5;
  const n = 16;
  const at = (s: number) => cpu.forward(Pc, { x: Float64Array.from(pts, (p, i) => p + s * h * fc.v[i]), c: new Float64Array(n).fill(t + s * h) }, n);
  const Fp = at(1);
  const Fm = at(-1);
  expectClose('dF/dt vs central differences', fc.dFdt, Fp.map((p, i) => (p - Fm[i]) / (2 * h)), { rtol: 1e-4, atol: 1e-6 });
  const vRef = cpu.forward(Pc, { x: Float64Array.from(pts), c: new Float64Array(n).fill(2 - t) }, n);
  expectClose('v = F(x, 2 − t)', fc.v, vRef, { rtol: 1e-6, atol: 1e-7 });
  expectClose('g = F − (v + (1 − t)·dF/dt)', fc.g, Array.from(fc.F, (f, i) => f - (fc.v[i] + (1 - t) * fc.dFdt[i])), { rtol: 1e-6, atol: 1e-7 });
  for (let k = 0; k < n; k++) assert.equal(fc.gMax[k], Math.max(Math.abs(fc.g[2 * k]), Math.abs(fc.g[2 * k + 1])));
  assert.deepEqual(Array.from(interpolate(Float32Array.of(1, 2), Float32Array.of(3, -1), 0.25)), [0.25 + 2.25, 0.5 - 0.75]);
  g.checkErrors();
});

test('2-D probes refuse an image model and a t outside [0, 1]', async () => {
  const g = await gpu();
  const { table, cpu } = models(g, PRESETS.tiny.config);
  const Pc = cpuParams(table, initParams(table, 0)).P;
  await assert.rejects(trajectories(cpu.be, cpu, Pc, new Float32Array(4)), /need a point model \(C 2, H 1, W 1\), got 3×8×8/);
  const p = models(g, cfg);
  await assert.rejects(fields(p.cpu.be, p.cpu, cpuParams(p.table, initParams(p.table, 0)).P, 1.5), /t must be in \[0, 1\], got 1.5/);
});
