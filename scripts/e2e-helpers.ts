// Shared by the browser tests: build the app with the project's vite config, serve it with
// `vite preview` on 127.0.0.1, and launch Debian's chromium (no browser downloads) with or
// without a WebGPU adapter.

import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or false. On CI a missing browser is a failure, not a skip. */
export function chromiumMissing(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const why = `${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`;
  if (process.env.CI) throw new Error(`CI must run the browser tests: ${why}`);
  return why;
}

// Playwright adds its own defaults (headless, --enable-unsafe-swiftshader, its --enable-features and
// --disable-features lists); these go after them. No --enable-features here: a second one replaces
// Playwright's list rather than extending it, and Vulkan is not needed for the SwiftShader adapter.
const QUIET = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
// --enable-unsafe-webgpu is what exposes an adapter on Linux; the adapter flag pins SwiftShader so
// results do not depend on whether the machine has a GPU.
const WEBGPU = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

export function launchChromium(opts: { webgpu: boolean }): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: opts.webgpu ? [...QUIET, ...WEBGPU] : [...QUIET, '--disable-gpu'],
    timeout: 30_000,
  });
}

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** `vite build` into a temp dir with the project config, then `vite preview` it on a free port. */
export async function buildAndServe(root = process.cwd()): Promise<Served> {
  const outDir = await mkdtemp(join(tmpdir(), 'facm-e2e-'));
  const configFile = resolve(root, 'vite.config.ts');
  await build({ root, configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  let server: PreviewServer;
  try {
    server = await preview({
      root,
      configFile,
      logLevel: 'warn',
      build: { outDir },
      preview: { host: '127.0.0.1', port: 0, strictPort: true, open: false },
    });
  } catch (e) {
    await rm(outDir, { recursive: true, force: true });
    throw e;
  }
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview reported no local URL');
  return {
    url,
    async close() {
      await server.close();
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

/** Opens the playground at `url` in a new tab of `context`, collecting page errors and console errors. */
export async function openPlayground(context: BrowserContext, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  await page.goto(url);
  await page.getByTestId('btn-train').waitFor({ timeout: 30_000 });
  return { page, errors };
}

/** The focused run's step counter. */
export const stepOf = async (page: Page): Promise<number> => Number(await page.getByTestId('step-counter').textContent());

/** Polls `f` until it holds; after `ms`, saves `shot` (a full-page screenshot) and throws naming what and the step. */
export async function until(what: string, f: () => Promise<boolean>, ms: number, page: Page, shot: string): Promise<void> {
  const end = Date.now() + ms;
  let failure = '';
  // A probe that throws (an element missing for a while) counts as "not yet", and is reported at the end.
  const probe = () => f().catch((e: Error) => ((failure = e.message.split('\n')[0]), false));
  while (!(await probe())) {
    if (Date.now() > end) {
      await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
      const err = (await page.getByTestId('run-error').textContent({ timeout: 1000 }).catch(() => null)) ?? '';
      const step = await page.getByTestId('step-counter').textContent({ timeout: 1000 }).catch(() => '(no step counter on the page)');
      throw new Error(`timed out after ${ms} ms waiting for ${what} (step ${step}) ${err}${failure ? ` [last probe error: ${failure}]` : ''}`);
    }
    await page.waitForTimeout(200);
  }
}

/**
 * The usual set-up of a browser test, registered inside its `describe`: the app built and served,
 * Chromium with WebGPU, `shots` created; `open` makes a fresh 1440×1000 context per call (or reuses
 * one, `shared`, so tabs share IndexedDB) and `until` screenshots to `shots/<name>-timeout.png`.
 */
export function playgroundSuite(hooks: { before: (f: () => Promise<void>) => void; after: (f: () => Promise<void>) => void }, shots: string, name: string, opts: { shared?: boolean } = {}) {
  let served: Served | null = null;
  let browser: Browser | null = null;
  let context: BrowserContext | null = null;
  hooks.before(async () => {
    served = await buildAndServe();
    browser = await launchChromium({ webgpu: true });
    if (opts.shared) context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    mkdirSync(shots, { recursive: true });
  });
  hooks.after(async () => {
    await browser?.close();
    await served?.close();
  });
  return {
    open: async (search: string) => openPlayground(context ?? (await browser!.newContext({ viewport: { width: 1440, height: 1000 } })), `${served!.url}${search}`),
    until: (what: string, f: () => Promise<boolean>, ms: number, page: Page) => until(what, f, ms, page, `${shots}/${name}-timeout.png`),
  };
}
