// The playground in headless Chromium on SwiftShader: a tiny FACM run trains in a worker (the step
// counter and the loss plot advance, a sample grid appears), pauses within a second, saves a
// checkpoint in IndexedDB and loads it back (also after a page reload); the profile panel times one
// step per kernel; a destroyed device is recovered from the latest checkpoint; a shared link restores
// the config controls, and a bad one is reported and falls back. Screenshots go to test-results/.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { chromiumMissing, hooksIn, injectFault, playgroundSuite, stepOf } from '../../scripts/e2e-helpers';

const SHOTS = 'test-results';
const skip = chromiumMissing();
// SwiftShader does 2–4 images/s on `tiny`: batch 4 on the 1024-image blobs8, no Euler samples.
// Autosave off: these reloads test the named checkpoints by hand (tests/e2e/autosave.test.ts has autosave's).
const TINY = 'preset=tiny&objective=facm&dataset=blobs8&batch=4&sampleEvery=4&euler=0&autosaveEvery=0';

describe('playground (headless chromium)', { skip, timeout: 240_000 }, () => {
  // The e2e build: faults are injected through its worker host (tests/e2e/faulty-host.ts).
  const { open, until, outDir } = playgroundSuite({ before, after }, SHOTS, 'playground', { mode: 'e2e' });

  test('the e2e build carries the fault hook (smoke.test.ts checks the production build has none)', () => {
    assert.ok(hooksIn(outDir()).found.some((h) => h.startsWith('__facmFaults')), JSON.stringify(hooksIn(outDir())));
  });

  const pointsOf = async (page: Page) => Number(await page.getByTestId('loss-plot').getAttribute('data-points'));

  test('trains a tiny FACM run, pauses within a second, saves and reloads a checkpoint', async () => {
    const { page, errors } = await open(`?${TINY}`);
    await page.getByTestId('btn-train').click();

    await until('the step counter to pass 3', async () => (await stepOf(page)) >= 3, 90_000, page);
    await until('loss points', async () => (await pointsOf(page)) > 0, 10_000, page);
    const p1 = await pointsOf(page);
    await until('the loss plot to advance', async () => (await pointsOf(page)) > p1, 20_000, page);
    await until(
      'a sample grid from a trained step',
      async () => Number((await page.getByTestId('samples-grid').getAttribute('data-step').catch(() => '')) || 0) >= 4,
      30_000,
      page,
    );
    assert.ok(await page.getByTestId('real-grid').isVisible(), 'real data next to the samples');
    assert.match((await page.getByTestId('samples-nearest').textContent()) ?? '', /NFE 1 \d\.\d{3} · NFE 2 \d\.\d{3}.*held-out real images \d\.\d{3}, the input noise \d\.\d{3}/);
    assert.match((await page.getByTestId('run-adapter').textContent()) ?? '', /swiftshader/i);
    await page.screenshot({ path: `${SHOTS}/playground-running.png`, fullPage: true });

    // Pause mid-run: the worker answers between steps, so the state flips and the counter stops at once.
    // Timed inside the page, from the click to the state on screen: the app's latency, not Playwright's
    // (whose actionability checks wait for animation frames on a loaded machine).
    // (A string, not a function: tsx would wrap named helpers in its __name(), which the page lacks.)
    const pausedAfter = Number(
      await page.evaluate(`new Promise((resolve, reject) => {
        const paused = () => [...document.querySelectorAll('[data-testid="run-state"]')].some((e) => e.textContent.includes('paused'));
        const t0 = performance.now();
        const obs = new MutationObserver(() => {
          if (!paused()) return;
          obs.disconnect();
          resolve(performance.now() - t0);
        });
        obs.observe(document.body, { childList: true, characterData: true, subtree: true });
        document.querySelector('[data-testid="btn-pause"]').click();
        setTimeout(() => reject(new Error('the run state did not show paused within 5 s of the click')), 5000);
      })`),
    );
    const stopped = await stepOf(page);
    await page.waitForTimeout(2500);
    assert.equal(await stepOf(page), stopped, 'no step after the pause');
    assert.ok(pausedAfter < 1000, `paused after ${pausedAfter.toFixed(0)} ms`);
    console.log(`paused ${pausedAfter.toFixed(0)} ms after the click`);
    await page.screenshot({ path: `${SHOTS}/playground-paused.png`, fullPage: true });

    // Metrics export: one CSV row per step.
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('btn-export-csv').click()]);
    const rows = readFileSync((await csv.path())!, 'utf8').trim().split('\n');
    assert.match(rows[0], /^run,objective,step,loss,lossFM,lossCM,gradNorm,clampFrac/);
    assert.equal(rows.length - 1, stopped, 'a row per step');
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('btn-export-png').click()]);
    assert.deepEqual([...readFileSync((await png.path())!).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG of the sample grids');

    // Save in IndexedDB, reset to step 0, load it back.
    await page.getByTestId('btn-save').click();
    await page.getByTestId('checkpoint-item').first().waitFor({ timeout: 15_000 });
    assert.match((await page.getByTestId('checkpoint-item').first().textContent()) ?? '', new RegExp(`step ${stopped}`));
    await page.getByTestId('btn-reset').click();
    await until('the reset', async () => (await stepOf(page)) === 0, 15_000, page);
    await page.getByTestId('btn-load').first().click();
    await until('the loaded step', async () => (await stepOf(page)) === stopped, 20_000, page);

    // A reload keeps the checkpoint (IndexedDB) and its metrics; a fresh worker takes the weights.
    await page.reload();
    await page.getByTestId('checkpoint-item').first().waitFor({ timeout: 30_000 });
    assert.equal(await stepOf(page), 0);
    await page.getByTestId('btn-load').first().click();
    await until('the loaded step after a reload', async () => (await stepOf(page)) === stopped, 45_000, page);
    await until('the restored loss curve', async () => (await pointsOf(page)) > 0, 5_000, page);
    await until('samples of the loaded weights', async () => Number((await page.getByTestId('samples-grid').getAttribute('data-step').catch(() => '')) || 0) === stopped, 30_000, page);
    await page.screenshot({ path: `${SHOTS}/playground-loaded.png`, fullPage: true });

    // A non-finite step is a marked collapse (step and quantity), not an exception.
    await injectFault(page, 'poison');
    await page.getByTestId('btn-step').click();
    const note = page.getByTestId('collapse-note');
    await note.waitFor({ timeout: 30_000 });
    assert.match((await note.textContent()) ?? '', new RegExp(`Collapsed at step ${stopped + 1}: (L_FM|L_CM|grad norm) became non-finite`));
    assert.match((await page.getByTestId('runs-table').textContent()) ?? '', new RegExp(`collapsed @ ${stopped + 1}`));
    assert.ok(await page.getByTestId('btn-train').isDisabled(), 'a collapsed run does not train on');
    await page.screenshot({ path: `${SHOTS}/playground-collapse.png`, fullPage: true });

    // The saved checkpoint as a .safetensors download, uploaded back after a reset: the run resumes from it.
    const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('btn-download-saved').first().click()]);
    assert.match(file.suggestedFilename(), /\.safetensors$/);
    await page.getByTestId('btn-reset').click();
    await until('the reset after the collapse', async () => (await stepOf(page)) === 0 && !(await page.getByTestId('collapse-note').isVisible()), 15_000, page);
    await page.getByTestId('ckpt-upload').setInputFiles((await file.path())!);
    await until('the uploaded step', async () => (await stepOf(page)) === stopped, 20_000, page);
    assert.ok(await page.getByTestId('btn-train').isEnabled());
    assert.deepEqual(errors, []);
  });

  test('profiles one step per kernel; a destroyed GPU device is recovered from the latest checkpoint and training goes on', async () => {
    const { page, errors } = await open(`?${TINY.replace('sampleEvery=4', 'sampleEvery=1000')}`);
    await page.getByTestId('btn-train').click();
    await until('the step counter to pass 2', async () => (await stepOf(page)) >= 2, 90_000, page);
    await page.getByTestId('btn-pause').click();
    await page.getByTestId('run-state').filter({ hasText: 'paused' }).waitFor({ timeout: 10_000 });
    const paused = await stepOf(page);

    // Profile one step (paused: it takes that step). Per-kernel GPU time where the adapter has timestamp-query.
    await page.getByTestId('btn-profile').click();
    const table = page.getByTestId('profile-table');
    const none = page.getByTestId('profile-unavailable');
    // Which of the two must appear is the adapter's to say (the worker asks the same adapter for the feature).
    const hasTimestamps = await page.evaluate(async () => (await navigator.gpu.requestAdapter())?.features.has('timestamp-query') ?? false);
    await Promise.race([table.waitFor({ timeout: 60_000 }), none.waitFor({ timeout: 60_000 })]);
    assert.equal(await table.isVisible(), hasTimestamps, `the adapter ${hasTimestamps ? 'has' : 'lacks'} timestamp-query, yet the panel shows ${(await none.isVisible()) ? `"${await none.textContent()}"` : 'a table'}`);
    if (hasTimestamps) {
      const rows = await page.getByTestId('profile-row').allTextContents();
      const times = await page.locator('[data-testid="profile-row"] td:nth-child(3)').allTextContents();
      assert.ok(rows.length > 0 && times.some((t) => Number(t) > 0), rows.join('\n'));
      assert.match((await page.getByTestId('profile-total').textContent()) ?? '', new RegExp(`step ${paused + 1}: \\d+ dispatches, [\\d.]+ ms`));
      console.log(`profile: ${rows.length} kernel rows; ${await page.getByTestId('profile-total').textContent()}; slowest: ${rows[0]}`);
    } else {
      assert.doesNotMatch((await none.textContent())?.split('device features:')[1] ?? '', /timestamp-query/);
      console.log(`profile: ${await none.textContent()}`);
    }
    await until('the profiled step', async () => (await stepOf(page)) === paused + 1, 10_000, page);
    const restorePoint = paused + 1; // a pause or a Step is a restore point

    // Train on, then destroy the worker's device: it re-acquires one, restores the checkpoint and trains on.
    await page.getByTestId('btn-train').click();
    await until('two more steps', async () => (await stepOf(page)) >= restorePoint + 2, 60_000, page);
    await injectFault(page, 'loseDevice');
    const note = page.getByTestId('recovery-note');
    await note.waitFor({ timeout: 60_000 });
    const m = /GPU device lost at step (\d+) \(destroyed\); restored from step (\d+) on a new device/.exec((await note.textContent()) ?? '');
    assert.ok(m, (await note.textContent()) ?? '');
    const lostAt = Number(m[1]);
    assert.equal(Number(m[2]), restorePoint);
    assert.ok(lostAt >= restorePoint + 2, `lost at ${lostAt}`);
    assert.match((await page.getByTestId('runs-table').textContent()) ?? '', new RegExp(`device lost, restored @ ${restorePoint}`));
    await until('training past the step the device was lost at', async () => (await stepOf(page)) > lostAt, 90_000, page);
    assert.equal(await page.getByTestId('run-state').textContent(), 'running');
    assert.equal(await page.getByTestId('run-error').count(), 0);
    await page.screenshot({ path: `${SHOTS}/playground-device-lost.png`, fullPage: true });
    await page.getByTestId('btn-pause').click();
    assert.deepEqual(errors, []);
  });

  test('a shared link restores the config controls; a bad link is reported and falls back', async () => {
    const shared = 'preset=tiny-16&objective=meanflow&dataset=shapes16&batch=6&lr=0.0005&seed=7&flowRatio=0&meanflowP=0.75&sampleEvery=20';
    const { page, errors } = await open(`?${shared}`);
    const want: Record<string, string> = { preset: 'tiny-16', objective: 'meanflow', dataset: 'shapes16', batch: '6', lr: '0.0005', seed: '7', flowRatio: '0', meanflowP: '0.75', sampleEvery: '20' };
    for (const [k, v] of Object.entries(want)) assert.equal(await page.getByTestId(`cfg-${k}`).inputValue(), v, k);
    assert.equal(await page.getByTestId('url-message').count(), 0);
    // The address bar keeps the same settings (shapes16 is tiny-16's own dataset, so it is left out).
    const url = new URL(page.url());
    for (const [k, v] of Object.entries(want)) assert.equal(url.searchParams.get(k) ?? (k === 'dataset' ? 'shapes16' : null), v, `URL ${k}`);
    await page.getByTestId('cfg-seed').fill('8');
    await page.getByTestId('cfg-seed').press('Enter');
    await until('the URL to follow an edit', async () => new URL(page.url()).searchParams.get('seed') === '8', 2_000, page);
    assert.deepEqual(errors, []);

    const bad = await open('?batch=-3&lr=fast&colour=red&objective=facm');
    const msgs = await bad.page.getByTestId('url-message').allTextContents();
    assert.equal(msgs.length, 3, msgs.join('\n'));
    assert.match(msgs.join('\n'), /batch=-3: must be an integer in \[1, 1024\]; using the default 16/);
    assert.match(msgs.join('\n'), /lr=fast/);
    assert.match(msgs.join('\n'), /unknown setting 'colour'/);
    assert.equal(await bad.page.getByTestId('cfg-batch').inputValue(), '16');
    assert.equal(await bad.page.getByTestId('cfg-lr').inputValue(), '0.001');
    await bad.page.screenshot({ path: `${SHOTS}/playground-bad-link.png`, fullPage: true });

    // The user's files: a bad one gets a clear message; an IDX pair becomes the run's dataset.
    await bad.page.getByTestId('dataset-files').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a dataset') });
    assert.match(await bad.page.getByTestId('dataset-error').textContent({ timeout: 15_000 }) ?? '', /notes\.txt: no dataset recognised.*Expected IDX files/);
    const n = 6;
    const idx = (magic: number, dims: number[], data: Uint8Array) => {
      const head = Buffer.alloc(4 + 4 * dims.length);
      head.writeUInt32BE(magic, 0);
      dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
      return Buffer.concat([head, data]);
    };
    // A .gz cut short: the file named once, what is wrong and what to do, no browser plumbing ("Failed to fetch").
    const gz = gzipSync(idx(0x803, [200, 28, 28], Uint8Array.from({ length: 200 * 784 }, (_, i) => (i * 13) % 251)));
    await bad.page.getByTestId('dataset-files').setInputFiles({ name: 'train-images-idx3-ubyte.gz', mimeType: 'application/gzip', buffer: gz.subarray(0, gz.length >> 1) });
    await bad.page.getByTestId('dataset-error').filter({ hasText: 'train-images' }).waitFor({ timeout: 15_000 });
    const gzErr = (await bad.page.getByTestId('dataset-error').textContent()) ?? '';
    assert.match(gzErr, /^train-images-idx3-ubyte\.gz: gzip data is corrupt or truncated \([\d,]+ bytes; [\d,]+ bytes inflated before the error\)\. .*download it again/);
    assert.doesNotMatch(gzErr, /fetch/i);
    assert.equal(gzErr.split('train-images-idx3-ubyte.gz').length - 1, 1, gzErr);
    const idxPair = [
      { name: 'train-images-idx3-ubyte', mimeType: 'application/octet-stream', buffer: idx(0x803, [n, 28, 28], Uint8Array.from({ length: n * 784 }, (_, i) => (i * 7) % 256)) },
      { name: 'train-labels-idx1-ubyte', mimeType: 'application/octet-stream', buffer: idx(0x801, [n], Uint8Array.from({ length: n }, (_, i) => i % 10)) },
    ];
    await bad.page.getByTestId('dataset-files').setInputFiles(idxPair);
    assert.match(await bad.page.getByTestId('dataset-info').textContent({ timeout: 15_000 }) ?? '', /mnist.*6 images 1×28×28/);
    // 28×28 grey on the default preset (tiny, 3×8×8): the run switches to the one-channel preset, and says so.
    assert.equal(await bad.page.getByTestId('cfg-preset').inputValue(), 'mnist-16');
    assert.equal(await bad.page.getByTestId('model-shape').textContent(), '1 channel, 16×16');
    assert.match((await bad.page.getByTestId('messages').textContent()) ?? '', /has 1 channel: the model is now mnist-16 \(1×16×16\), so it trains a one-channel model/);
    assert.equal(await bad.page.getByTestId('cfg-dataset').inputValue(), 'custom');
    await bad.page.screenshot({ path: `${SHOTS}/playground-dataset.png`, fullPage: true });
    // A preset the user picks is kept: the same files on tiny-16 get the one-line hint instead.
    await bad.page.getByTestId('cfg-preset').selectOption('tiny-16');
    await bad.page.getByTestId('dataset-files').setInputFiles(idxPair);
    await bad.page.getByTestId('messages').filter({ hasText: 'tiny-16 preset trains it' }).waitFor({ timeout: 15_000 });
    assert.match((await bad.page.getByTestId('messages').textContent()) ?? '', /is 1×28×28; the tiny-16 preset trains it at 3×16×16 \(grey → 3 channels, 28 → 16 pixels\): the mnist-16 preset \(1×16×16\) suits it better/);
    assert.equal(await bad.page.getByTestId('cfg-preset').inputValue(), 'tiny-16');
    assert.equal(await bad.page.getByTestId('model-shape').textContent(), '3 channels, 16×16');

    // An ablation link rebuilds its set of runs (not started).
    const abl = await open('?ablation=stability&batch=4&dataset=blobs8');
    assert.equal(await abl.page.locator('[data-testid^="run-row-"]').count(), 5);
    assert.match((await abl.page.getByTestId('runs-table').textContent()) ?? '', /flow ratio: 0/);
    assert.deepEqual([...bad.errors, ...abl.errors], []);
  });
});
