// Parity: one frozen FACM step and one FM step written by `npm run facm -- dump` (the WebGPU step in
// float32) recomputed by python/facm_bridge in float64: the batch and the random streams, F_cm,
// dF/dt, F_fm, the losses and every parameter gradient within 2e-3 relative (max |py − dump| / max |dump|).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { facm, needTorch, py } from './bridge';

const dir = mkdtempSync(join(tmpdir(), 'facm-parity-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOL = 2e-3;

interface Parity {
  errors: Record<string, number>;
  grads: Record<string, number>;
  worstGrad: string;
}

function parity(objective: string, seed: number, extra: string[] = []): Parity {
  const file = join(dir, `${objective}-${seed}.safetensors`);
  const d = facm('dump', '--preset', 'tiny', '--objective', objective, '--seed', String(seed), '--batch', '4', '--out', file, ...extra);
  assert.equal(d.code, 0, d.err);
  const r = py('facm_bridge.parity', [file, '--json']);
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out) as Parity;
  console.log(`${objective}: ${Object.entries(res.errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')} (worst gradient ${res.worstGrad})`);
  return res;
}

function assertParity(res: Parity): void {
  // Data and random streams: the same Rng and arithmetic, so equal up to an ulp of libm vs V8.
  for (const k of ['in.x', 'in.t', 'in.eps']) assert.ok(res.errors[k] <= 1e-6, `${k}: ${res.errors[k]}`);
  for (const k of ['out.F_cm', 'out.dFdt', 'out.F_fm', 'out.loss', 'out.loss_fm', 'out.loss_cm']) assert.ok(res.errors[k] <= TOL, `${k}: relative error ${res.errors[k]} > ${TOL}`);
  assert.ok(Object.keys(res.grads).length >= 20, 'every parameter gradient compared');
  for (const [k, v] of Object.entries(res.grads)) assert.ok(v <= TOL, `${k}: relative error ${v} > ${TOL}`);
}

test('python bridge: a FACM step (extended interval) matches the WebGPU dump in float64', needTorch, () => {
  assertParity(parity('facm', 0));
});

test('python bridge: an FM (stage-1) step matches the WebGPU dump in float64', needTorch, () => {
  assertParity(parity('fm', 1));
});
