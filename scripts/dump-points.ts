// Writes a 2-D point set (training draw, held-out draw and the sliced-W2 scale at n points, 4096 as
// the CLI's --eval-n) as JSON for scripts/replica2d.py:
// `npx tsx scripts/dump-points.ts eight-gaussians out/eight-gaussians.json [n]`.
import { writeFileSync } from 'node:fs';
import { makePoints } from '../src/data/points2d';
import { pointReference } from '../src/metrics/eval2d';

const [name = 'eight-gaussians', out = `${name}.json`, nArg = '4096'] = process.argv.slice(2);
const n = Number(nArg);
if (!Number.isInteger(n) || n < 16) throw new Error(`dump-points: n must be an integer ≥ 16 (got '${nArg}')`);
const train = makePoints(name, 8192, 0);
const ref = pointReference(name, 0, n);
writeFileSync(out, JSON.stringify({ train: Array.from(train.images), labels: Array.from(train.labels), heldOut: ref.heldOut, noise: ref.noise, classes: train.numClasses, n }));
console.log(`wrote ${out}: held-out ${ref.heldOut.toFixed(4)}, noise ${ref.noise.toFixed(4)} (sliced W2 at ${n} points)`);
