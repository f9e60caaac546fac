// Wall time of a 2-D run in headless Chromium (README, 2-D mode "Speed"): builds and serves the app,
// opens a link, presses Train, and polls the step counter and the page's sliced-W2 line every two
// seconds until the step reaches --until (or --seconds pass). Prints a line at every sample refresh
// (seconds, step, steps/s so far, the page's figures) and, at the end, the seconds to --until and the
// first refresh at which the page's own NFE-1 and Euler figures were within 2× of its held-out figure
// with every mode covered (the page scores 1024 points, so its held-out figure is higher than
// `train`'s 4096-point one; the CLI's step is the stricter line).
// Usage: node --import tsx scripts/points2d-time.ts [--until 1000] [--seconds 900]
//        [--query 'preset=points&objective=facm'] [--shot test-results/points2d-time.png]

import { parseArgs } from 'node:util';
import { buildAndServe, launchChromium, openPlayground, stepOf } from './e2e-helpers';

const { values: o } = parseArgs({
  options: {
    until: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '900' },
    query: { type: 'string', default: 'preset=points&objective=facm' },
    shot: { type: 'string', default: 'test-results/points2d-time.png' },
  },
});
const target = Number(o.until);
const limit = Number(o.seconds) * 1000;
if (!Number.isInteger(target) || target < 1) throw new Error(`points2d-time: --until must be a positive step count (got '${o.until}')`);

// "NFE 1 0.123 (8/8 modes) · NFE 2 0.100 (8/8) · Euler 0.090 (8/8) — held-out data 0.088, the input noise 0.280"
const FIG = /NFE 1 ([\d.]+) \((\d+)\/(\d+) modes\) · NFE 2 ([\d.]+) \((\d+)\/\d+\)(?: · Euler ([\d.]+) \((\d+)\/\d+\))? — held-out data ([\d.]+), the input noise ([\d.]+)/;

const served = await buildAndServe();
const browser = await launchChromium({ webgpu: true });
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1300 } });
  const { page, errors } = await openPlayground(context, `${served.url}?${o.query}&stopAt=${target}`);
  await page.getByTestId('btn-train').click();
  const t0 = Date.now();
  let last = '';
  let met: { secs: number; step: number } | null = null;
  let reached: number | null = null;
  while (Date.now() - t0 < limit) {
    await page.waitForTimeout(2000);
    const secs = (Date.now() - t0) / 1000;
    const step = await stepOf(page).catch(() => 0);
    const text = (await page.getByTestId('points-distance').textContent().catch(() => '')) ?? '';
    if (text && text !== last) {
      last = text;
      const m = FIG.exec(text);
      console.log(`${secs.toFixed(0)} s, step ${step} (${(step / secs).toFixed(2)} steps/s): ${text}`);
      if (m && !met) {
        const [nfe1, c1, classes, , , eul, ce, held] = [Number(m[1]), Number(m[2]), Number(m[3]), m[4], m[5], m[6] === undefined ? null : Number(m[6]), Number(m[7]), Number(m[8])];
        if (nfe1 <= 2 * held && c1 === classes && eul !== null && eul <= 2 * held && ce === classes) met = { secs, step };
      }
    }
    if (step >= target && reached === null) reached = secs;
    // stopAt pauses the run at the target; wait for that step's samples before stopping.
    if (reached !== null && secs - reached > 20) break;
  }
  await page.screenshot({ path: o.shot, fullPage: true });
  const step = await stepOf(page).catch(() => 0);
  console.log(`wrote ${o.shot}`);
  console.log(`step ${target}: ${reached === null ? `not reached in ${o.seconds} s (at step ${step})` : `${reached.toFixed(0)} s (${(target / reached).toFixed(2)} steps/s, start-up and sampling included)`}`);
  console.log(`the page's own 2× line (NFE 1 and Euler, all modes, 1024 points): ${met ? `step ${met.step} at ${met.secs.toFixed(0)} s` : 'not met'}`);
  if (errors.length) console.log(`page errors:\n${errors.join('\n')}`);
} finally {
  await browser.close();
  await served.close();
}
