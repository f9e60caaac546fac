// A DiT state_dict saved by PyTorch (no metadata of this project; DiT's pos_embed buffer stored)
// uploaded into the page: the page asks for the number of heads (the shapes do not tell), loads
// it on the answer, and says what it inferred. Screenshot in test-results/.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { buildAndServe, chromiumMissing, launchChromium, openPlayground, stepOf, until, type Served } from '../../scripts/e2e-helpers';
import { PRESETS } from '../../src/model/config';
import { initParams, paramTable } from '../../src/model/params';
import { posEmbed2d } from '../../src/ops/patch';
import { writeSafetensors } from '../../src/train/safetensors';

const SHOTS = 'test-results';
const skip = chromiumMissing();

describe('PyTorch checkpoint upload (headless chromium)', { skip, timeout: 180_000 }, () => {
  let served: Served | null = null;
  let browser: Browser | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'facm-e2e-foreign-'));

  before(async () => {
    served = await buildAndServe();
    browser = await launchChromium({ webgpu: true });
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await served?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('asks for the heads, loads the state_dict and names what it inferred', async () => {
    const cfg = PRESETS.tiny.config;
    const table = paramTable(cfg);
    const flat = initParams(table, 1, 0.05);
    const file = join(dir, 'dit-from-pytorch.safetensors');
    const tensors = table.specs.map((s) => ({ name: s.name, shape: s.shape, data: flat.slice(s.offset, s.offset + s.size) }));
    tensors.push({ name: 'pos_embed', shape: [1, 16, cfg.D], data: Float32Array.from(posEmbed2d(cfg.D, 4)) });
    writeFileSync(file, writeSafetensors(tensors, {}, { checksum: false }));

    const context = await browser!.newContext({ viewport: { width: 1440, height: 1000 } });
    const { page, errors } = await openPlayground(context, `${served!.url}?preset=tiny&objective=facm&dataset=blobs8&batch=4&sampleEvery=4&euler=0&autosaveEvery=0`);
    await page.getByTestId('ckpt-upload').setInputFiles(file);
    const dialog = page.getByTestId('foreign-dialog');
    await dialog.waitFor({ timeout: 20_000 });
    assert.match((await dialog.textContent()) ?? '', /dit-from-pytorch\.safetensors is a PyTorch DiT without this playground's metadata: D 32, patch 2, depth 2, 3 channels, unconditional, 8×8 images\. Its shapes do not tell: attention heads/);
    assert.deepEqual(await page.getByTestId('foreign-heads').locator('option').allTextContents(), ['1', '2', '4', '8', '16', '32']);
    await page.getByTestId('foreign-heads').selectOption('2');
    await page.screenshot({ path: `${SHOTS}/foreign-dialog.png`, fullPage: false });
    await page.getByTestId('foreign-load').click();
    const messages = page.getByTestId('messages');
    await until('the notice of what was inferred', async () => /PyTorch DiT checkpoint \(no facm-playground metadata\): 3×8×8 patch 2, D 32, depth 2, heads 2, classes 0/.test((await messages.textContent().catch(() => '')) ?? ''), 30_000, page, `${SHOTS}/foreign-timeout.png`);
    const text = (await messages.textContent()) ?? '';
    assert.match(text, /image size 8×8 from pos_embed/);
    assert.match(text, /2 attention heads as given/);
    assert.equal(await dialog.count(), 0);
    assert.equal(await stepOf(page), 0);
    await page.getByTestId('btn-step').click();
    await until('a step of the loaded weights', async () => (await stepOf(page)) === 1, 60_000, page, `${SHOTS}/foreign-timeout.png`);
    assert.deepEqual(errors, []);
  });
});
