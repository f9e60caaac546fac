// Autosave in headless Chromium on SwiftShader: a tiny run with autosaveEvery=3 passes a periodic
// autosave and one on pause; a reload of the tab brings it back paused at that step (step counter,
// runs table, loss curve), a shared link in another tab only offers it, Train goes on from it, and
// Discard deletes it (the next reload starts at step 0). Screenshot: playground-autosave-restored.png.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildAndServe, chromiumMissing, launchChromium, openPlayground, stepOf, until as waitUntil, type Served } from '../../scripts/e2e-helpers';

const SHOTS = 'test-results';
const skip = chromiumMissing();
// As in playground.test.ts: the tiny preset, batch 4, no Euler samples; few sample grids.
const TINY = 'preset=tiny&objective=facm&dataset=blobs8&batch=4&sampleEvery=1000&euler=0&autosaveEvery=3';

describe('playground autosave (headless chromium)', { skip, timeout: 240_000 }, () => {
  let served: Served | null = null;
  let browser: Browser | null = null;
  let context: BrowserContext | null = null;

  before(async () => {
    served = await buildAndServe();
    browser = await launchChromium({ webgpu: true });
    // One context: the tabs share IndexedDB, as a user's tabs do.
    context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await served?.close();
  });

  const open = (search: string) => openPlayground(context!, `${served!.url}${search}`);

  const autosavedOf = async (page: Page) => Number(/Autosaved at step (\d+)/.exec((await page.getByTestId('autosave-status').textContent()) ?? '')?.[1] ?? -1);

  const until = (what: string, f: () => Promise<boolean>, ms: number, page: Page) => waitUntil(what, f, ms, page, `${SHOTS}/playground-autosave-timeout.png`);

  test('a reload resumes the autosaved run paused at its step; a shared link only offers it; Discard deletes it', async () => {
    const { page, errors } = await open(`?${TINY}`);
    assert.match((await page.getByTestId('autosave-status').textContent()) ?? '', /every 3 steps/);
    await page.getByTestId('btn-train').click();
    await until('a periodic autosave', async () => (await autosavedOf(page)) >= 3, 90_000, page);

    // A pause saves the step it stopped at.
    await page.getByTestId('btn-pause').click();
    await page.getByTestId('run-state').filter({ hasText: 'paused' }).waitFor({ timeout: 10_000 });
    const stopped = await stepOf(page);
    await until('the autosave on pause', async () => (await autosavedOf(page)) === stopped, 20_000, page);

    // Reload: the run comes back paused at that step, with its loss curve.
    await page.reload();
    const notice = page.getByTestId('autosave-notice');
    await notice.waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('autosave-text').textContent(), `Restored 1 run from autosave at step ${stopped}, press Train to continue.`);
    await until('the restored step', async () => (await stepOf(page)) === stopped, 45_000, page);
    await until('the restored state', async () => (await page.getByTestId('run-state').textContent()) === 'paused', 10_000, page);
    assert.equal(await page.locator('[data-testid^="run-row-"]').count(), 1);
    assert.equal((await page.locator('[data-testid^="run-row-"] td:nth-child(4)').textContent())?.trim(), String(stopped), 'runs table step');
    await until('the restored loss curve', async () => Number(await page.getByTestId('loss-plot').getAttribute('data-points')) > 0, 5_000, page);
    assert.equal(await page.getByTestId('cfg-preset').inputValue(), 'tiny');
    assert.equal(await autosavedOf(page), stopped);
    await page.screenshot({ path: `${SHOTS}/playground-autosave-restored.png`, fullPage: true });

    // Another tab opened with a shared link: the link wins, the autosave is only offered.
    const shared = await open('?preset=tiny-16&objective=meanflow&seed=7');
    await shared.page.getByTestId('btn-autosave-restore').waitFor({ timeout: 10_000 });
    assert.match((await shared.page.getByTestId('autosave-text').textContent()) ?? '', new RegExp(`autosave of 1 run \\(step ${stopped}\\).*this link's settings are shown instead`));
    assert.equal(await shared.page.getByTestId('cfg-preset').inputValue(), 'tiny-16');
    assert.equal(await stepOf(shared.page), 0);
    await shared.page.close();

    // Train goes on from the restored step; its pause is autosaved into the same slot.
    await page.getByTestId('btn-train').click();
    await until('training past the restored step', async () => (await stepOf(page)) > stopped, 60_000, page);
    await page.getByTestId('btn-pause').click();
    await page.getByTestId('run-state').filter({ hasText: 'paused' }).waitFor({ timeout: 10_000 });
    const later = await stepOf(page);
    await until('the autosave after training on', async () => (await autosavedOf(page)) === later, 20_000, page);

    // Discard: the run starts over at step 0 with the same settings, and a reload restores nothing.
    await page.getByTestId('btn-autosave-discard').click();
    await until('the discard', async () => (await stepOf(page)) === 0 && (await notice.count()) === 0, 10_000, page);
    assert.equal(await page.getByTestId('cfg-preset').inputValue(), 'tiny');
    await page.reload();
    await page.getByTestId('btn-train').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(2000); // the autosave lookup is one IndexedDB read
    assert.equal(await notice.count(), 0, 'no autosave after Discard');
    assert.equal(await stepOf(page), 0);
    assert.deepEqual(errors, []);
    assert.deepEqual(shared.errors, []);
  });
});
