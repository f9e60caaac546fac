// Loss family: the per-sample reductions the objectives need, and their gradients w.r.t. F.
//
// Dimension legend: B samples, N = C·H·W elements per sample, C channels, HW = H·W pixels.
//
// fm_stats / fm_grad — flow-matching anchor:  L_b = mean_CHW (F − v)² + mean_HW (1 − cos_C(F, v))
//   (cosine over channels at each pixel, as current PyTorch's cosine_similarity (≥ 2.0) computes it:
//   cos = (a / max(‖a‖, ε)) · (b / max(‖b‖, ε)), ε = 1e-8; its gradient follows PyTorch's autograd,
//   where the clamp is invisible (taken under no_grad) and ∂‖a‖/∂a = 0 at a = 0: at F = 0 the gradient
//   of cos is v / (ε·‖v‖) per pixel, not v / ε as with the old max(‖a‖‖b‖, ε).)
// res_stats / res_grad — the consistency family, with per-sample scalars k, a, λ, c from the objective:
//   g = F − v − k·tF                        (the residual; k = 1 − t for FACM/CM, r − t for MeanFlow)
//   Δ = a·φ(g)                              φ = clamp(·, −1, 1) or identity (FACM's relaxed step a = α)
//   Δ = c·g / (RMS(c·g) + 0.1)              instead, in normalise mode (sCM-style, c = cos(πt/2))
//   e = mean Δ²;  L_b = λ·e / (e + 1e−3)^p  with the denominator held constant (stop-gradient)
//   since target = stopgrad(F) − Δ:  ∂L_b/∂F = λ·2Δ / (N·(e + 1e−3)^p)

struct Dims {
  B: u32,
  N: u32,
  C: u32,
  HW: u32,
  flags: u32,  // res: bit 0 clamp, bit 1 normalise, bit 2 res_row writes dF
  p: f32,      // res: power of the adaptive denominator
  scale: f32,  // gradient multiplier (e.g. 1/B · λ_FM)
  _pad: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> F: array<f32>;      // (B, N) prediction
@group(0) @binding(2) var<storage, read> V: array<f32>;      // (B, N) velocity target
@group(0) @binding(3) var<storage, read_write> stats: array<f32>; // fm: (B, 2); res: (B, 8) see res_stats

const WG = 64u;
var<workgroup> red: array<array<f32, 8>, 64>;

fn reduce8(lid: u32) {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      for (var j = 0u; j < 8u; j++) { red[lid][j] += red[lid + s][j]; }
    }
    workgroupBarrier();
  }
}

fn pixel_cos(b: u32, px: u32) -> vec3f {  // (a·b, ‖a‖², ‖b‖²) over channels of one pixel
  var dotp = 0.0; var na = 0.0; var nb = 0.0;
  for (var ch = 0u; ch < dims.C; ch++) {
    let i = b * dims.N + ch * dims.HW + px;
    dotp += F[i] * V[i]; na += F[i] * F[i]; nb += V[i] * V[i];
  }
  return vec3f(dotp, na, nb);
}

const COS_EPS = 1e-8;
// Each norm clamped on its own, as current PyTorch (not the product: that was PyTorch < 2.0).
fn cosine(s: vec3f) -> f32 { return s.x / (max(sqrt(s.y), COS_EPS) * max(sqrt(s.z), COS_EPS)); }

// One workgroup per sample. stats[b] = (mean (F−v)², mean_HW (1 − cos)). Overwrites stats.
@compute @workgroup_size(64)
fn fm_stats(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let b = wid.x; let lid = lid3.x;
  var sq = 0.0; var cl = 0.0;
  for (var px = lid; px < dims.HW; px += WG) {
    for (var ch = 0u; ch < dims.C; ch++) {
      let i = b * dims.N + ch * dims.HW + px;
      let e = F[i] - V[i];
      sq += e * e;
    }
    cl += 1.0 - cosine(pixel_cos(b, px));
  }
  for (var j = 0u; j < 8u; j++) { red[lid][j] = 0.0; }
  red[lid][0] = sq; red[lid][1] = cl;
  workgroupBarrier();
  reduce8(lid);
  if (lid == 0u) {
    stats[b * 2u] = red[0][0] / f32(dims.N);
    stats[b * 2u + 1u] = red[0][1] / f32(dims.HW);
  }
}

@group(0) @binding(7) var<storage, read> W: array<f32>;            // (B) per-sample loss weight
@group(0) @binding(4) var<storage, read_write> dF: array<f32>;     // (B, N) overwritten

// One thread per (b, pixel): dF = scale·w_b·(2(F − v)/N − ∂cos/∂F / HW). Overwrites dF.
@compute @workgroup_size(64)
fn fm_grad(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.y; let px = gid.x;
  if (px >= dims.HW || b >= dims.B) { return; }
  let s = pixel_cos(b, px);
  let na = sqrt(s.y);
  let naC = max(na, COS_EPS); let nbC = max(sqrt(s.z), COS_EPS);
  // ∂cos/∂F_i = (v_i − (F·v)·F_i / (naC·‖F‖)) / (naC·nbC); the second term is 0 where F = 0 (‖F‖'s gradient there).
  var k = 0.0;
  if (na > 0.0) { k = s.x / (naC * na); }
  let w = dims.scale * W[b];
  for (var ch = 0u; ch < dims.C; ch++) {
    let i = b * dims.N + ch * dims.HW + px;
    let dcos = (V[i] - k * F[i]) / (naC * nbC);
    dF[i] = w * (2.0 * (F[i] - V[i]) / f32(dims.N) - dcos / f32(dims.HW));
  }
}

// fm_stats and fm_grad in one pass, one thread per sample: for small N (the 2-D mode's N = 2),
// where a workgroup per sample spends its time in the reduction's barriers. Same formulas.
@compute @workgroup_size(64)
fn fm_row(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= dims.B) { return; }
  let w = dims.scale * W[b];
  var sq = 0.0; var cl = 0.0;
  for (var px = 0u; px < dims.HW; px++) {
    let s = pixel_cos(b, px);
    cl += 1.0 - cosine(s);
    let na = sqrt(s.y);
    let naC = max(na, COS_EPS); let nbC = max(sqrt(s.z), COS_EPS);
    var k = 0.0;
    if (na > 0.0) { k = s.x / (naC * na); }
    for (var ch = 0u; ch < dims.C; ch++) {
      let i = b * dims.N + ch * dims.HW + px;
      let e = F[i] - V[i];
      sq += e * e;
      let dcos = (V[i] - k * F[i]) / (naC * nbC);
      dF[i] = w * (2.0 * e / f32(dims.N) - dcos / f32(dims.HW));
    }
  }
  stats[b * 2u] = sq / f32(dims.N);
  stats[b * 2u + 1u] = cl / f32(dims.HW);
}

// ---------------------------------------------------------------- consistency residual

@group(0) @binding(8) var<storage, read> TF: array<f32>;            // (B, N) tangent dF/dt
@group(0) @binding(9) var<storage, read> S: array<f32>;             // (B, 4) per sample: k, a, λ, c
@group(0) @binding(5) var<storage, read_write> rstats: array<f32>;  // (B, 8) overwritten

fn residual(b: u32, i: u32) -> f32 { return F[i] - V[i] - S[b * 4u] * TF[i]; }
fn phi(g: f32) -> f32 { if ((dims.flags & 1u) != 0u) { return clamp(g, -1.0, 1.0); } return g; }

// One workgroup per sample. rstats[b] = (e, loss, Σφ(g)²/N, Σg²/N, frac |g| > 1, Σ tF²/N, Σ v²/N, Σ (k·tF)²/N).
@compute @workgroup_size(64)
fn res_stats(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let b = wid.x; let lid = lid3.x;
  var acc: array<f32, 8>;
  let k = S[b * 4u];
  for (var i = lid; i < dims.N; i += WG) {
    let j = b * dims.N + i;
    let g = residual(b, j);
    let ph = phi(g);
    acc[2] += ph * ph;
    acc[3] += g * g;
    if (abs(g) > 1.0) { acc[4] += 1.0; }
    acc[5] += TF[j] * TF[j];
    acc[6] += V[j] * V[j];
    acc[7] += k * k * TF[j] * TF[j];
  }
  for (var j = 0u; j < 8u; j++) { red[lid][j] = acc[j]; }
  workgroupBarrier();
  reduce8(lid);
  if (lid == 0u) {
    let n = f32(dims.N);
    let a = S[b * 4u + 1u]; let lam = S[b * 4u + 2u]; let c = S[b * 4u + 3u];
    var e = a * a * red[0][2] / n;
    if ((dims.flags & 2u) != 0u) {
      let rms = abs(c) * sqrt(red[0][3] / n);
      e = c * c * (red[0][3] / n) / ((rms + 0.1) * (rms + 0.1));
    }
    rstats[b * 8u] = e;
    rstats[b * 8u + 1u] = lam * e / pow(e + 1e-3, dims.p);
    for (var j = 2u; j < 8u; j++) { rstats[b * 8u + j] = red[0][j] / n; }
  }
}

@group(0) @binding(10) var<storage, read> rs: array<f32>;            // (B, 8) from res_stats
@group(0) @binding(6) var<storage, read_write> dFr: array<f32>;     // (B, N) overwritten

// dF = scale·λ·2Δ / (N·(e + 1e−3)^p). Overwrites dF.
@compute @workgroup_size(64)
fn res_grad(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x; let b = gid.y;
  if (i >= dims.N || b >= dims.B) { return; }
  let j = b * dims.N + i;
  let g = residual(b, j);
  let a = S[b * 4u + 1u]; let lam = S[b * 4u + 2u]; let c = S[b * 4u + 3u];
  var delta = a * phi(g);
  if ((dims.flags & 2u) != 0u) {
    let rms = abs(c) * sqrt(rs[b * 8u + 3u]);
    delta = c * g / (rms + 0.1);
  }
  let e = rs[b * 8u];
  dFr[j] = dims.scale * lam * 2.0 * delta / (f32(dims.N) * pow(e + 1e-3, dims.p));
}

// res_stats and res_grad in one pass, one thread per sample (small N, as fm_row). Same formulas;
// dFr is written only when flags bit 2 is set (the caller wants the gradient).
@compute @workgroup_size(64)
fn res_row(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= dims.B) { return; }
  let k = S[b * 4u]; let a = S[b * 4u + 1u]; let lam = S[b * 4u + 2u]; let c = S[b * 4u + 3u];
  var sphi = 0.0; var sg = 0.0; var nclamp = 0.0; var stf = 0.0; var sv = 0.0;
  for (var i = 0u; i < dims.N; i++) {
    let j = b * dims.N + i;
    let g = residual(b, j);
    let ph = phi(g);
    sphi += ph * ph;
    sg += g * g;
    if (abs(g) > 1.0) { nclamp += 1.0; }
    stf += TF[j] * TF[j];
    sv += V[j] * V[j];
  }
  let n = f32(dims.N);
  var e = a * a * sphi / n;
  let rms = abs(c) * sqrt(sg / n);
  let normalise = (dims.flags & 2u) != 0u;
  if (normalise) { e = c * c * (sg / n) / ((rms + 0.1) * (rms + 0.1)); }
  let den = pow(e + 1e-3, dims.p);
  rstats[b * 8u] = e;
  rstats[b * 8u + 1u] = lam * e / den;
  rstats[b * 8u + 2u] = sphi / n;
  rstats[b * 8u + 3u] = sg / n;
  rstats[b * 8u + 4u] = nclamp / n;
  rstats[b * 8u + 5u] = stf / n;
  rstats[b * 8u + 6u] = sv / n;
  rstats[b * 8u + 7u] = k * k * stf / n;
  if ((dims.flags & 4u) == 0u) { return; }
  for (var i = 0u; i < dims.N; i++) {
    let j = b * dims.N + i;
    let g = residual(b, j);
    var delta = a * phi(g);
    if (normalise) { delta = c * g / (rms + 0.1); }
    dFr[j] = dims.scale * lam * 2.0 * delta / (n * den);
  }
}
