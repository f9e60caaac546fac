// expectClose: one tolerance helper for every numeric comparison. A failure reports the max
// difference, where it is (as a multi-index when dims are given) and the first mismatches.

export interface Tol {
  /** Absolute tolerance; default `rtol × max|want|` (f32 error scales with the data, not per element). */
  atol?: number;
  rtol?: number;
}

function unravel(i: number, dims?: readonly number[]): string {
  if (!dims || dims.length === 0) return `[${i}]`;
  const idx: number[] = [];
  for (let k = dims.length - 1; k >= 0; k--) {
    idx.unshift(i % dims[k]);
    i = Math.floor(i / dims[k]);
  }
  return `(${idx.join(', ')})`;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function expectClose(
  name: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: Tol = {},
  dims?: readonly number[],
): void {
  if (got.length !== want.length) throw new Error(`${name}: length ${got.length}, want ${want.length}`);
  const rtol = tol.rtol ?? 1e-4;
  const atol = tol.atol ?? rtol * Math.max(maxAbs(want), 1e-30);
  let worst = -1;
  let worstDiff = 0;
  const bad: string[] = [];
  let nBad = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    const diff = Math.abs(g - w);
    const ok = Number.isFinite(g) === Number.isFinite(w) && (!Number.isFinite(w) ? g === w : diff <= atol + rtol * Math.abs(w));
    if (!(diff <= worstDiff) || Number.isNaN(diff)) {
      worstDiff = Number.isNaN(diff) ? Infinity : diff;
      worst = i;
    }
    if (!ok) {
      nBad++;
      if (bad.length < 5) bad.push(`${unravel(i, dims)} got ${g} want ${w}`);
    }
  }
  if (nBad > 0) {
    throw new Error(
      `${name}: ${nBad}/${got.length} elements off (atol ${atol.toExponential(2)}, rtol ${rtol}); ` +
        `max |diff| ${worstDiff.toExponential(3)} at ${unravel(worst, dims)}; first: ${bad.join('; ')}`,
    );
  }
}

/** Scalars: |got − want| ≤ rtol·max(|got|, |want|) + atol. */
export function expectScalarClose(name: string, got: number, want: number, rtol: number, atol = 0): void {
  const diff = Math.abs(got - want);
  if (!(diff <= rtol * Math.max(Math.abs(got), Math.abs(want)) + atol))
    throw new Error(`${name}: got ${got}, want ${want} (|diff| ${diff.toExponential(3)}, rtol ${rtol}, atol ${atol})`);
}

export function expectFinite(name: string, a: ArrayLike<number>): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw new Error(`${name}: non-finite ${a[i]} at [${i}]`);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
