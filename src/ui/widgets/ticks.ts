// Tick labels for a log axis that read at any range: Plotly's own labels on a log axis either show
// only the decades (nothing at all inside a range under a decade) or every 2..9 in between, which
// overlap into a smear once the axis is short. Here: the coarsest 1-2-5 family that puts at least
// three labels in the range, at most `max` labels, and plain linear steps when even 1..9 is too
// coarse (a range like 0.31–0.38).

export interface Ticks {
  vals: number[];
  text: string[];
}

/** A number as a short label: 0.5, 0.02, 1.5, 2000, 1e-5, 3e+6. */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return String(Number(v.toPrecision(6)));
  const [m, e] = v.toExponential(2).split('e');
  return `${Number(m)}e${e}`;
}

/** 1, 2 or 5 × 10^k, the smallest at least x. */
export function niceStep(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x * (1 - 1e-9)) return m * p;
  return 10 * p;
}

const FAMILIES = [[1], [1, 2, 5], [1, 2, 3, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]];

/** Ticks for a log axis showing [lo, hi] (data units, both > 0). */
export function logTicks(lo: number, hi: number, max = 6): Ticks {
  if (!(lo > 0) || !(hi > 0) || !Number.isFinite(lo) || !Number.isFinite(hi)) return { vals: [], text: [] };
  if (hi < lo) [lo, hi] = [hi, lo];
  const eps = 1e-9;
  const inRange = (v: number) => v >= lo * (1 - eps) && v <= hi * (1 + eps);
  const k0 = Math.floor(Math.log10(lo));
  const k1 = Math.ceil(Math.log10(hi));
  const family = (ms: number[]) => {
    const out: number[] = [];
    for (let k = k0; k <= k1; k++) for (const m of ms) out.push(Number((m * 10 ** k).toPrecision(6)));
    return out.filter(inRange);
  };
  let vals: number[] | null = null;
  for (const ms of FAMILIES) {
    const v = family(ms);
    if (v.length > max) {
      // Too many already: thin the decades (every 2nd, 3rd, ...) or keep the previous family.
      if (ms.length === 1) {
        const every = Math.ceil(v.length / max);
        vals = v.filter((x) => Math.round(Math.log10(x)) % every === 0);
      }
      break;
    }
    vals = v;
    if (v.length >= 3) break;
  }
  if (!vals || vals.length < 2) {
    // Under a step of 1..9: linear 1-2-5 steps, about four of them (and at least two).
    for (const parts of [4, 8, 16]) {
      const step = niceStep((hi - lo) / parts);
      vals = [];
      for (let i = Math.ceil(lo / step - eps); i * step <= hi * (1 + eps); i++) vals.push(Number((i * step).toPrecision(6)));
      if (vals.length >= 2) break;
    }
  }
  const out = vals ?? [];
  return { vals: out, text: out.map(tickLabel) };
}

/** The smallest and largest positive finite values among the series (null when none). */
export function positiveRange(series: Iterable<ArrayLike<number | null>>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const ys of series)
    for (let i = 0; i < ys.length; i++) {
      const y = ys[i];
      if (y !== null && Number.isFinite(y) && y > 0) {
        lo = Math.min(lo, y);
        hi = Math.max(hi, y);
      }
    }
  return lo <= hi ? [lo, hi] : null;
}
