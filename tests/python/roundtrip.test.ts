// Round trip: a run trained 20 steps in Node continues 20 steps in Python and 20 more in Node, and
// is compared with the same 60 steps in Node without hand-overs (same seed, batches and noise: the
// checkpoint carries the data and noise streams, which the bridge draws from the same Rng).
//
// "Without a jump", numerically:
//  - the hand-over state is carried bit for bit: the bridge loading the step-20 file and writing it
//    back (0 steps) gives every tensor (parameters, EMA, AdamW m and v), the step and the streams unchanged;
//  - steps are numbered 1..60 with no gap or repeat;
//  - every loss of steps 21..60 (Python's and Node's after the return) is within 1e-3 relative of
//    the uninterrupted run's loss at that step (float32 on both sides; measured: under 1e-5);
//  - the final EMA weights are within 1e-3 (max abs difference / max abs value) of the uninterrupted run's.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/train/checkpoint';
import { readSafetensors } from '../../src/train/safetensors';
import { facm, metrics, needTorch, py } from './bridge';

const dir = mkdtempSync(join(tmpdir(), 'facm-roundtrip-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// With a learning-rate schedule whose warm-up ends in Node's first leg and whose cosine runs through Python's.
const run = ['train', '--preset', 'tiny', '--objective', 'facm', '--dataset', 'shapes8', '--batch', '8', '--seed', '3', '--log-every', '20', '--lr-warmup', '10', '--lr-decay-steps', '40', '--lr-floor', '0.1'];
const ckpt = (d: string) => new Uint8Array(readFileSync(join(d, 'checkpoint.safetensors')));

test('python bridge: Node 20 steps → Python 20 → Node 20 continues the run without a jump', needTorch, () => {
  const straight = join(dir, 'straight');
  const trip = join(dir, 'trip');
  let r = facm(...run, '--steps', '60', '--out', straight);
  assert.equal(r.code, 0, r.err);
  r = facm(...run, '--steps', '20', '--out', trip);
  assert.equal(r.code, 0, r.err);
  const at20 = ckpt(trip);

  // The hand-over, carried bit for bit.
  const copy = join(dir, 'copy');
  r = py('facm_bridge.train', ['--init', join(trip, 'checkpoint.safetensors'), '--steps', '0', '--out', copy]);
  assert.equal(r.code, 0, r.err);
  const a = readSafetensors(at20);
  const b = readSafetensors(ckpt(copy));
  assert.equal(b.tensors.size, a.tensors.size);
  assert.ok(a.tensors.has('ema.blocks.0.attn.qkv.weight') && a.tensors.has('optim.v.final_layer.linear.weight'));
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name);
    assert.ok(u, `the bridge dropped ${name}`);
    assert.deepEqual(new Uint32Array(u.data.buffer), new Uint32Array(t.data.buffer), `${name} changed in the hand-over`);
  }
  for (const k of ['step', 'config', 'resume']) assert.deepEqual(JSON.parse(b.metadata[k]), JSON.parse(a.metadata[k]), `metadata ${k}`);

  r = py('facm_bridge.train', ['--init', join(trip, 'checkpoint.safetensors'), '--steps', '20', '--out', trip, '--log-every', '20']);
  assert.equal(r.code, 0, r.err);
  assert.equal(loadCheckpoint(ckpt(trip)).step, 40);
  r = facm('train', '--resume', trip, '--steps', '60', '--log-every', '20');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /resuming .* at step 40 of 60/);

  const ref = metrics(straight);
  const got = metrics(trip);
  assert.deepEqual(got.map((m) => m.step), Array.from({ length: 60 }, (_, i) => i + 1));
  let worst = 0;
  for (let i = 20; i < 60; i++) {
    const rel = Math.abs(got[i].loss - ref[i].loss) / Math.abs(ref[i].loss);
    worst = Math.max(worst, rel);
    assert.ok(rel <= 1e-3, `step ${i + 1}: loss ${got[i].loss} after the hand-overs, ${ref[i].loss} without (relative ${rel})`);
  }
  const e1 = loadCheckpoint(ckpt(trip)).ema!;
  const e0 = loadCheckpoint(ckpt(straight)).ema!;
  let d = 0;
  let s = 0;
  for (let i = 0; i < e0.length; i++) {
    d = Math.max(d, Math.abs(e1[i] - e0[i]));
    s = Math.max(s, Math.abs(e0[i]));
  }
  console.log(`hand-over vs uninterrupted: worst loss difference ${worst.toExponential(2)} relative (steps 21-60), EMA ${(d / s).toExponential(2)}`);
  assert.ok(d / s <= 1e-3, `final EMA differs by ${d / s} relative`);
});
