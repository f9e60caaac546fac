// Elementwise family: SiLU, GELU (tanh form), add, and the broadcast add of a fixed (R) row.
//
// Dimension legend: n elements of any shape, flattened; B rows of length R (broadcast add, n = B·R).
// Grid: one thread per element in workgroups of WG, laid out (x, y) so n may exceed
//   WG × maxComputeWorkgroupsPerDimension: i = (wid.y·nwg.x + wid.x)·WG + lid.x.
// Uses:
//   silu_*, gelu_*  forward   y = f(x)
//                   jvp       y = f(x), tY = f'(x)·tX        f' written once: silu_grad, gelu_grad
//                   backward  dX = f'(x)·dY                  (overwrites dX)
//   add             y = a + b; also the JVP tangent tY = tA + tB. Its backward dA = dB = dY is a copy (TS).
//   broadcast_add   y[b, r] = x[b, r] + p[r]; its tangent tY = tX and backward dX = dY are copies (TS).

struct Dims {
  n: u32,
  R: u32, // broadcast_add only
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;  // (n)
@group(0) @binding(1) var<storage, read_write> dX: array<f32>; // (n)
@group(0) @binding(2) var<storage, read> x: array<f32>;        // (n)
@group(0) @binding(2) var<storage, read> a: array<f32>;        // (n)
@group(0) @binding(3) var<storage, read_write> tY: array<f32>; // (n)
@group(0) @binding(3) var<storage, read> dY: array<f32>;       // (n)
@group(0) @binding(3) var<storage, read> b: array<f32>;        // (n)
@group(0) @binding(3) var<storage, read> p: array<f32>;        // (R)
@group(0) @binding(4) var<storage, read> tX: array<f32>;       // (n)

fn flat(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

// ------------------------------------------------------------------ SiLU

// σ(x) with exp of a non-positive argument only: finite for every x (±300, ±1e4, ±inf).
fn sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
}

fn silu(v: f32) -> f32 {
  return v * sigmoid(v);
}

// d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))). Used by silu_jvp and silu_backward.
fn silu_grad(v: f32) -> f32 {
  let s = sigmoid(v);
  return s * (1.0 + v * (1.0 - s));
}

@compute @workgroup_size(WG)
fn silu_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  y[i] = silu(x[i]);
}

@compute @workgroup_size(WG)
fn silu_jvp(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  let v = x[i];
  y[i] = silu(v);
  tY[i] = silu_grad(v) * tX[i];
}

// Overwrites dX = silu'(x)·dY. Accumulates nothing.
@compute @workgroup_size(WG)
fn silu_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  dX[i] = silu_grad(x[i]) * dY[i];
}

// ------------------------------------------------------------------ GELU (tanh form)

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

// d/dx gelu = ½(1 + t) + ½x(1 − t²)·K(1 + 3C·x²), t = tanh(inner). Used by gelu_jvp and gelu_backward.
// Where the argument is clamped, 1 − t² is 0 in f32; the select keeps x·0·x² (inf for huge x) out.
fn gelu_grad(v: f32) -> f32 {
  let u = gelu_inner(v);
  let t = tanh(clamp(u, -TANH_CLAMP, TANH_CLAMP));
  let slope = 0.5 * v * (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_C * v * v);
  return 0.5 * (1.0 + t) + select(slope, 0.0, abs(u) >= TANH_CLAMP);
}

@compute @workgroup_size(WG)
fn gelu_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  y[i] = gelu(x[i]);
}

@compute @workgroup_size(WG)
fn gelu_jvp(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  let v = x[i];
  y[i] = gelu(v);
  tY[i] = gelu_grad(v) * tX[i];
}

// Overwrites dX = gelu'(x)·dY. Accumulates nothing.
@compute @workgroup_size(WG)
fn gelu_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  dX[i] = gelu_grad(x[i]) * dY[i];
}

// ------------------------------------------------------------------ add, broadcast add

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  y[i] = a[i] + b[i];
}

@compute @workgroup_size(WG)
fn broadcast_add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  y[i] = x[i] + p[i % dims.R];
}
