// The worker's run session on Dawn, without a browser: build a tiny run, train until metrics and
// samples arrive, pause (the step counter stops at once), save, reset and load the checkpoint back;
// FD / precision / recall of the samples;
// recover from a destroyed device (and give up after too many); profile one step per kernel.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acquireDevice } from '../../src/gpu/device';
import { Gpu } from '../../src/gpu/runtime';
import { RunSession } from '../../src/worker/session';
import type { FromWorker } from '../../src/worker/protocol';
import { configFromMetadata, defaults, modelOf } from '../../src/config';
import { loadCheckpoint } from '../../src/train/checkpoint';
import { paramTable } from '../../src/model/params';
import { sampleNoise } from '../../src/train/samples';
import { Faults } from '../helpers/faults';
import { sessionHarness } from '../helpers/runSession';

test('run session: train, pause, save, reset, load', { timeout: 240_000 }, async () => {
  const { session, got, next, clear } = sessionHarness();

  const config = { ...defaults(), preset: 'tiny', dataset: 'blobs8', batch: 2, sampleEvery: 2, euler: 1, qualityEvery: 2, qualitySamples: 16 };
  const t0 = performance.now();
  const log = (what: string) => console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  session.receive({ type: 'init', config });
  const ready = await next<Extract<FromWorker, { type: 'ready' }>>((m) => m.type === 'ready');
  assert.equal(ready.info.dataset.name, 'blobs8');
  assert.equal(ready.info.real.N, 16);
  const s0 = await next<Extract<FromWorker, { type: 'samples' }>>((m) => m.type === 'samples');
  assert.equal(s0.samples.step, 0);
  log("first samples");
  assert.ok(s0.samples.euler, 'FACM shows the anchor');
  // At init F ≡ 0 (adaLN-Zero), so the one-step sample x̂ = z + F(z, 0) is the grid's noise itself, bit for bit.
  assert.deepEqual(s0.samples.oneStep.pixels, sampleNoise(config.seed, { C: 3, H: 8, W: 8 }), 'one-step samples at step 0 = the noise');
  assert.notDeepEqual(s0.samples.twoStep.pixels, s0.samples.oneStep.pixels, 'the two-step sampler re-noises');
  // At step 0 the network outputs exactly 0 (adaLN-Zero), so the one-step samples are their noise:
  // their distance to the data is the noise's own, far above held-out real images'.
  const d0 = s0.samples.nearest;
  assert.ok(Math.abs(d0.oneStep - d0.noise) < 1e-6 * d0.noise, `one-step ${d0.oneStep} vs noise ${d0.noise}`);
  assert.ok(d0.real > 0 && d0.real < 0.5 * d0.noise, `held-out real ${d0.real} vs noise ${d0.noise}`);

  session.receive({ type: 'start' });
  await next((m) => m.type === 'samples' && m.samples.step >= 2);
  log("samples at step 2");
  // FD / precision / recall (src/worker/quality.ts) at the first sample refresh ≥ qualityEvery steps in.
  const { quality: q } = await next<Extract<FromWorker, { type: 'quality' }>>((m) => m.type === 'quality');
  log('quality figures');
  assert.ok(q.step >= 2 && q.n === 16, `step ${q.step}, n ${q.n}`);
  for (const f of [q.oneStep, q.twoStep, q.real, q.noise]) assert.ok(Number.isFinite(f.fd) && f.precision >= 0 && f.recall <= 1, JSON.stringify(f));
  assert.ok(q.real.fd < 0.2 * q.noise.fd && q.real.precision > q.noise.precision, `held-out ${JSON.stringify(q.real)} vs noise ${JSON.stringify(q.noise)}`);
  const metrics = got.filter((m): m is Extract<FromWorker, { type: 'metrics' }> => m.type === 'metrics');
  assert.ok(metrics.length > 0);
  const c = metrics[0].chunk;
  assert.ok(Number.isFinite(c.loss[0]) && Number.isFinite(c.lossFM[0]) && Number.isFinite(c.lossCM[0]));
  assert.equal(c.binCount.reduce((a, b) => a + b, 0), 2 * c.n, 'every sample lands in a t bin');

  clear();
  session.receive({ type: 'pause' });
  const paused = got.find((m) => m.type === 'status') as Extract<FromWorker, { type: 'status' }>;
  assert.equal(paused.status.state, 'paused', 'pause is answered synchronously');
  const stepAtPause = paused.status.step;
  await new Promise((r) => setTimeout(r, 3000));
  const later = got.filter((m) => m.type === 'status').at(-1) as Extract<FromWorker, { type: 'status' }>;
  assert.equal(later.status.step, stepAtPause, 'no step after the pause');

  log("paused");
  session.receive({ type: 'save', req: 1 });
  const saved = await next<Extract<FromWorker, { type: 'saved' }>>((m) => m.type === 'saved');
  assert.equal(saved.step, stepAtPause);
  // The run's keys and the dataset as loaded (src/config/metadata.ts): the CLI's `sample` and `--resume` read the same.
  const ck = loadCheckpoint(saved.bytes.slice());
  const meta = configFromMetadata(ck.run, ck.model);
  assert.equal(meta.config.objective, 'facm');
  assert.equal(meta.config.batch, 2);
  assert.equal((ck.run as { dataset: string }).dataset, 'blobs8');

  clear();
  session.receive({ type: 'init', config });
  await next((m) => m.type === 'status' && m.status.state === 'ready' && m.status.step === 0);

  clear();
  session.receive({ type: 'load', req: 2, bytes: saved.bytes, name: 'ck' });
  const loaded = await next<Extract<FromWorker, { type: 'loaded' }>>((m) => m.type === 'loaded' || m.type === 'error');
  assert.equal(loaded.type, 'loaded', JSON.stringify(loaded));
  assert.equal(loaded.step, stepAtPause);
  assert.equal(loaded.config.batch, 2);

  clear();
  session.receive({ type: 'load', req: 3, bytes: new Uint8Array([1, 2, 3]), name: 'junk.safetensors' });
  const bad = await next<Extract<FromWorker, { type: 'error' }>>((m) => m.type === 'error');
  assert.equal(bad.req, 3);
  assert.match(bad.message, /junk\.safetensors/);
  await session.close();
});

test('run session: a poisoned step is a reported collapse, or a rollback under onNonFinite = rollback', { timeout: 180_000 }, async () => {
  for (const policy of ['stop', 'rollback'] as const) {
    const got: FromWorker[] = [];
    let wake: (() => void) | null = null;
    const faults = new Faults();
    const session = new RunSession({ post: (m) => (got.push(m), wake?.()), openGpu: async () => new Gpu(await acquireDevice()), backend: faults.backend });
    const until = async (pred: (m: FromWorker) => boolean) => {
      const end = Date.now() + 120_000;
      while (!got.some(pred)) {
        if (Date.now() > end) throw new Error(`${policy}: timed out; last: ${got.slice(-3).map((m) => JSON.stringify(m).slice(0, 160)).join('\n')}`);
        await new Promise<void>((r) => ((wake = r), setTimeout(r, 500)));
      }
      return got.find(pred)!;
    };
    const config = { ...defaults(), dataset: 'blobs8', batch: 2, euler: 0, onNonFinite: policy };
    session.receive({ type: 'init', config });
    session.receive({ type: 'step', n: 2 });
    await until((m) => m.type === 'status' && m.status.step === 2 && m.status.state === 'paused');
    faults.poisonNextStep({ table: paramTable(modelOf(config)), cfg: config }, { name: 'blocks.0.attn.qkv', index: 0 });
    session.receive({ type: 'step', n: 1 });
    if (policy === 'stop') {
      const c = (await until((m) => m.type === 'collapse')) as Extract<FromWorker, { type: 'collapse' }>;
      assert.equal(c.step, 3);
      assert.match(c.quantity, /L_FM|L_CM|grad norm/);
      assert.ok(!got.some((m) => m.type === 'error'), 'a collapse is not an error');
    } else {
      const r = (await until((m) => m.type === 'rollback')) as Extract<FromWorker, { type: 'rollback' }>;
      assert.equal(r.step, 3);
      assert.equal(r.restoredTo, 0);
      await until((m) => m.type === 'status' && m.status.step === 0);
    }
    await session.close();
  }
});

test('run session: a lost device is recovered from the latest checkpoint and training goes on (a 4th loss within 5 min is fatal); a step is profiled per kernel', { timeout: 240_000 }, async () => {
  const got: FromWorker[] = [];
  let wake: (() => void) | null = null;
  const faults = new Faults();
  const session = new RunSession({ post: (m) => (got.push(m), wake?.()), openGpu: async () => faults.track(new Gpu(await acquireDevice())) });
  const until = async <T extends FromWorker>(what: string, pred: (m: FromWorker) => boolean, ms = 120_000): Promise<T> => {
    const end = Date.now() + ms;
    while (!got.some(pred)) {
      const err = got.find((m) => m.type === 'error' && m.req === undefined);
      if (err) throw new Error(`${what}: ${JSON.stringify(err)}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${got.slice(-4).map((m) => JSON.stringify(m).slice(0, 200)).join('\n')}`);
      await new Promise<void>((r) => ((wake = r), setTimeout(r, 500)));
    }
    return got.find(pred)! as T;
  };
  const status = (m: FromWorker) => (m.type === 'status' ? m.status : null);
  session.receive({ type: 'init', config: { ...defaults(), preset: 'tiny', dataset: 'blobs8', batch: 2, euler: 0, sampleEvery: 1000 } });
  session.receive({ type: 'step', n: 3 });
  await until('3 steps, paused', (m) => status(m)?.step === 3 && status(m)?.state === 'paused');
  assert.equal(faults.opened, 1);

  // Paused at step 3 (the pause is a restore point); train on, then lose the device mid-run.
  got.splice(0);
  session.receive({ type: 'start' });
  await until('step 5', (m) => (status(m)?.step ?? 0) >= 5);
  faults.loseDevice();
  const r = await until<Extract<FromWorker, { type: 'recovered' }>>('the recovery', (m) => m.type === 'recovered' || (m.type === 'error' && m.fatal));
  assert.equal(r.type, 'recovered', JSON.stringify(r));
  assert.equal(r.restoredFrom, 3, 'restored from the checkpoint taken at the pause');
  assert.ok(r.lostAt >= 5, `lost at ${r.lostAt}`);
  assert.equal(r.reason, 'destroyed');
  assert.equal(faults.opened, 2, 'a new device');
  const after = got.indexOf(r);
  assert.equal(status(got.slice(after).find((m) => m.type === 'status')!)?.step, 3, 'the step counter goes back to the checkpoint');
  // Still running: the counter passes the step the device was lost at, with finite metrics.
  await until('training past the loss', (m) => got.indexOf(m) > after && (status(m)?.step ?? 0) > r.lostAt && status(m)?.state === 'running');
  const chunks = got.slice(after).filter((m): m is Extract<FromWorker, { type: 'metrics' }> => m.type === 'metrics');
  assert.ok(chunks.length > 0 && chunks[0].chunk.step[0] === 4, `metrics continue at step 4 (got ${chunks[0]?.chunk.step[0]})`);
  assert.ok(chunks.every((c) => c.chunk.loss.every(Number.isFinite)));
  assert.ok(!got.some((m) => m.type === 'error'), 'no error reported');

  // Profile one step while running: per-kernel GPU time from timestamp queries (Dawn on SwiftShader has them).
  session.receive({ type: 'profile', req: 7 });
  const p = await until<Extract<FromWorker, { type: 'profiled' }>>('the profile', (m) => (m.type === 'profiled' || m.type === 'error') && 'req' in m && m.req === 7);
  assert.equal(p.type, 'profiled', JSON.stringify(p));
  assert.ok(p.profile, `no profile: features ${p.features.join(', ')}`);
  assert.ok(p.profile.kernels.length > 5 && p.profile.totalMs > 0);
  assert.ok(p.profile.kernels.every((k, i, a) => k.dispatches > 0 && (i === 0 || a[i - 1].ms >= k.ms)), 'slowest first');
  assert.equal(p.profile.kernels.reduce((a, k) => a + k.dispatches, 0), p.profile.dispatches);
  assert.ok(Math.abs(p.profile.kernels.reduce((a, k) => a + k.share, 0) - 1) < 1e-9);

  // Losses 2 and 3 are recovered from too; a 4th within the window ends the run with a fatal error.
  for (const attempt of [2, 3]) {
    faults.loseDevice();
    await until(`recovery ${attempt}`, (m) => m.type === 'recovered' && m.attempt === attempt);
  }
  got.splice(0);
  faults.loseDevice();
  const end = Date.now() + 60_000;
  while (!got.some((m) => m.type === 'error') && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  const fatal = got.find((m) => m.type === 'error') as Extract<FromWorker, { type: 'error' }> | undefined;
  assert.ok(fatal?.fatal, JSON.stringify(fatal));
  assert.match(fatal.message, /lost 4 times within 300 s; giving up/);
  assert.equal(faults.opened, 4, 'no 5th device');
  await session.close();
});

test('run session: the step cap stops training at its step, with samples at multiples of sampleEvery and at the cap', { timeout: 240_000 }, async () => {
  const got: FromWorker[] = [];
  let wake: (() => void) | null = null;
  const session = new RunSession({ post: (m) => (got.push(m), wake?.()), openGpu: async () => new Gpu(await acquireDevice()) });
  const until = async (pred: () => boolean, ms = 120_000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out; last: ${got.slice(-4).map((m) => JSON.stringify(m).slice(0, 160)).join('\n')}`);
      await new Promise<void>((r) => ((wake = r), setTimeout(r, 200)));
    }
  };
  const statuses = () => got.filter((m): m is Extract<FromWorker, { type: 'status' }> => m.type === 'status');
  try {
    session.receive({ type: 'init', config: { ...defaults(), preset: 'tiny', dataset: 'blobs8', batch: 2, euler: 0, sampleEvery: 2, stopAt: 5, autosaveEvery: 0 } });
    await until(() => got.some((m) => m.type === 'ready'));
    session.receive({ type: 'start' });
    await until(() => statuses().some((s) => s.status.state === 'paused' && s.status.step === 5));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(statuses().at(-1)!.status.step, 5, 'no step past the cap');
    await until(() => got.some((m) => m.type === 'samples' && m.samples.step === 5));
    const steps = got.flatMap((m) => (m.type === 'samples' ? [m.samples.step] : []));
    assert.deepEqual(steps, [0, 2, 4, 5], 'samples at multiples of sampleEvery, and where the cap stopped the run');
    // Train at the cap says so; raising the cap goes on to it.
    got.splice(0);
    session.receive({ type: 'start' });
    await until(() => got.some((m) => m.type === 'error'));
    assert.match((got.find((m) => m.type === 'error') as { message: string }).message, /at step 5, the step cap \(5\): raise/);
    session.receive({ type: 'view', config: { ...defaults(), sampleEvery: 2, euler: 0, stopAt: 7 } });
    session.receive({ type: 'start' });
    await until(() => statuses().some((s) => s.status.state === 'paused' && s.status.step === 7));
  } finally {
    await session.close();
  }
});
