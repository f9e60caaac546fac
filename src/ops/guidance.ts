// Guidance family: classifier-free guidance of a stacked pair, y = u + w·(c − u) with x = [c; u]
// (docs/math.md, "Teacher and student"). The distillation teacher runs its conditional and
// unconditional passes as one forward of 2B rows; this combines the halves without a read-back.
// The map is linear in x: its tangent is the forward of the tangent, its cotangent w·dY and (1 − w)·dY.

import guidanceCode from '../../shaders/guidance.wgsl?raw';
import type { Gpu, KernelModule, Tensor } from '../gpu/runtime';
import { grid } from './elementwise';

/** y (n) = u + w·(c − u) from x (2n) = [c; u]. */
export interface GuideOps<T> {
  forward(x: T, w: number, n: number): T;
  jvp(x: T, tX: T, w: number, n: number): [T, T];
  /** dX (2n, new): [w·dY; (1 − w)·dY]. */
  backward(dY: T, w: number, n: number): T;
}

// ------------------------------------------------------------------ f64 reference

function guideRef(x: Float64Array, w: number, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = x[n + i] + w * (x[i] - x[n + i]);
  return y;
}

export const guideCpu: GuideOps<Float64Array> = {
  forward: guideRef,
  jvp: (x, tX, w, n) => [guideRef(x, w, n), guideRef(tX, w, n)],
  backward: (dY, w, n) => {
    const dX = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      dX[i] = w * dY[i];
      dX[n + i] = (1 - w) * dY[i];
    }
    return dX;
  },
};

// ------------------------------------------------------------------ GPU

export const guidanceKernel: KernelModule<'guide_forward' | 'guide_backward'> = {
  name: 'guidance',
  code: guidanceCode,
  entries: {
    guide_forward: ['dims', 'y', 'x'],
    guide_backward: ['dims', 'dX', 'dY'],
  },
};

const WG = 256;

export function guideGpu(gpu: Gpu): GuideOps<Tensor> {
  const check = (n: number, t: Tensor, want: number, what: string) => {
    if (t.size < want) throw new Error(`guide: ${what} has ${t.size} elements, needs ${want} for n = ${n}`);
  };
  const fwd = (x: Tensor, w: number, n: number, label: string) => {
    check(n, x, 2 * n, 'the stacked input [c; u]');
    const y = gpu.alloc([n], label);
    gpu.dispatch(guidanceKernel, 'guide_forward', { n, w }, [y, x], grid(gpu, Math.ceil(n / WG)), { WG });
    return y;
  };
  return {
    forward: (x, w, n) => fwd(x, w, n, 'guide.y'),
    jvp: (x, tX, w, n) => [fwd(x, w, n, 'guide.y'), fwd(tX, w, n, 'guide.tY')],
    backward(dY, w, n) {
      check(n, dY, n, 'dY');
      const dX = gpu.alloc([2 * n], 'guide.dX');
      gpu.dispatch(guidanceKernel, 'guide_backward', { n, w }, [dX, dY], grid(gpu, Math.ceil(n / WG)), { WG });
      return dX;
    },
  };
}
