// Fault injection from outside the production classes: the one wrapper tests build to make a run
// go non-finite or lose its device (Node tests, scripts/soak.ts, and the e2e test build of the
// worker, tests/e2e/faulty-host.ts).
//
//   backend(gpu)   the op backend a Trainer runs on (TrainingSession's and the worker Host's
//                  `backend` option): gpuBackend(gpu), with linear and linear+GELU wrapped so an
//                  armed poison writes NaN into one element of one layer's output, on the GPU, in
//                  order with the kernels around it, as a diverging activation would.
//   track(gpu)     remembers a device as it is opened, so loseDevice() can destroy it.
//   capLimit(...)  makes a device report a lower limit (e.g. maxComputeWorkgroupsPerDimension).

import type { Gpu, Tensor } from '../../src/gpu/runtime';
import { gpuBackend, type Backend } from '../../src/ops/backend';
import { geluCpu } from '../../src/ops/elementwise';
import type { ParamTable } from '../../src/model/params';

export interface PoisonSpec {
  /** A linear layer, e.g. 'blocks.0.attn.qkv' (fc1's output is its pre-activation, GELU applied after). */
  name: string;
  /** The element of the layer's (rows, out) output. */
  index: number;
  /** Default NaN. */
  value?: number;
}

/** What a poison needs to know of the run: its parameter table (where the layer's weight lives) and batch. */
export interface RunShape {
  table: ParamTable;
  cfg: { batch: number };
}

export class Faults {
  /** The armed poison: the weight (an offset in the 'params' buffer) whose layer output gets `value` at `index`. */
  private poison: { weightOffset: number; index: number; value: number; inStep: boolean } | null = null;
  private readonly gpus: Gpu[] = [];

  /**
   * The next training step writes NaN (or `value`) into element `index` of layer `name`'s output,
   * in every forward of that step (each branch of the objective); forwards outside a step (sampling)
   * are left alone. Disarmed when that step reaches its optimizer.
   */
  poisonNextStep(run: RunShape, p: PoisonSpec): void {
    const w = run.table.byName.get(`${p.name}.weight`);
    if (!w || !run.table.byName.has(`${p.name}.bias`)) throw new Error(`poisonNextStep: '${p.name}' is not a linear layer of this model`);
    const limit = run.cfg.batch * w.shape[0];
    if (!Number.isInteger(p.index) || p.index < 0 || p.index >= limit) throw new Error(`poisonNextStep: index ${p.index} outside [0, ${limit})`);
    this.poison = { weightOffset: w.offset, index: p.index, value: p.value ?? NaN, inStep: false };
  }

  /** Is a poison armed (not yet submitted with a step)? */
  get armed(): boolean {
    return this.poison !== null;
  }

  disarm(): void {
    this.poison = null;
  }

  /** Remembers `gpu` as the run's current device (wrap an acquire / openGpu with it). */
  track = (gpu: Gpu): Gpu => {
    this.gpus.push(gpu);
    return gpu;
  };

  /** How many devices were opened through track(). */
  get opened(): number {
    return this.gpus.length;
  }

  /** Destroys the latest tracked device, as a driver reset would lose it. */
  loseDevice(): void {
    const gpu = this.gpus.at(-1);
    if (!gpu) throw new Error('loseDevice: no device was opened through Faults.track');
    gpu.device.destroy();
  }

  /** gpuBackend(gpu), with the linear layers' outputs open to an armed poison. */
  backend = (gpu: Gpu): Backend<Tensor> => {
    const inner = gpuBackend(gpu);
    const { linear, linearGelu } = inner.ops;
    const target = (w: Tensor) => {
      const p = this.poison;
      return p?.inStep && w.buffer.label === 'params' && w.offset === 4 * p.weightOffset ? p : null;
    };
    const poke = (t: Tensor, index: number, value: number) =>
      gpu.write({ buffer: t.buffer, offset: t.offset + 4 * index, size: 1, shape: [1], pooled: false }, [value]);
    // The poisoned step is the next training step: it starts when the Trainer zeroes its gradient
    // buffer and its model runs end when the optimizer's kernels come (sampling between steps is left alone).
    const clear = gpu.clear.bind(gpu);
    gpu.clear = (t: Tensor) => {
      if (this.poison && t.buffer.label === 'grads') this.poison.inStep = true;
      clear(t);
    };
    const dispatch = gpu.dispatch.bind(gpu);
    gpu.dispatch = ((kernel, ...rest) => {
      if (this.poison?.inStep && kernel.name === 'optim') this.poison = null;
      return dispatch(kernel, ...rest);
    }) as Gpu['dispatch'];
    return {
      ...inner,
      ops: {
        ...inner.ops,
        linear: {
          ...linear,
          forward: (x, w, b, d) => {
            const y = linear.forward(x, w, b, d);
            const p = target(w);
            if (p) (poke(y, p.index, p.value));
            return y;
          },
          jvp: (x, tX, w, b, d) => {
            const out = linear.jvp(x, tX, w, b, d);
            const p = target(w);
            if (p) (poke(out[0], p.index, p.value));
            return out;
          },
        },
        linearGelu: {
          ...linearGelu,
          // As if the unfused GELU had read the poisoned pre-activation.
          forward: (x, w, b, d) => {
            const out = linearGelu.forward(x, w, b, d);
            const p = target(w);
            if (p) (poke(out[0], p.index, p.value), poke(out[1], p.index, geluCpu.forward(Float64Array.of(p.value), 1)[0]));
            return out;
          },
          jvp: (x, tX, w, b, d) => {
            const out = linearGelu.jvp(x, tX, w, b, d);
            const p = target(w);
            if (p) (poke(out[0], p.index, p.value), poke(out[1], p.index, geluCpu.forward(Float64Array.of(p.value), 1)[0]));
            return out;
          },
        },
      },
    };
  };
}

/** Makes `gpu` report `value` for one limit until the returned function is called. */
export function capLimit(gpu: Gpu, name: keyof GPUSupportedLimits, value: number): () => void {
  const real = gpu.device.limits;
  const capped = new Proxy(real, { get: (t, k) => (k === name ? value : (t as unknown as Record<string | symbol, unknown>)[k]) });
  Object.defineProperty(gpu, 'limits', { value: capped, configurable: true });
  return () => void delete (gpu as unknown as { limits?: unknown }).limits;
}
