// Downloads: metrics as CSV, sample grids as PNG (util/png's grid + encoder), checkpoint bytes.

import { encodePng, imageGrid } from '../../util/png';
import { METRIC_FIELDS, type ImageSet } from '../../worker/protocol';
import { seriesOf } from '../state/metrics';
import type { RunView } from '../state/store';

export function download(name: string, data: Uint8Array | string, mime: string): void {
  const blob = new Blob([data as BlobPart], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** One row per (run, step): every per-step quantity; empty cells where a run has none. */
export function metricsCsv(runs: RunView[]): string {
  const lines = [['run', 'objective', 'step', ...METRIC_FIELDS].join(',')];
  for (const r of runs) {
    const s = seriesOf(r.id);
    const steps = s.steps();
    const cols = METRIC_FIELDS.map((k) => s.get(k));
    for (let i = 0; i < s.n; i++)
      lines.push([csvCell(r.name), r.config.objective, String(steps[i]), ...cols.map((c) => (Number.isFinite(c[i]) ? String(c[i]) : ''))].join(','));
  }
  return lines.join('\n') + '\n';
}

/** The cell size that shows images of H pixels at about `target` CSS pixels. */
export const scaleFor = (H: number, target = 20) => Math.max(1, Math.round(target / H));

/** A 4-column grid of an image set as RGBA. */
export function gridOf(set: ImageSet, scale = 1): { rgba: Uint8Array; width: number; height: number } {
  return imageGrid(set.pixels, set.N, set.C, set.H, set.W, Math.ceil(Math.sqrt(set.N)), 1, scale);
}

/** Several grids side by side with a white gap, as one PNG. */
export async function gridsPng(sets: ImageSet[], scale: number): Promise<Uint8Array> {
  const grids = sets.map((s) => gridOf(s, scale));
  const gap = 8 * scale;
  const width = grids.reduce((w, g) => w + g.width, 0) + gap * (grids.length - 1);
  const height = Math.max(...grids.map((g) => g.height));
  const rgba = new Uint8Array(width * height * 4).fill(255);
  let x0 = 0;
  for (const g of grids) {
    for (let y = 0; y < g.height; y++) rgba.set(g.rgba.subarray(y * g.width * 4, (y + 1) * g.width * 4), (y * width + x0) * 4);
    x0 += g.width + gap;
  }
  return encodePng(rgba, width, height);
}
