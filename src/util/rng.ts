// Seeded random numbers for reproducible runs and tests: a 32-bit PCG-style generator
// (mulberry32) plus Box–Muller normals. Same seed → same stream on every platform.

export interface RngState {
  s: number;
  spare: number | null;
}

export class Rng {
  private s: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.s = (seed >>> 0) ^ 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  normals(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * scale;
    return out;
  }
  /** The generator's position (for checkpoints): restoring it with `setState` continues the same stream. */
  getState(): RngState {
    return { s: this.s, spare: this.spare };
  }
  setState(st: RngState): void {
    if (!Number.isInteger(st.s) || st.s < -0x80000000 || st.s > 0xffffffff) throw new Error(`Rng state s=${st.s} is not a 32-bit integer`);
    if (st.spare !== null && !Number.isFinite(st.spare)) throw new Error(`Rng state spare=${st.spare} is not a number`);
    this.s = st.s;
    this.spare = st.spare;
  }
  /** A child generator with an independent stream (for per-purpose streams off one seed). */
  fork(tag: number): Rng {
    return new Rng(Math.imul((this.next() * 4294967296) >>> 0, 2654435761) ^ tag);
  }
}
