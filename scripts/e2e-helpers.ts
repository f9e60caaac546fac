// Shared by the browser tests: build the app with the project's vite config, serve it with
// `vite preview` on 127.0.0.1, and launch Debian's chromium (no browser downloads) with or
// without a WebGPU adapter.

import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
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
  /** The built files. */
  outDir: string;
  close(): Promise<void>;
}

/**
 * `vite build` into a temp dir with the project config, then `vite preview` it on a free port.
 * Mode 'e2e' builds the worker with the tests' fault injector (see vite.config.ts and `injectFault`).
 */
export async function buildAndServe(opts: { mode?: 'production' | 'e2e'; root?: string } = {}): Promise<Served> {
  const root = opts.root ?? process.cwd();
  const mode = opts.mode ?? 'production';
  const outDir = await mkdtemp(join(tmpdir(), 'facm-e2e-'));
  const configFile = resolve(root, 'vite.config.ts');
  await build({ root, configFile, mode, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
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
    outDir,
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
  while (!(await f())) {
    if (Date.now() > end) {
      await page.screenshot({ path: shot, fullPage: true });
      const err = (await page.getByTestId('run-error').textContent().catch(() => null)) ?? '';
      throw new Error(`timed out after ${ms} ms waiting for ${what} (step ${await stepOf(page)}) ${err}`);
    }
    await page.waitForTimeout(200);
  }
}

/**
 * The usual set-up of a browser test, registered inside its `describe`: the app built and served,
 * Chromium with WebGPU, `shots` created (mode 'e2e': the build with the fault hook, see `injectFault`); `open` makes a fresh 1440×1000 context per call (or reuses
 * one, `shared`, so tabs share IndexedDB) and `until` screenshots to `shots/<name>-timeout.png`.
 */
export function playgroundSuite(hooks: { before: (f: () => Promise<void>) => void; after: (f: () => Promise<void>) => void }, shots: string, name: string, opts: { shared?: boolean; mode?: 'production' | 'e2e' } = {}) {
  let served: Served | null = null;
  let browser: Browser | null = null;
  let context: BrowserContext | null = null;
  hooks.before(async () => {
    served = await buildAndServe({ mode: opts.mode });
    browser = await launchChromium({ webgpu: true });
    if (opts.shared) context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    mkdirSync(shots, { recursive: true });
  });
  hooks.after(async () => {
    await browser?.close();
    await served?.close();
  });
  return {
    /** The built files (e.g. to check which hooks they carry). */
    outDir: () => served!.outDir,
    open: async (search: string) => openPlayground(context ?? (await browser!.newContext({ viewport: { width: 1440, height: 1000 } })), `${served!.url}${search}`),
    until: (what: string, f: () => Promise<boolean>, ms: number, page: Page) => until(what, f, ms, page, `${shots}/${name}-timeout.png`),
  };
}

/**
 * In a page of the e2e build: a fault in the focused run's worker (tests/e2e/faulty-host.ts; run
 * workers are named 'facm-run <run id>'): 'poison' makes its next step non-finite, 'loseDevice'
 * destroys its GPU device.
 */
export async function injectFault(page: Page, fault: 'poison' | 'loseDevice'): Promise<void> {
  const row = await page.locator('tr.focus[data-testid^="run-row-"]').getAttribute('data-testid', { timeout: 1000 }).catch(() => null);
  const want = row ? `facm-run ${row.slice('run-row-'.length)}` : null; // no runs table: the page's one run
  const hooked: Awaited<ReturnType<Page['workers']>>[number][] = [];
  for (const w of page.workers()) {
    const name = await w.evaluate(() => ('__facmFaults' in self ? self.name : null)).catch(() => null);
    if (name?.startsWith('facm-run') && (want === null || name === want)) hooked.push(w);
  }
  if (hooked.length !== 1) throw new Error(`injectFault: want the ${want ?? 'one'} run worker with the fault hook (an e2e build), found ${hooked.length} among ${page.workers().length} workers`);
  await hooked[0].evaluate((f) => (self as unknown as { __facmFaults: Record<string, () => void> }).__facmFaults[f](), fault);
}

/** Names of the test-only fault hooks (tests/helpers/faults.ts, tests/e2e/faulty-host.ts) found in a build's JavaScript. */
export function hooksIn(outDir: string): { files: number; found: string[] } {
  const found = new Set<string>();
  let files = 0;
  const walk = (dir: string) => {
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.name.endsWith('.js')) {
        files++;
        const text = readFileSync(p, 'utf8');
        for (const hook of FAULT_HOOKS) if (text.includes(hook)) found.add(`${hook} (${f.name})`);
      }
    }
  };
  walk(outDir);
  return { files, found: [...found] };
}

const FAULT_HOOKS = ['__facmFaults', 'poisonNextStep', 'loseDevice', '__facmTestHooks', 'debugPoison'];
