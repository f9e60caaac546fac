// GELU (tanh form) and its derivative: the one WGSL copy, prepended to the modules that use it
// (src/ops/elementwise.ts: the activation kernels; src/ops/linear.ts: the matmul GELU epilogues).

const GELU_K = 0.7978845608028654; // √(2/π)
const GELU_C = 0.044715;
// tanh(15) rounds to 1 in f32, so clamping its argument to ±15 is exact, and it keeps WGSL's tanh
// (undefined for large |x|; exp-based implementations give inf/inf) finite.
const TANH_CLAMP = 15.0;

fn gelu_inner(v: f32) -> f32 {
  return GELU_K * (v + GELU_C * v * v * v);
}

fn gelu(v: f32) -> f32 {
  return 0.5 * v * (1.0 + tanh(clamp(gelu_inner(v), -TANH_CLAMP, TANH_CLAMP)));
}

// d/dx gelu = ½(1 + t) + ½x(1 − t²)·K(1 + 3C·x²), t = tanh(inner). Used by gelu_jvp, gelu_backward
// and the matmul GELU-gradient epilogue.
// Where the argument is clamped, 1 − t² is 0 in f32; the select keeps x·0·x² (inf for huge x) out.
fn gelu_grad(v: f32) -> f32 {
  let u = gelu_inner(v);
  let t = tanh(clamp(u, -TANH_CLAMP, TANH_CLAMP));
  let slope = 0.5 * v * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_C * v * v);
  return 0.5 * (1.0 + t) + select(slope, 0.0, abs(u) >= TANH_CLAMP);
}
