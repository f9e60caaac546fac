// Autotuning in headless Chromium on SwiftShader: the first load of a run on this adapter times the
// kernel variants for its shapes (within the page's budget) and keeps the choice in IndexedDB; a
// reload in the same browser profile (a Train again) times nothing and uses the same variants. The profile panel
// lists the variant of every shape. Screenshot: playground-tune.png.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { chromiumMissing, playgroundSuite } from '../../scripts/e2e-helpers';

const SHOTS = 'test-results';
const skip = chromiumMissing();
const TINY = 'preset=tiny&objective=facm&dataset=blobs8&batch=4&sampleEvery=1000&euler=0&autosaveEvery=0';

describe('playground autotuning (headless chromium)', { skip, timeout: 240_000 }, () => {
  // One browser context for both loads: they share IndexedDB, as a user's reloads do.
  const { open, until } = playgroundSuite({ before, after }, SHOTS, 'playground-tune', { shared: true });

  const summaryOf = async (page: Page) => (await page.getByTestId('tune-summary').textContent()) ?? '';
  const rowsOf = async (page: Page) => page.getByTestId('tune-row').allTextContents();

  test('the first load tunes and stores the choice; a reload times nothing and uses the same variants', async () => {
    const { page, errors } = await open(`?${TINY}`);
    await page.getByTestId('btn-train').click(); // the run's worker builds (and tunes) on the first Train
    await until('the first tuning', async () => /Tuned on this adapter: \d+ of \d+ shapes timed/.test(await summaryOf(page)), 120_000, page);
    const first = await summaryOf(page);
    console.log(`first load: ${first}`);
    await page.getByTestId('tune').locator('summary').click();
    const rows = await rowsOf(page);
    assert.ok(rows.some((r) => /attention forward/.test(r)) && rows.some((r) => /attention backward/.test(r)), rows.join('\n'));
    assert.ok(rows.some((r) => /tuned$/.test(r)), `no tuned row:\n${rows.join('\n')}`);
    assert.ok(rows.every((r) => /(tile|reg|el|tiled|direct)\S*(tuned|rule)$/.test(r)), rows.join('\n'));
    await page.getByTestId('tune').screenshot({ path: `${SHOTS}/playground-tune.png` });

    await page.reload();
    await page.getByTestId('btn-train').click();
    await until('the cached choices', async () => /Cached choices for this adapter: nothing timed/.test(await summaryOf(page)), 60_000, page);
    await page.getByTestId('tune').locator('summary').click();
    assert.deepEqual(await rowsOf(page), rows, 'the reload uses the variants the first load chose');
    assert.deepEqual(errors, []);
  });
});
