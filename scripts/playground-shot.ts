// Screenshot of the playground mid-run (the README's docs/img/playground.png): builds and serves the
// app, opens a link, presses "Train all", waits, and saves a full-page PNG. On SwiftShader, give it
// minutes; on a GPU, seconds. With a step cap (stopAt, which every ablation preset sets) it stops
// waiting once every run is paused at the cap. At the end it prints the runs table, one run a line
// (the README's Chromium seed table comes from these lines).
// Usage: node --import tsx scripts/playground-shot.ts [out.png] [seconds] [query]

import { buildAndServe, launchChromium } from './e2e-helpers';

const out = process.argv[2] ?? 'docs/img/playground.png';
const seconds = Number(process.argv[3] ?? 240);
const query = process.argv[4] ?? '?ablation=stability&dataset=blobs8&batch=4&sampleEvery=10&euler=0';

const served = await buildAndServe();
const browser = await launchChromium({ webgpu: true });
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.on('pageerror', (e) => console.error(`pageerror: ${e.message}`));
  await page.goto(`${served.url}${query}`);
  await page.getByRole('button', { name: /Train all/ }).click();
  const t0 = Date.now();
  const rows = page.locator('[data-testid^="run-row-"]');
  while (Date.now() - t0 < seconds * 1000) {
    await page.waitForTimeout(15_000);
    const steps = await rows.locator('td:nth-of-type(4)').allTextContents().catch(() => []);
    const states = await rows.locator('td:nth-of-type(3)').allTextContents().catch(() => []);
    console.log(`${Math.round((Date.now() - t0) / 1000)} s: steps ${steps.join(' ')}`);
    const cap = Number(await page.getByTestId('cfg-stopAt').inputValue().catch(() => '0'));
    if (cap > 0 && steps.length > 0 && steps.every((x) => Number(x) >= cap) && states.every((x) => !/running|starting/.test(x))) break;
  }
  await page.waitForTimeout(2000); // the last samples and plots
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
  console.log((await page.getByTestId('compare-step').textContent().catch(() => '')) ?? '');
  for (const r of await rows.all()) console.log((await r.locator('td').allInnerTexts()).slice(0, 9).join(' | '));
} finally {
  await browser.close();
  await served.close();
}
