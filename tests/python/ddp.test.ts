// Multi-process training: `torchrun --nproc_per_node=2` (through facm_bridge.torchrun, which fixes
// torch 1.13's launcher on Python ≥ 3.11) trains 50 steps of `tiny` with DistributedDataParallel on
// gloo (two CPU processes, each computing half of every batch). The run equals the one-process run
// (same seed: the same batches, noise and averaged gradient), and its checkpoint (written by rank 0)
// opens and samples in the Node CLI.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/train/checkpoint';
import { PRESETS } from '../../src/model/config';
import { facm, metrics, needTorch, py } from './bridge';

const dir = mkdtempSync(join(tmpdir(), 'facm-ddp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('python bridge: torchrun with 2 CPU processes on gloo trains 50 steps of tiny; the checkpoint opens in Node', needTorch, () => {
  const ddp = join(dir, 'ddp');
  const one = join(dir, 'one');
  const args = ['--preset', 'tiny', '--objective', 'facm', '--dataset', 'blobs8', '--steps', '50', '--batch', '8', '--device', 'cpu', '--log-every', '25'];
  const port = String(29500 + (process.pid % 400));
  let r = py('facm_bridge.torchrun', ['--nproc_per_node=2', `--master_port=${port}`, '-m', 'facm_bridge.train', ...args, '--out', ddp]);
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out + r.err, /over 2 process\(es\)/);
  r = py('facm_bridge.train', [...args, '--out', one]);
  assert.equal(r.code, 0, r.err);

  const a = metrics(ddp);
  const b = metrics(one);
  assert.deepEqual(a.map((m) => m.step), Array.from({ length: 50 }, (_, i) => i + 1));
  let worst = 0;
  for (let i = 0; i < 50; i++) worst = Math.max(worst, Math.abs(a[i].loss - b[i].loss) / Math.abs(b[i].loss));
  console.log(`2 processes vs 1: worst relative loss difference over 50 steps ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-3, `the 2-process run drifts from the 1-process run: ${worst}`);

  const file = join(ddp, 'checkpoint.safetensors');
  const st = loadCheckpoint(new Uint8Array(readFileSync(file)));
  assert.equal(st.step, 50);
  assert.deepEqual(st.model, PRESETS.tiny.config);
  assert.ok(st.ema && st.m && st.v, 'EMA and optimizer state written');
  const png = join(dir, 'grid.png');
  const s = facm('sample', '--ckpt', file, '--nfe', '2', '--n', '4', '--ema', '--out', png);
  assert.equal(s.code, 0, s.err);
  assert.match(s.out, /wrote .*grid\.png: 4 samples, NFE 2, EMA weights, step 50/);
  assert.ok(existsSync(png));
});
