// Optimizer kernels over flat parameter buffers: global gradient norm (clip factor, non-finite
// flag), AdamW (PyTorch torch.optim.AdamW semantics), EMA of the weights, and an in-place scale.
// Not differentiable: no jvp / backward entries.
//
// Dimension legend:
//   n  elements of every flat buffer (param, grad, m, v, mask, ema), up to ~10^7
//   G  partial-sum workgroups of the norm reduction (≤ 1024, a grid-stride loop covers n)
// Elementwise entries run one thread per element on a 1-D or 2-D grid of 256-wide workgroups
// (2-D once n/256 exceeds maxComputeWorkgroupsPerDimension); `elem` linearises it.
//
// stats (≥ 4) layout, written by norm_finish, read by adamw:
//   [0] ‖g‖₂   [1] clip factor min(1, maxNorm / (‖g‖ + 1e-6)), 1 when maxNorm ≤ 0 or g is non-finite
//   [2] 1 if any g is NaN/±Inf else 0   [3] Σ g² (before clipping)

const WG = 256u;

fn elem(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

// NaN or ±Inf by the exponent bits: `x != x` may be folded away by fast-math compilers.
fn nonFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

// ------------------------------------------------------------------ gradient norm

struct ReduceParams {
  n: u32,
  groups: u32,   // G
  maxNorm: f32,  // ≤ 0: no clipping
  _pad: u32,
}

@group(0) @binding(0) var<uniform> red: ReduceParams;
@group(0) @binding(1) var<storage, read> gradIn: array<f32>;          // (n)
@group(0) @binding(2) var<storage, read_write> partialOut: array<f32>; // (G, 2): Σ g², non-finite flag

var<workgroup> sumBuf: array<f32, WG>;
var<workgroup> badBuf: array<f32, WG>;

// Tree-reduces sumBuf (sum) and badBuf (max) across the workgroup into element 0.
fn reduceWorkgroup(t: u32) {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) {
      sumBuf[t] += sumBuf[t + s];
      badBuf[t] = max(badBuf[t], badBuf[t + s]);
    }
  }
  workgroupBarrier();
}

// Stage 1: workgroup w sums g² over elements w·256 + t + k·G·256 (grid-stride) → partialOut[w].
// Overwrites partialOut.
@compute @workgroup_size(WG)
fn norm_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  var s = 0.0;
  var bad = 0.0;
  for (var i = wid.x * WG + t; i < red.n; i += red.groups * WG) {
    let g = gradIn[i];
    if (nonFinite(g)) { bad = 1.0; } else { s = fma(g, g, s); }
  }
  sumBuf[t] = s;
  badBuf[t] = bad;
  reduceWorkgroup(t);
  if (t == 0u) {
    partialOut[2u * wid.x] = sumBuf[0];
    partialOut[2u * wid.x + 1u] = badBuf[0];
  }
}

@group(0) @binding(7) var<storage, read> partialIn: array<f32>;     // (G, 2)
@group(0) @binding(8) var<storage, read_write> statsOut: array<f32>; // (≥ 4)

// Stage 2: one workgroup folds the G partials into stats[0..3]. Overwrites stats[0..3].
@compute @workgroup_size(WG)
fn norm_finish(@builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  var s = 0.0;
  var bad = 0.0;
  for (var w = t; w < red.groups; w += WG) {
    s += partialIn[2u * w];
    bad = max(bad, partialIn[2u * w + 1u]);
  }
  sumBuf[t] = s;
  badBuf[t] = bad;
  reduceWorkgroup(t);
  if (t == 0u) {
    let sumSq = sumBuf[0];
    let norm = sqrt(sumSq);
    var clip = 1.0;
    if (red.maxNorm > 0.0 && badBuf[0] == 0.0) { clip = min(1.0, red.maxNorm / (norm + 1e-6)); }
    statsOut[0] = norm;
    statsOut[1] = clip;
    statsOut[2] = badBuf[0];
    statsOut[3] = sumSq;
  }
}

// ------------------------------------------------------------------ AdamW

// Folded on the host in f64 (1 − β2 in f32 would be off by 1.3e-5 relative for β2 = 0.999):
// lrWd = lr·wd, oneMinusBeta = 1 − β, stepSize = lr / (1 − β1^step), invSqrtBc2 = 1 / √(1 − β2^step).
struct AdamParams {
  n: u32,
  hasMask: u32,
  lrWd: f32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  stepSize: f32,
  invSqrtBc2: f32,
  eps: f32,
}

@group(0) @binding(9) var<uniform> adam: AdamParams;
@group(0) @binding(10) var<storage, read_write> param: array<f32>; // (n)
@group(0) @binding(11) var<storage, read> grad: array<f32>;        // (n)
@group(0) @binding(3) var<storage, read_write> m: array<f32>;     // (n) first moment
@group(0) @binding(4) var<storage, read_write> v: array<f32>;     // (n) second moment
@group(0) @binding(5) var<storage, read> stats: array<f32>;       // (≥ 4) from norm_finish
@group(0) @binding(6) var<storage, read> decayMask: array<f32>;   // (n) 1 decay / 0 not; read when hasMask

// Updates param, m, v in place, in torch's _single_tensor_adamw order:
//   p ← p·(1 − lr·wd·mask); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
//   p ← p − lr/(1−β1^t) · m / (√v / √(1−β2^t) + eps),   g = grad · stats[1].
// A non-finite gradient (stats[2] ≠ 0) leaves all three untouched.
@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = elem(wid, nwg, lid);
  if (i >= adam.n || stats[2] != 0.0) { return; }
  let g = grad[i] * stats[1];
  var p = param[i];
  var wd = adam.lrWd;
  if (adam.hasMask != 0u) { wd *= decayMask[i]; }
  p -= wd * p;
  let mi = adam.beta1 * m[i] + adam.oneMinusBeta1 * g;
  let vi = adam.beta2 * v[i] + adam.oneMinusBeta2 * g * g;
  p -= adam.stepSize * mi / (sqrt(vi) * adam.invSqrtBc2 + adam.eps);
  m[i] = mi;
  v[i] = vi;
  param[i] = p;
}

// ------------------------------------------------------------------ EMA and scale

struct ElemParams {
  n: u32,
  s: f32, // ema: 1 − decay; scale: the factor
}

@group(0) @binding(12) var<uniform> el: ElemParams;
@group(0) @binding(13) var<storage, read_write> x: array<f32>;  // (n) ema / scaled buffer
@group(0) @binding(14) var<storage, read> src: array<f32>;      // (n) param

// ema ← decay·ema + (1 − decay)·param, as the lerp ema + (1−decay)(param − ema): no cancellation
// of decay·ema against a tiny (1−decay)·param in f32. Overwrites x (the EMA).
@compute @workgroup_size(WG)
fn ema(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = elem(wid, nwg, lid);
  if (i >= el.n) { return; }
  let e = x[i];
  x[i] = e + el.s * (src[i] - e);
}

// x ← s·x in place; s = 0 writes exact zeros (clears NaN/Inf left in a gradient buffer).
@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = elem(wid, nwg, lid);
  if (i >= el.n) { return; }
  x[i] = select(x[i] * el.s, 0.0, el.s == 0.0);
}
