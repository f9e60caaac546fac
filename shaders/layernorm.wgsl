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
// The lnmod_* entries at the end fuse the adaLN modulate that follows every LayerNorm of the DiT.

struct Dims {
  R: u32,
  D: u32,
  eps: f32,
  // lnmod_* only (LayerNorm passes 1, 0, 0, 0): row r belongs to sample r / T; mod has C chunks.
  T: u32,
  C: u32,
  k0: u32, // the shift chunk
  k1: u32, // the scale chunk
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
@group(0) @binding(7) var<storage, read_write> y: array<f32>; // (R, D)

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
@group(0) @binding(8) var<storage, read_write> dX: array<f32>;    // (R, D)

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

// ================================================================ LayerNorm + adaLN modulate (fused)
// y = x̂·(1 + scale) + shift: LayerNorm, then the modulate of shaders/modulate.wgsl in the same
// launch (no x̂ tensor in between). x, y (R = B·T, D); mod (B, C·D): shift = chunk k0 and
// scale = chunk k1 of sample b = row / T, broadcast over its T tokens.
//   forward   y  = x̂·k + shift                           k = 1 + scale
//   jvp       tY = tx̂·k + x̂·tScale + tShift              tx̂ = ln_local(tX)
//   backward  dX = ln_local(dY·k);  dShift = Σ_t dY;  dScale = Σ_t dY·x̂
// The backward is two launches: lnmod_backward[_row] (dX, per row, as the layouts above; it also
// writes each row's statistics to `lmStats`), then lnmod_backward_mod (one thread per (b, d)
// looping over t, deterministic as modulate_backward, x̂ from those statistics).
// Bindings: x at 1 (row_stats reads it) and mod at 2 in every entry but lnmod_backward_mod.

@group(0) @binding(9) var<storage, read> lmMod: array<f32>;         // (B, C·D)
// forward
@group(0) @binding(10) var<storage, read_write> lmY: array<f32>;     // (R, D)
// jvp: overwrites lmYJ and lmTY
@group(0) @binding(11) var<storage, read> lmTX: array<f32>;          // (R, D)
@group(0) @binding(12) var<storage, read> lmTMod: array<f32>;        // (B, C·D)
@group(0) @binding(5) var<storage, read_write> lmYJ: array<f32>;    // (R, D)
@group(0) @binding(6) var<storage, read_write> lmTY: array<f32>;    // (R, D)
// backward: overwrites lmDX, lmStats (lnmod_backward[_row]) and the shift and scale chunks of
// lmDMod (lnmod_backward_mod; other chunks untouched). Accumulates nothing.
@group(0) @binding(13) var<storage, read> lmDY: array<f32>;          // (R, D)
@group(0) @binding(14) var<storage, read_write> lmDX: array<f32>;    // (R, D)
@group(0) @binding(15) var<storage, read_write> lmStats: array<Stats>; // (R)
@group(0) @binding(16) var<storage, read> lmStatsIn: array<Stats>;   // (R) lnmod_backward_mod
// With ADD_RES, lnmod_backward[_row] writes lmDX = dX + lmRes: the residual stream's gradient summed
// in the same launch (a dummy is bound without it).
override ADD_RES: bool = false;
@group(0) @binding(18) var<storage, read> lmRes: array<f32>;         // (R, D)
fn lm_out(i: u32, v: f32) -> f32 {
  if (ADD_RES) { return v + lmRes[i]; }
  return v;
}
@group(0) @binding(17) var<storage, read_write> lmDMod: array<f32>;  // (B, C·D)

// Offset of feature 0 of chunk k of this row's sample in mod.
fn lm_col(row: u32, k: u32) -> u32 {
  return (row / dims.T) * dims.C * dims.D + k * dims.D;
}

// ∂y/∂x̂ = 1 + scale (the modulate partial, as mod_dy_dx in shaders/modulate.wgsl).
fn lm_k(sc: u32, i: u32) -> f32 {
  return 1.0 + lmMod[sc + i];
}

// ---------------------------------------------------------------- workgroup per row
@compute @workgroup_size(WG)
fn lnmod_forward(@builtin(local_invocation_id) lid3: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_index(wid, nwg);
  if (row >= dims.R) { return; }
  let lid = lid3.x;
  let base = row * dims.D;
  let st = row_stats(base, lid);
  let sh = lm_col(row, dims.k0);
  let sc = lm_col(row, dims.k1);
  for (var i = lid; i < dims.D; i += WG) { lmY[base + i] = xhat(st, x[base + i]) * lm_k(sc, i) + lmMod[sh + i]; }
}

@compute @workgroup_size(WG)
fn lnmod_jvp(@builtin(local_invocation_id) lid3: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_index(wid, nwg);
  if (row >= dims.R) { return; }
  let lid = lid3.x;
  let base = row * dims.D;
  let st = row_stats(base, lid);
  var acc = vec2f(0.0);
  for (var i = lid; i < dims.D; i += WG) {
    let tv = lmTX[base + i];
    acc += vec2f(tv, tv * xhat(st, x[base + i]));
  }
  let means = wg_sum(lid, acc) / f32(dims.D);
  let sh = lm_col(row, dims.k0);
  let sc = lm_col(row, dims.k1);
  for (var i = lid; i < dims.D; i += WG) {
    let xh = xhat(st, x[base + i]);
    let k = lm_k(sc, i);
    lmYJ[base + i] = xh * k + lmMod[sh + i];
    lmTY[base + i] = ln_local(lmTX[base + i], xh, st.rstd, means) * k + xh * lmTMod[sc + i] + lmTMod[sh + i];
  }
}

@compute @workgroup_size(WG)
fn lnmod_backward(@builtin(local_invocation_id) lid3: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_index(wid, nwg);
  if (row >= dims.R) { return; }
  let lid = lid3.x;
  let base = row * dims.D;
  let st = row_stats(base, lid);
  let sc = lm_col(row, dims.k1);
  var acc = vec2f(0.0);
  for (var i = lid; i < dims.D; i += WG) {
    let gn = lmDY[base + i] * lm_k(sc, i); // the cotangent of x̂
    acc += vec2f(gn, gn * xhat(st, x[base + i]));
  }
  let means = wg_sum(lid, acc) / f32(dims.D);
  for (var i = lid; i < dims.D; i += WG) {
    lmDX[base + i] = lm_out(base + i, ln_local(lmDY[base + i] * lm_k(sc, i), xhat(st, x[base + i]), st.rstd, means));
  }
  if (lid == 0u) { lmStats[row] = st; }
}

// ---------------------------------------------------------------- one thread per row
@compute @workgroup_size(RWG)
fn lnmod_forward_row(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_of(gid, nwg);
  if (row >= dims.R) { return; }
  let base = row * dims.D;
  let st = row_stats1(base);
  let sh = lm_col(row, dims.k0);
  let sc = lm_col(row, dims.k1);
  for (var i = 0u; i < dims.D; i++) { lmY[base + i] = xhat(st, x[base + i]) * lm_k(sc, i) + lmMod[sh + i]; }
}

@compute @workgroup_size(RWG)
fn lnmod_jvp_row(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_of(gid, nwg);
  if (row >= dims.R) { return; }
  let base = row * dims.D;
  let st = row_stats1(base);
  var acc = vec2f(0.0);
  for (var i = 0u; i < dims.D; i++) {
    let tv = lmTX[base + i];
    acc += vec2f(tv, tv * xhat(st, x[base + i]));
  }
  let means = acc / f32(dims.D);
  let sh = lm_col(row, dims.k0);
  let sc = lm_col(row, dims.k1);
  for (var i = 0u; i < dims.D; i++) {
    let xh = xhat(st, x[base + i]);
    let k = lm_k(sc, i);
    lmYJ[base + i] = xh * k + lmMod[sh + i];
    lmTY[base + i] = ln_local(lmTX[base + i], xh, st.rstd, means) * k + xh * lmTMod[sc + i] + lmTMod[sh + i];
  }
}

@compute @workgroup_size(RWG)
fn lnmod_backward_row(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = row_of(gid, nwg);
  if (row >= dims.R) { return; }
  let base = row * dims.D;
  let st = row_stats1(base);
  let sc = lm_col(row, dims.k1);
  var acc = vec2f(0.0);
  for (var i = 0u; i < dims.D; i++) {
    let gn = lmDY[base + i] * lm_k(sc, i);
    acc += vec2f(gn, gn * xhat(st, x[base + i]));
  }
  let means = acc / f32(dims.D);
  for (var i = 0u; i < dims.D; i++) {
    lmDX[base + i] = lm_out(base + i, ln_local(lmDY[base + i] * lm_k(sc, i), xhat(st, x[base + i]), st.rstd, means));
  }
  lmStats[row] = st;
}

// ---------------------------------------------------------------- dShift, dScale
// One thread per (b, d) (workgroups of 256), after lnmod_backward[_row] wrote lmStats.
@compute @workgroup_size(256)
fn lnmod_backward_mod(@builtin(global_invocation_id) gid: vec3u) {
  let bd = gid.x; // (b, d) flat over (B, D)
  let B = dims.R / dims.T;
  if (bd >= B * dims.D) { return; }
  let b = bd / dims.D;
  let d = bd % dims.D;
  var dShift = 0.0;
  var dScale = 0.0;
  for (var t = 0u; t < dims.T; t++) {
    let row = b * dims.T + t;
    let e = row * dims.D + d;
    let g = lmDY[e];
    dShift += g;
    dScale += g * xhat(lmStatsIn[row], x[e]);
  }
  let col = b * dims.C * dims.D + d;
  lmDMod[col + dims.k0 * dims.D] = dShift;
  lmDMod[col + dims.k1 * dims.D] = dScale;
}
