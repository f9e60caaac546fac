// Cold load of the built page over a throttled network, in headless Chromium (no cache): when the
// Train button is usable (time to interactive) and when the first plot has drawn (Plotly arrives as
// a lazy chunk after the first paint). The README's first-load figures come from this script.
// Usage: node --import tsx scripts/cold-load.ts [--down-kbps 1600] [--rtt-ms 150] [--runs 3]

import { buildAndServe, launchChromium } from './e2e-helpers';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const downKbps = arg('down-kbps', 1600); // Lighthouse's "slow 4G": 1.6 Mbit/s down, 150 ms RTT
const rttMs = arg('rtt-ms', 150);
const runs = arg('runs', 3);

const served = await buildAndServe();
const browser = await launchChromium({ webgpu: true });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const tti: number[] = [];
  const plot: number[] = [];
  let bytes = 0;
  for (let r = 0; r < runs; r++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: rttMs,
      downloadThroughput: (downKbps * 1000) / 8,
      uploadThroughput: (750 * 1000) / 8,
    });
    let received = 0;
    cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => (received += e.encodedDataLength));
    const t0 = Date.now();
    await page.goto(served.url, { waitUntil: 'commit' });
    await page.getByTestId('btn-train').waitFor({ state: 'visible', timeout: 120_000 });
    await page.waitForFunction(() => !(document.querySelector('[data-testid="btn-train"]') as HTMLButtonElement | null)?.disabled, null, { timeout: 120_000 });
    tti.push(Date.now() - t0);
    await page.locator('.plot .main-svg').first().waitFor({ state: 'attached', timeout: 180_000 });
    plot.push(Date.now() - t0);
    await page.waitForTimeout(500);
    bytes = received;
    await context.close();
  }
  console.log(
    `cold load at ${downKbps} kbit/s, ${rttMs} ms RTT (median of ${runs}): Train usable after ${(median(tti) / 1000).toFixed(2)} s, ` +
      `first plot drawn after ${(median(plot) / 1000).toFixed(2)} s; ${(bytes / 1024).toFixed(0)} KiB over the wire (runs: ${tti.join(', ')} / ${plot.join(', ')} ms)`,
  );
} finally {
  await browser.close();
  await served.close();
}
