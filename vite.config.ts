import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { bundleBudget } from './scripts/bundle-budget.ts';

// WGSL comes in as `import code from '../../shaders/x.wgsl?raw'` (Vite's built-in ?raw), the same
// specifier scripts/wgsl-loader.mjs serves in Node. src/gpu/device.ts reaches Dawn (`webgpu`,
// through a variable specifier) and `node:fs` only on its Node path: both stay external, unresolved
// and never fetched by the browser, instead of Vite's browser-compat stub and its warning.
export default defineConfig({
  // bundleBudget: the build fails when the page's gzipped JavaScript passes 700 KiB.
  plugins: [react(), bundleBudget()],
  // plotly.js-cartesian-dist-min (scatter + heatmap and the other 2-D traces) is one prebuilt 1.4 MB
  // file, loaded lazily by the plots after the first paint: not worth a warning.
  build: { target: 'es2022', chunkSizeWarningLimit: 1500, rolldownOptions: { external: [/^node:/, 'webgpu'] } },
  worker: { format: 'es', rolldownOptions: { external: [/^node:/, 'webgpu'] } },
  preview: { host: '127.0.0.1' },
  server: { host: '127.0.0.1' },
});
