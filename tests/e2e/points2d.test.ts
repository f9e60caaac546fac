// The 2-D mode in headless Chromium on SwiftShader: a FACM run on eight Gaussians (points preset)
// trains, and the samples scatter, the trajectories and the field panels (v, F, residual, x_t) draw;
// moving the t slider redraws the fields at the new t. Screenshots go to test-results/.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { buildAndServe, chromiumMissing, launchChromium, openPlayground, stepOf, until as waitUntil, type Served } from '../../scripts/e2e-helpers';

const SHOTS = 'test-results';
const skip = chromiumMissing();
const RUN = 'preset=points&objective=facm&dataset=eight-gaussians&batch=64&lr=0.002&sampleEvery=10&euler=8&autosaveEvery=0';

describe('2-D mode (headless chromium)', { skip, timeout: 300_000 }, () => {
  let served: Served | null = null;
  let browser: Browser | null = null;
  before(async () => {
    served = await buildAndServe();
    browser = await launchChromium({ webgpu: true });
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await served?.close();
  });

  test('a 2-D FACM run trains; scatter, trajectories and fields draw; the t slider redraws the fields', async () => {
    const context = await browser!.newContext({ viewport: { width: 1440, height: 1300 } });
    const { page, errors } = await openPlayground(context, `${served!.url}?${RUN}`);
    const until = (what: string, f: () => Promise<boolean>, ms: number) => waitUntil(what, f, ms, page, `${SHOTS}/points2d-timeout.png`);
    await page.getByTestId('btn-train').click();
    await until('the step counter to pass 10', async () => (await stepOf(page)) >= 10, 150_000);
    const drawn = async (id: string) => Number((await page.getByTestId(id).getAttribute('data-drawn').catch(() => null)) ?? 0);
    for (const id of ['points-samples', 'points-trajectories', 'points-field-v', 'points-field-F', 'points-field-g', 'points-xt'])
      await until(`panel ${id} to draw`, async () => (await drawn(id)) > 0, 60_000);
    const text = (await page.getByTestId('points-distance').textContent()) ?? '';
    assert.match(text, /NFE 1 \d\.\d{3} \(\d\/8 modes\) · NFE 2 \d\.\d{3}.*Euler \d\.\d{3}.*held-out data \d\.\d{3}, the input noise \d\.\d{3}/);
    // A canvas that drew something has non-white pixels.
    const inked = await page.evaluate(`(() => {
      const c = document.querySelector('[data-testid="points-trajectories"]');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
      return n;
    })()`);
    assert.ok(Number(inked) > 200, `the trajectory panel has ${inked} inked pixels`);
    await page.screenshot({ path: `${SHOTS}/points2d-running.png`, fullPage: true });
    // The slider: pause first, so the redraw comes from the slider and not from the next sample refresh.
    await page.getByTestId('btn-pause').click();
    await page.getByTestId('cfg-fieldT').fill('0.9');
    assert.equal(await page.getByTestId('field-t').textContent(), '0.90');
    // The worker recomputes the fields at the new t (with the JVP) and the panels redraw them.
    await until('the fields to be recomputed at t = 0.9', async () => /fields at t = 0\.90/.test((await page.getByTestId('fields-at').textContent()) ?? ''), 60_000);
    await page.screenshot({ path: `${SHOTS}/points2d-paused-t0.9.png`, fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });
});
