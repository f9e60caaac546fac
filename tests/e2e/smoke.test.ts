// The built app in headless Chromium on SwiftShader: on the `?smoke` route the matmul passes and the
// adapter is shown; with WebGPU off, the playground explains how to enable it. Plus the same smoke
// check on Dawn.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildAndServe, chromiumMissing, launchChromium, type Served } from '../../scripts/e2e-helpers';
import { gpuForFile } from '../helpers/gpu';
import { runMatmulSmoke } from '../../src/ui/pages/smoke';

const SHOTS = 'test-results';
const skip = chromiumMissing();

test('matmul smoke check passes on Dawn (Node)', async () => {
  const gpu = await gpuForFile()();
  const r = await runMatmulSmoke(gpu);
  assert.ok(r.ok, `max diff ${r.maxDiff}`);
});

describe('browser (headless chromium)', { skip, timeout: 60_000 }, () => {
  let served: Served | null = null;
  const browsers: Browser[] = [];

  before(async () => {
    served = await buildAndServe();
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await served?.close();
  });

  /** A fresh page; uncaught page errors and console errors are collected for assertions. */
  async function open(webgpu: boolean, search = ''): Promise<{ page: Page; errors: string[] }> {
    const browser = await launchChromium({ webgpu });
    browsers.push(browser);
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
    await page.goto(`${served!.url}${search}`);
    return { page, errors };
  }

  test('runs a matmul on the SwiftShader adapter and shows it', async () => {
    const { page, errors } = await open(true, '?smoke');
    const status = page.getByTestId('smoke-status');
    await status.filter({ hasText: /matmul (OK|FAILED)/ }).waitFor({ timeout: 30_000 });
    const text = (await status.textContent()) ?? '';
    assert.match(text, /matmul OK \(max diff/, `${text}\n${errors.join('\n')}`);
    assert.match((await page.getByTestId('adapter').textContent()) ?? '', /swiftshader/i);
    assert.ok((await page.getByTestId('limits').locator('tr').count()) > 0, 'limits table is empty');
    assert.equal(await page.title(), 'FACM playground');
    await page.screenshot({ path: `${SHOTS}/smoke.png`, fullPage: true });
    assert.deepEqual(errors, []);
  });

  test('without WebGPU, explains how to enable it', async () => {
    const { page } = await open(false);
    const box = page.getByTestId('no-webgpu');
    await box.waitFor({ timeout: 15_000 });
    const text = (await box.textContent()) ?? '';
    assert.match(text, /WebGPU is not available/);
    assert.match(text, /--enable-unsafe-webgpu/);
    assert.match((await page.getByTestId('no-webgpu-message').textContent()) ?? '', /Chrome|Firefox|Safari/);
    assert.equal(await page.getByTestId('smoke-status').count(), 0);
    await page.screenshot({ path: `${SHOTS}/no-webgpu.png`, fullPage: true });
  });
});
