// adaLN modulation families, broadcast over tokens from chunks of the adaLN vector mod (B, chunks·D):
//   modulate       y = x·(1 + scale) + shift
//   gatedResidual  y = x + gate ⊙ h
// Backward sums over tokens run one thread per (b, d) looping over t: deterministic, no atomics.
// Backward overwrites only its own chunks of dMod, so one dMod (B, 6D) serves a whole DiT block.

import code from '../../shaders/modulate.wgsl?raw';
import type { Gpu, KernelModule, Tensor } from '../gpu/runtime';

/** x (B, T, D), mod (B, chunks·D); shift/scale are chunk indices. */
export interface ModDims {
  B: number;
  T: number;
  D: number;
  chunks: number;
  shift: number;
  scale: number;
}

export interface ModulateOps<T> {
  forward(x: T, mod: T, d: ModDims): T;
  jvp(x: T, tX: T, mod: T, tMod: T, d: ModDims): [T, T];
  /** Returns dX (new). Overwrites the shift and scale chunks of dMod (B, chunks·D), leaving other chunks untouched. */
  backward(x: T, mod: T, dY: T, d: ModDims, dMod: T): T;
}

/** x, h (B, T, D), mod (B, chunks·D); gate is a chunk index. */
export interface GateDims {
  B: number;
  T: number;
  D: number;
  chunks: number;
  gate: number;
}

export interface GatedResidualOps<T> {
  forward(x: T, h: T, mod: T, d: GateDims): T;
  jvp(x: T, tX: T, h: T, tH: T, mod: T, tMod: T, d: GateDims): [T, T];
  /** dX = dY (the caller reuses dY). Returns dH (new). Overwrites the gate chunk of dMod. */
  backward(h: T, mod: T, dY: T, d: GateDims, dMod: T): T;
}

// Partials shared by forward, jvp and backward (the WGSL has the same two).
/** modulate: ∂y/∂x = 1 + scale (∂y/∂scale = x, ∂y/∂shift = 1). */
const modDyDx = (scale: number) => 1 + scale;
/** gatedResidual: ∂y/∂h = gate (∂y/∂gate = h, ∂y/∂x = 1). */
const gateDyDh = (gate: number) => gate;

// ------------------------------------------------------------------ f64 reference

/** Calls f(e, col) for every element: e the flat (b, t, d) index, col = b·chunks·D + d (add k·D for chunk k). */
function eachElem(B: number, T: number, D: number, chunks: number, f: (e: number, col: number) => void): void {
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let i = 0; i < D; i++) f((b * T + t) * D + i, b * chunks * D + i);
}

export const modulateCpu: ModulateOps<Float64Array> = {
  forward(x, mod, { B, T, D, chunks, shift, scale }) {
    const y = new Float64Array(B * T * D);
    eachElem(B, T, D, chunks, (e, col) => (y[e] = x[e] * modDyDx(mod[col + scale * D]) + mod[col + shift * D]));
    return y;
  },
  jvp(x, tX, mod, tMod, d) {
    const { B, T, D, chunks, shift, scale } = d;
    const tY = new Float64Array(B * T * D);
    eachElem(B, T, D, chunks, (e, col) => (tY[e] = tX[e] * modDyDx(mod[col + scale * D]) + x[e] * tMod[col + scale * D] + tMod[col + shift * D]));
    return [modulateCpu.forward(x, mod, d), tY];
  },
  backward(x, mod, dY, { B, T, D, chunks, shift, scale }, dMod) {
    const dX = new Float64Array(B * T * D);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < D; i++) {
        dMod[b * chunks * D + shift * D + i] = 0;
        dMod[b * chunks * D + scale * D + i] = 0;
      }
    }
    eachElem(B, T, D, chunks, (e, col) => {
      dX[e] = dY[e] * modDyDx(mod[col + scale * D]);
      dMod[col + shift * D] += dY[e];
      dMod[col + scale * D] += dY[e] * x[e];
    });
    return dX;
  },
};

export const gatedResidualCpu: GatedResidualOps<Float64Array> = {
  forward(x, h, mod, { B, T, D, chunks, gate }) {
    const y = new Float64Array(B * T * D);
    eachElem(B, T, D, chunks, (e, col) => (y[e] = x[e] + gateDyDh(mod[col + gate * D]) * h[e]));
    return y;
  },
  jvp(x, tX, h, tH, mod, tMod, d) {
    const { B, T, D, chunks, gate } = d;
    const tY = new Float64Array(B * T * D);
    eachElem(B, T, D, chunks, (e, col) => (tY[e] = tX[e] + gateDyDh(mod[col + gate * D]) * tH[e] + tMod[col + gate * D] * h[e]));
    return [gatedResidualCpu.forward(x, h, mod, d), tY];
  },
  backward(h, mod, dY, { B, T, D, chunks, gate }, dMod) {
    const dH = new Float64Array(B * T * D);
    for (let b = 0; b < B; b++) for (let i = 0; i < D; i++) dMod[b * chunks * D + gate * D + i] = 0;
    eachElem(B, T, D, chunks, (e, col) => {
      dH[e] = dY[e] * gateDyDh(mod[col + gate * D]);
      dMod[col + gate * D] += dY[e] * h[e];
    });
    return dH;
  },
};

// ------------------------------------------------------------------ GPU

type Entry = 'modulate_forward' | 'modulate_jvp' | 'modulate_backward' | 'gate_forward' | 'gate_jvp' | 'gate_backward';

export const modulateKernel: KernelModule<Entry> = {
  name: 'modulate',
  code,
  entries: {
    modulate_forward: ['dims', 'mod_', 'x', 'y'],
    modulate_jvp: ['dims', 'mod_', 'x', 'tX', 'tMod', 'yJ', 'tY'],
    modulate_backward: ['dims', 'mod_', 'x', 'dY', 'dX', 'dMod'],
    gate_forward: ['dims', 'mod_', 'gx', 'h', 'gy'],
    gate_jvp: ['dims', 'mod_', 'gx', 'h', 'gtX', 'tH', 'gtMod', 'gyJ', 'gtY'],
    gate_backward: ['dims', 'mod_', 'gh', 'gdY', 'dH', 'gdMod'],
  },
};

const WG = 256;
const MAX_GRID = 65535;

/** Elementwise grid over n elements; past the per-dimension limit it spills into grid y. */
function elemGrid(n: number): [number, number] {
  const groups = Math.ceil(n / WG);
  return [Math.min(groups, MAX_GRID), Math.ceil(groups / MAX_GRID)];
}

/** Backward grid: one thread per (b, d). */
const bdGrid = (B: number, D: number): [number] => [Math.ceil((B * D) / WG)];

export function modulateGpu(gpu: Gpu): ModulateOps<Tensor> {
  const params = ({ B, T, D, chunks, shift, scale }: ModDims) => ({ B, T, D, C: chunks, k0: shift, k1: scale });
  return {
    forward(x, mod, d) {
      const y = gpu.alloc([d.B, d.T, d.D], 'modulate.y');
      gpu.dispatch(modulateKernel, 'modulate_forward', params(d), [mod, x, y], elemGrid(d.B * d.T * d.D));
      return y;
    },
    jvp(x, tX, mod, tMod, d) {
      const y = gpu.alloc([d.B, d.T, d.D], 'modulate.y');
      const tY = gpu.alloc([d.B, d.T, d.D], 'modulate.tY');
      gpu.dispatch(modulateKernel, 'modulate_jvp', params(d), [mod, x, tX, tMod, y, tY], elemGrid(d.B * d.T * d.D));
      return [y, tY];
    },
    backward(x, mod, dY, d, dMod) {
      const dX = gpu.alloc([d.B, d.T, d.D], 'modulate.dX');
      gpu.dispatch(modulateKernel, 'modulate_backward', params(d), [mod, x, dY, dX, dMod], bdGrid(d.B, d.D));
      return dX;
    },
  };
}

export function gatedResidualGpu(gpu: Gpu): GatedResidualOps<Tensor> {
  const params = ({ B, T, D, chunks, gate }: GateDims) => ({ B, T, D, C: chunks, k0: gate, k1: 0 });
  return {
    forward(x, h, mod, d) {
      const y = gpu.alloc([d.B, d.T, d.D], 'gatedResidual.y');
      gpu.dispatch(modulateKernel, 'gate_forward', params(d), [mod, x, h, y], elemGrid(d.B * d.T * d.D));
      return y;
    },
    jvp(x, tX, h, tH, mod, tMod, d) {
      const y = gpu.alloc([d.B, d.T, d.D], 'gatedResidual.y');
      const tY = gpu.alloc([d.B, d.T, d.D], 'gatedResidual.tY');
      gpu.dispatch(modulateKernel, 'gate_jvp', params(d), [mod, x, h, tX, tH, tMod, y, tY], elemGrid(d.B * d.T * d.D));
      return [y, tY];
    },
    backward(h, mod, dY, d, dMod) {
      const dH = gpu.alloc([d.B, d.T, d.D], 'gatedResidual.dH');
      gpu.dispatch(modulateKernel, 'gate_backward', params(d), [mod, h, dY, dH, dMod], bdGrid(d.B, d.D));
      return dH;
    },
  };
}
