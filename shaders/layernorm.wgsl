// LayerNorm family (no affine parameters, eps 1e-6, biased variance as in PyTorch), normalised
// over the last dimension.
//
// Dimension legend: R rows (B·T tokens), D features per row. Row-major (R, D) everywhere.
//   forward  y  = x̂ = (x − μ)·ρ,  μ = mean(x), ρ = 1/√(var(x) + eps)
//   jvp      tY = ρ·(tX − mean(tX) − x̂·mean(tX·x̂))
//   backward dX = ρ·(dY − mean(dY) − x̂·mean(dY·x̂))   (the Jacobian is symmetric: same form)
// Two layouts, chosen per shape and adapter in src/ops/layernorm.ts:
//   forward, jvp, backward              one workgroup of WG threads per row (wide rows on a GPU);
//                                       rows past 65535 workgroups spill into grid y
//   forward_row, jvp_row, backward_row  one thread per row, no workgroup memory and no barrier
//                                       (narrow rows: D = 32 would idle most of a 64-thread group,
//                                       and barriers are slow on CPU-like adapters)
// μ and ρ are recomputed from x in every entry (no saved statistics).

struct Dims {
  R: u32,
  D: u32,
  eps: f32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>; // (R, D)

var<workgroup> red: array<vec2f, WG>;

// Sum of v over the workgroup, returned to every thread. Call in uniform control flow.
fn wg_sum(lid: u32, v: vec2f) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier(); // all have read red[0] before the next call overwrites it
  return r;
}

struct Stats {
  shift: f32, // x[row, 0]: summing x − shift makes a constant row exactly zero after centring
  mean: f32,  // mean of x − shift
  rstd: f32,
}

// Two-pass statistics of one row (numerically safe for |x| ~ 300 and for a zero-variance row).
fn row_stats(base: u32, lid: u32) -> Stats {
  let shift = x[base];
  var s = 0.0;
  for (var i = lid; i < dims.D; i += WG) { s += x[base + i] - shift; }
  let mean = wg_sum(lid, vec2f(s, 0.0)).x / f32(dims.D);
  var q = 0.0;
  for (var i = lid; i < dims.D; i += WG) {
    let c = x[base + i] - shift - mean;
    q += c * c;
  }
  let v = wg_sum(lid, vec2f(q, 0.0)).x / f32(dims.D);
  return Stats(shift, mean, inverseSqrt(v + dims.eps));
}

fn xhat(st: Stats, xv: f32) -> f32 {
  return (xv - st.shift - st.mean) * st.rstd;
}

// The local derivative, shared by jvp (g = tX) and backward (g = dY):
// ρ·(g − mean(g) − x̂·mean(g·x̂)); `means` = (mean(g), mean(g·x̂)).
fn ln_local(g: f32, xh: f32, rstd: f32, means: vec2f) -> f32 {
  return rstd * (g - means.x - xh * means.y);
}

// The vector the (symmetric) Jacobian is applied to: tX in jvp, dY in backward.
@group(0) @binding(2) var<storage, read> g: array<f32>; // (R, D)

// (mean(g), mean(g·x̂)) over a row, for ln_local.
fn g_means(base: u32, lid: u32, st: Stats) -> vec2f {
  var acc = vec2f(0.0);
  for (var i = lid; i < dims.D; i += WG) {
    let gv = g[base + i];
    acc += vec2f(gv, gv * xhat(st, x[base + i]));
  }
  return wg_sum(lid, acc) / f32(dims.D);
}

fn row_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// ---------------------------------------------------------------- forward
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // (R, D)

@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_id) lid3: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_index(wid, nwg);
  if (row >= dims.R) { return; }
  let lid = lid3.x;
  let base = row * dims.D;
  let st = row_stats(base, lid);
  for (var i = lid; i < dims.D; i += WG) { y[base + i] = xhat(st, x[base + i]); }
}

// ---------------------------------------------------------------- jvp
// g = tX. Writes (overwrites) y and tY.
@group(0) @binding(3) var<storage, read_write> yJ: array<f32>;    // (R, D)
@group(0) @binding(4) var<storage, read_write> tY: array<f32>;    // (R, D)

@compute @workgroup_size(WG)
fn jvp(@builtin(local_invocation_id) lid3: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_index(wid, nwg);
  if (row >= dims.R) { return; }
  let lid = lid3.x;
  let base = row * dims.D;
  let st = row_stats(base, lid);
  let means = g_means(base, lid, st);
  for (var i = lid; i < dims.D; i += WG) {
    let xh = xhat(st, x[base + i]);
    yJ[base + i] = xh;
    tY[base + i] = ln_local(g[base + i], xh, st.rstd, means);
  }
}

// ---------------------------------------------------------------- backward
// g = dY. Overwrites dX; accumulates nothing (no parameters).
@group(0) @binding(3) var<storage, read_write> dX: array<f32>;    // (R, D)

@compute @workgroup_size(WG)
fn backward(@builtin(local_invocation_id) lid3: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_index(wid, nwg);
  if (row >= dims.R) { return; }
  let lid = lid3.x;
  let base = row * dims.D;
  let st = row_stats(base, lid);
  let means = g_means(base, lid, st);
  for (var i = lid; i < dims.D; i += WG) {
    dX[base + i] = ln_local(g[base + i], xhat(st, x[base + i]), st.rstd, means);
  }
}

// ================================================================ one thread per row
// The same statistics and local derivative as above, each thread walking its own row serially.

override RWG: u32 = 64u;

fn row_of(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * RWG + gid.x;
}

fn row_stats1(base: u32) -> Stats {
  let shift = x[base];
  var s = 0.0;
  for (var i = 0u; i < dims.D; i++) { s += x[base + i] - shift; }
  let mean = s / f32(dims.D);
  var q = 0.0;
  for (var i = 0u; i < dims.D; i++) {
    let c = x[base + i] - shift - mean;
    q += c * c;
  }
  return Stats(shift, mean, inverseSqrt(q / f32(dims.D) + dims.eps));
}

fn g_means1(base: u32, st: Stats) -> vec2f {
  var acc = vec2f(0.0);
  for (var i = 0u; i < dims.D; i++) {
    let gv = g[base + i];
    acc += vec2f(gv, gv * xhat(st, x[base + i]));
  }
  return acc / f32(dims.D);
}

@compute @workgroup_size(RWG)
fn forward_row(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_of(gid, nwg);
  if (row >= dims.R) { return; }
  let base = row * dims.D;
  let st = row_stats1(base);
  for (var i = 0u; i < dims.D; i++) { y[base + i] = xhat(st, x[base + i]); }
}

// Overwrites y and tY.
@compute @workgroup_size(RWG)
fn jvp_row(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_of(gid, nwg);
  if (row >= dims.R) { return; }
  let base = row * dims.D;
  let st = row_stats1(base);
  let means = g_means1(base, st);
  for (var i = 0u; i < dims.D; i++) {
    let xh = xhat(st, x[base + i]);
    yJ[base + i] = xh;
    tY[base + i] = ln_local(g[base + i], xh, st.rstd, means);
  }
}

// Overwrites dX; accumulates nothing.
@compute @workgroup_size(RWG)
fn backward_row(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_of(gid, nwg);
  if (row >= dims.R) { return; }
  let base = row * dims.D;
  let st = row_stats1(base);
  let means = g_means1(base, st);
  for (var i = 0u; i < dims.D; i++) {
    dX[base + i] = ln_local(g[base + i], xhat(st, x[base + i]), st.rstd, means);
  }
}
