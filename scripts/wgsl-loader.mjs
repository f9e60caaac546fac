// Node loader hook: lets `import src from './x.wgsl?raw'` work outside Vite (CLI and tests),
// so shader imports are written once, the Vite way, for both the browser and Node.
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
import { readFile } from 'node:fs/promises';
export async function resolve(spec, ctx, next) {
  if (/\\.wgsl(\\?raw)?$/.test(spec)) {
    const url = new URL(spec.replace(/\\?raw$/, ''), ctx.parentURL);
    return { url: url.href + '?raw', format: 'wgsl-raw', shortCircuit: true };
  }
  return next(spec, ctx);
}
export async function load(url, ctx, next) {
  if (url.endsWith('.wgsl?raw')) {
    const text = await readFile(new URL(url.slice(0, -4)), 'utf8');
    return { format: 'module', source: 'export default ' + JSON.stringify(text) + ';', shortCircuit: true };
  }
  return next(url, ctx);
}
`));
