// Screenshot of the playground mid-run (the README's docs/img/playground.png): builds and serves the
// app, opens a link, presses "Train all", waits, and saves a full-page PNG. On SwiftShader, give it
// minutes; on a GPU, seconds.
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
  while (Date.now() - t0 < seconds * 1000) {
    await page.waitForTimeout(15_000);
    const steps = await page.locator('[data-testid^="run-row-"] td.num:nth-of-type(4)').allTextContents().catch(() => []);
    console.log(`${Math.round((Date.now() - t0) / 1000)} s: steps ${steps.join(' ')}`);
  }
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await served.close();
}
