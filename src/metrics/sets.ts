// The images a run's samples are measured against, for the CLI's `eval` and the playground alike:
// the training images (the feature space and FD's reference) and held-out images (the floor).
// Built-in sets are drawn from the metrics' own seeds, so every run on one built-in set is measured
// in the same space whatever its seed; shipped sets have a held-out part; a user's files without a
// test split hold out their last images.

import type { Dataset } from '../data/dataset';
import { BUILTIN } from '../data/procedural';
import { SHIPPED } from '../data/shipped';
import { heldOutSplit, REFERENCE_SEED } from './quality';

export interface ReferenceSets {
  train: Dataset;
  heldOut: Dataset;
}

/**
 * `runData`: the run's training images as the model sees them (resized; not read for built-in sets). `fit` resizes other images
 * the same way; `shippedHeldOut` reads a shipped set's held-out part (fetch in the page, disk in Node).
 */
export async function referenceSets(name: string, runData: () => Dataset | Promise<Dataset>, n: number, fit: (ds: Dataset) => Dataset, shippedHeldOut: (name: string) => Promise<Dataset>): Promise<ReferenceSets> {
  if (BUILTIN[name]) return { train: fit(BUILTIN[name].make(REFERENCE_SEED)), heldOut: fit(BUILTIN[name].make(REFERENCE_SEED + 1, n)) };
  if (SHIPPED[name]) return { train: await runData(), heldOut: fit(await shippedHeldOut(name)) };
  return heldOutSplit(await runData(), n);
}
