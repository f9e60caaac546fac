// Embedding family: the sinusoidal time embedding and the class-label embedding table.
//
// Dimension legend: B batch; H = 128 frequencies, TIME_DIM = 2H = 256; rows label-table rows
// (classes, plus the null class where used); D label-embedding width.
//   time:  emb[b] = [cos(c[b]·freqs), sin(c[b]·freqs)] (cos first), freqs[i] = exp(−ln(10000)·i/H),
//          c used raw (no ×1000). freqs come in as a buffer rounded once from f64 (the same on every
//          device; WGSL's exp is allowed several ulp).
//   label: emb[b] = table[y[b]]; labels are f32 integers; one out of [0, rows) gives a zero row.
// Grid: time kernels one workgroup of H threads per b; label kernels one thread per element in
//   workgroups of WG. Both lay workgroups out (x, y): flat index wid.y·nwg.x + wid.x.
// Uses:
//   time_forward    emb = sinusoids(c)
//   time_jvp        emb, tEmb = tC·[−sin(c·f)·f, cos(c·f)·f]      local derivative once: time_grad
//   time_backward   dC[b] = Σ_i ⟨time_grad(c[b], f_i), (dY[b, i], dY[b, H + i])⟩   (overwrites dC)
//   label_forward   emb = table[y] (a gather); its tangent is zero (TS: the table carries none)
//   label_backward  dTable += scatter-add of dY rows (accumulates; deterministic, no atomics)

struct Dims {
  B: u32,
  D: u32,    // label only
  rows: u32, // label only
  pad: u32,
}

const H = 128u;
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read_write> emb: array<f32>;    // (B, 2H) time, (B, D) label
@group(0) @binding(6) var<storage, read_write> dC: array<f32>;     // (B)
@group(0) @binding(7) var<storage, read_write> dTable: array<f32>; // (rows, D)
@group(0) @binding(2) var<storage, read> c: array<f32>;            // (B)
@group(0) @binding(8) var<storage, read> labels: array<f32>;       // (B) class ids as f32 integers
@group(0) @binding(3) var<storage, read> freqs: array<f32>;        // (H)
@group(0) @binding(9) var<storage, read> table: array<f32>;        // (rows, D)
@group(0) @binding(10) var<storage, read> dYLabel: array<f32>;      // (B, D) label_backward's dY
@group(0) @binding(4) var<storage, read> dY: array<f32>;           // (B, 2H) time_backward's dY
@group(0) @binding(11) var<storage, read_write> tEmb: array<f32>;   // (B, 2H)
@group(0) @binding(5) var<storage, read> tC: array<f32>;           // (B)

fn flat_group(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// ------------------------------------------------------------------ time

// d/dc [cos(c·f), sin(c·f)] = f·[−sin(c·f), cos(c·f)]. Used by time_jvp and time_backward.
fn time_grad(cb: f32, f: f32) -> vec2f {
  let a = cb * f;
  return f * vec2f(-sin(a), cos(a));
}

@compute @workgroup_size(H)
fn time_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = flat_group(wid, nwg);
  if (b >= dims.B) { return; }
  let i = lid.x;
  let a = c[b] * freqs[i];
  emb[b * 2u * H + i] = cos(a);
  emb[b * 2u * H + H + i] = sin(a);
}

@compute @workgroup_size(H)
fn time_jvp(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = flat_group(wid, nwg);
  if (b >= dims.B) { return; }
  let i = lid.x;
  let f = freqs[i];
  let a = c[b] * f;
  emb[b * 2u * H + i] = cos(a);
  emb[b * 2u * H + H + i] = sin(a);
  let t = tC[b] * time_grad(c[b], f);
  tEmb[b * 2u * H + i] = t.x;
  tEmb[b * 2u * H + H + i] = t.y;
}

var<workgroup> partial: array<f32, H>;

// Overwrites dC (B). Accumulates nothing. A fixed-order tree sum over the H frequencies: deterministic.
@compute @workgroup_size(H)
fn time_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = flat_group(wid, nwg); // uniform per workgroup, so the early return keeps barriers uniform
  if (b >= dims.B) { return; }
  let i = lid.x;
  let g = time_grad(c[b], freqs[i]);
  partial[i] = g.x * dY[b * 2u * H + i] + g.y * dY[b * 2u * H + H + i];
  workgroupBarrier();
  for (var s = H / 2u; s > 0u; s >>= 1u) {
    if (i < s) { partial[i] += partial[i + s]; }
    workgroupBarrier();
  }
  if (i == 0u) { dC[b] = partial[0]; }
}

// ------------------------------------------------------------------ label

@compute @workgroup_size(WG)
fn label_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let e = flat_group(wid, nwg) * WG + lid.x;
  if (e >= dims.B * dims.D) { return; }
  let b = e / dims.D;
  let d = e % dims.D;
  let lab = labels[b];
  var v = 0.0;
  if (lab >= 0.0 && lab < f32(dims.rows)) { v = table[u32(lab) * dims.D + d]; }
  emb[e] = v;
}

// Accumulates dTable[r, d] += Σ_{b: y[b] = r} dY[b, d]. Overwrites nothing. One thread per (r, d)
// looping over b in order: deterministic, no atomics. Labels compare as f32 (exact below 2^24).
@compute @workgroup_size(WG)
fn label_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let e = flat_group(wid, nwg) * WG + lid.x;
  if (e >= dims.rows * dims.D) { return; }
  let r = f32(e / dims.D);
  let d = e % dims.D;
  var s = 0.0;
  for (var b = 0u; b < dims.B; b++) {
    if (labels[b] == r) { s += dYLabel[b * dims.D + d]; }
  }
  dTable[e] += s;
}
