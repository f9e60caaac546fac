// Pieces shared by the timing tools (`npm run bench`, scripts/step-cost.ts).

import type { DiTConfig } from '../model/config';
import { BUILTIN, isPointShape } from '../data/index';
import type { Dataset } from '../data/dataset';

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A built-in data set of the model's shape for timing steps: eight Gaussians for points, shapes at 8, 16 or 32 pixels. */
export function timingData(cfg: DiTConfig, n: number): Dataset {
  return BUILTIN[isPointShape(cfg) ? 'eight-gaussians' : cfg.H <= 8 ? 'shapes8' : cfg.H <= 16 ? 'shapes16' : 'shapes32'].make(0, n);
}
