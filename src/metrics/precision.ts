// Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019): each set's manifold is the
// union of balls around its points, each ball's radius the distance to the point's k-th nearest
// neighbour in its own set (k = 3). Precision: the fraction of generated points inside the real
// manifold (are the samples realistic?). Recall: the fraction of real points inside the generated
// manifold (do the samples cover the data?). A model that draws only some classes keeps its
// precision and loses recall; one that draws noise loses precision.
//
// Dimensions: n points of K features, row-major f64. Brute force O(n²·K): 1000 × 1000 × 32 is 3·10⁷.

export const PR_NEIGHBOURS = 3;

/** Squared Euclidean distances (na, nb) between the rows of a and b. */
function sqDistances(a: Float64Array, na: number, b: Float64Array, nb: number, K: number): Float64Array {
  const d = new Float64Array(na * nb);
  for (let i = 0; i < na; i++)
    for (let j = 0; j < nb; j++) {
      let s = 0;
      for (let c = 0; c < K; c++) {
        const e = a[i * K + c] - b[j * K + c];
        s += e * e;
      }
      d[i * nb + j] = s;
    }
  return d;
}

/** Per point, the squared distance to its k-th nearest other point of the same set. */
export function kthNeighbourRadii(x: Float64Array, n: number, K: number, k = PR_NEIGHBOURS): Float64Array {
  if (n <= k) throw new Error(`precision/recall: a set of ${n} points has no ${k}-th nearest neighbour (need more than ${k})`);
  const d = sqDistances(x, n, x, n, K);
  const r = new Float64Array(n);
  const best = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    best.fill(Infinity);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const v = d[i * n + j];
      if (v >= best[k - 1]) continue;
      // insert into the sorted k smallest
      let p = k - 1;
      while (p > 0 && best[p - 1] > v) {
        best[p] = best[p - 1];
        p--;
      }
      best[p] = v;
    }
    r[i] = best[k - 1];
  }
  return r;
}

/** The fraction of `query` rows inside at least one ball (centre a row of `ref`, squared radius `radii`). */
function coverage(query: Float64Array, nq: number, ref: Float64Array, nr: number, radii: Float64Array, K: number): number {
  const d = sqDistances(query, nq, ref, nr, K);
  let inside = 0;
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < nr; j++) {
      if (d[i * nr + j] <= radii[j]) {
        inside++;
        break;
      }
    }
  }
  return inside / nq;
}

export interface PrecisionRecall {
  precision: number;
  recall: number;
}

/**
 * Precision and recall of generated features `gen` (ng, K) against real features `real` (nr, K),
 * k-NN manifolds with k = PR_NEIGHBOURS. A non-finite generated point lies in no ball (and has an
 * infinite radius only if nothing finite is near it: NaN comparisons are false).
 */
export function precisionRecall(real: Float64Array, nr: number, gen: Float64Array, ng: number, K: number, k = PR_NEIGHBOURS): PrecisionRecall {
  if (real.length !== nr * K || gen.length !== ng * K) throw new Error(`precisionRecall: ${real.length} and ${gen.length} values for ${nr} and ${ng} rows of ${K} features`);
  const rReal = kthNeighbourRadii(real, nr, K, k);
  const rGen = kthNeighbourRadii(gen, ng, K, k);
  return { precision: coverage(gen, ng, real, nr, rReal, K), recall: coverage(real, nr, gen, ng, rGen, K) };
}
