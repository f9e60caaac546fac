import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { bundleBudget } from './scripts/bundle-budget.ts';

// WGSL comes in as `import code from '../../shaders/x.wgsl?raw'` (Vite's built-in ?raw), the same
// specifier scripts/wgsl-loader.mjs serves in Node. src/gpu/device.ts reaches Dawn (`webgpu`,
// through a variable specifier) and `node:fs` only on its Node path: both stay external, unresolved
// and never fetched by the browser, instead of Vite's browser-compat stub and its warning.
//
// Mode 'e2e' (the browser tests' build, scripts/e2e-helpers.ts): the worker's host module
// (src/worker/host.ts) is replaced by tests/e2e/faulty-host.ts, which wraps it with the tests' fault
// injector. The production build never sees that file (tests/e2e/smoke.test.ts greps the bundle).
const faultyHost = fileURLToPath(new URL('./tests/e2e/faulty-host.ts', import.meta.url));
const e2eFaults = (): Plugin => ({
  name: 'facm-e2e-faults',
  enforce: 'pre',
  resolveId(source, importer) {
    if (source === './host' && importer?.replace(/\\/g, '/').endsWith('/src/worker/worker.ts')) return faultyHost;
    return null;
  },
});

export default defineConfig(({ mode }) => ({
  // bundleBudget: the build fails when the page's gzipped JavaScript passes 700 KiB.
  plugins: [react(), bundleBudget()],
  // plotly.js-cartesian-dist-min (scatter + heatmap and the other 2-D traces) is one prebuilt 1.4 MB
  // file, loaded lazily by the plots after the first paint: not worth a warning.
  build: { target: 'es2022', chunkSizeWarningLimit: 1500, rolldownOptions: { external: [/^node:/, 'webgpu'] } },
  worker: { format: 'es', plugins: () => (mode === 'e2e' ? [e2eFaults()] : []), rolldownOptions: { external: [/^node:/, 'webgpu'] } },
  preview: { host: '127.0.0.1' },
  server: { host: '127.0.0.1' },
}));
