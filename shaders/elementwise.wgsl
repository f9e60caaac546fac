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
@group(0) @binding(5) var<storage, read_write> dX: array<f32>; // (n)
@group(0) @binding(2) var<storage, read> x: array<f32>;        // (n)
@group(0) @binding(6) var<storage, read> a: array<f32>;        // (n)
@group(0) @binding(3) var<storage, read_write> tY: array<f32>; // (n)
@group(0) @binding(7) var<storage, read> dY: array<f32>;       // (n)
@group(0) @binding(8) var<storage, read> b: array<f32>;        // (n)
@group(0) @binding(9) var<storage, read> p: array<f32>;        // (R)
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

// gelu and gelu_grad: shaders/gelu.wgsl, prepended to this module (src/ops/elementwise.ts).

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
