// adaLN modulation family: modulate (y = x·(1 + scale) + shift) and gatedResidual (y = x + gate ⊙ h).
//
// Dimension legend: B batch, T tokens, D width, C chunks of the adaLN vector.
//   x, h, y (B, T, D);  mod (B, C·D): chunk k of sample b is mod[b, k·D .. k·D + D), broadcast over T.
//   shift, scale, gate are chunk indices into mod (uniforms k0, k1).
// modulate
//   forward  y  = x·(1 + scale) + shift
//   jvp      tY = tX·(1 + scale) + x·tScale + tShift
//   backward dX = dY·(1 + scale);  dShift = Σ_t dY;  dScale = Σ_t dY·x
// gatedResidual
//   forward  y  = x + gate·h
//   jvp      tY = tX + gate·tH + tGate·h
//   backward dH = dY·gate;  dGate = Σ_t dY·h  (dX = dY is the caller's)
// Elementwise entries: one thread per (b, t, d); the flat index spills into grid y past 65535 groups.
// Backward entries: one thread per (b, d) looping over t (deterministic sums, no atomics).

struct Dims {
  B: u32,
  T: u32,
  D: u32,
  C: u32,
  k0: u32, // modulate: the shift chunk; gatedResidual: the gate chunk
  k1: u32, // modulate: the scale chunk; gatedResidual: unused
}

const WG = 256u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> mod_: array<f32>; // (B, C·D)

struct Elem {
  ok: bool,
  e: u32,   // flat (b, t, d) index into (B, T, D)
  col: u32, // b·C·D + d: add k·D for chunk k of mod
}

fn elem(gid: vec3u, nwg: vec3u) -> Elem {
  let e = gid.y * nwg.x * WG + gid.x;
  let d = e % dims.D;
  let b = e / (dims.T * dims.D);
  return Elem(e < dims.B * dims.T * dims.D, e, b * dims.C * dims.D + d);
}

fn chunk(col: u32, k: u32) -> f32 {
  return mod_[col + k * dims.D];
}

// Partials shared by forward, jvp and backward: ∂y/∂x of modulate (∂y/∂scale = x, ∂y/∂shift = 1)
// and ∂y/∂h of gatedResidual (∂y/∂gate = h, ∂y/∂x = 1).
fn mod_dy_dx(scale: f32) -> f32 { return 1.0 + scale; }
fn gate_dy_dh(gate: f32) -> f32 { return gate; }

// ================================================================ modulate

@group(0) @binding(2) var<storage, read> x: array<f32>; // (B, T, D)

// ---------------------------------------------------------------- forward
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // (B, T, D)

@compute @workgroup_size(WG)
fn modulate_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let el = elem(gid, nwg);
  if (!el.ok) { return; }
  y[el.e] = x[el.e] * mod_dy_dx(chunk(el.col, dims.k1)) + chunk(el.col, dims.k0);
}

// ---------------------------------------------------------------- jvp
// Overwrites y and tY.
@group(0) @binding(9) var<storage, read> tX: array<f32>;         // (B, T, D)
@group(0) @binding(4) var<storage, read> tMod: array<f32>;       // (B, C·D)
@group(0) @binding(5) var<storage, read_write> yJ: array<f32>;   // (B, T, D)
@group(0) @binding(6) var<storage, read_write> tY: array<f32>;   // (B, T, D)

@compute @workgroup_size(WG)
fn modulate_jvp(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let el = elem(gid, nwg);
  if (!el.ok) { return; }
  let xv = x[el.e];
  let k = mod_dy_dx(chunk(el.col, dims.k1));
  yJ[el.e] = xv * k + chunk(el.col, dims.k0);
  let tScale = tMod[el.col + dims.k1 * dims.D];
  let tShift = tMod[el.col + dims.k0 * dims.D];
  tY[el.e] = tX[el.e] * k + xv * tScale + tShift;
}

// ---------------------------------------------------------------- backward
// Overwrites dX (B, T, D) and the shift and scale chunks of dMod; other chunks are left untouched.
// Accumulates nothing.
@group(0) @binding(10) var<storage, read> dY: array<f32>;          // (B, T, D)
@group(0) @binding(11) var<storage, read_write> dX: array<f32>;    // (B, T, D)
@group(0) @binding(12) var<storage, read_write> dMod: array<f32>;  // (B, C·D)

@compute @workgroup_size(WG)
fn modulate_backward(@builtin(global_invocation_id) gid: vec3u) {
  let bd = gid.x; // (b, d) flat over (B, D)
  if (bd >= dims.B * dims.D) { return; }
  let b = bd / dims.D;
  let d = bd % dims.D;
  let col = b * dims.C * dims.D + d;
  let k = mod_dy_dx(chunk(col, dims.k1));
  var dShift = 0.0;
  var dScale = 0.0;
  for (var t = 0u; t < dims.T; t++) {
    let e = (b * dims.T + t) * dims.D + d;
    let g = dY[e];
    dX[e] = g * k;
    dShift += g;
    dScale += g * x[e];
  }
  dMod[col + dims.k0 * dims.D] = dShift;
  dMod[col + dims.k1 * dims.D] = dScale;
}

// ================================================================ gatedResidual
// Bindings 2.. are redeclared under this op's names (each entry uses one set).

// ---------------------------------------------------------------- forward
@group(0) @binding(13) var<storage, read> gx: array<f32>;          // (B, T, D) the residual stream x
@group(0) @binding(14) var<storage, read> h: array<f32>;           // (B, T, D)
@group(0) @binding(15) var<storage, read_write> gy: array<f32>;    // (B, T, D)

@compute @workgroup_size(WG)
fn gate_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let el = elem(gid, nwg);
  if (!el.ok) { return; }
  gy[el.e] = gx[el.e] + gate_dy_dh(chunk(el.col, dims.k0)) * h[el.e];
}

// ---------------------------------------------------------------- jvp
// Overwrites y and tY.
@group(0) @binding(16) var<storage, read> gtX: array<f32>;         // (B, T, D)
@group(0) @binding(17) var<storage, read> tH: array<f32>;          // (B, T, D)
@group(0) @binding(18) var<storage, read> gtMod: array<f32>;       // (B, C·D)
@group(0) @binding(7) var<storage, read_write> gyJ: array<f32>;   // (B, T, D)
@group(0) @binding(8) var<storage, read_write> gtY: array<f32>;   // (B, T, D)

@compute @workgroup_size(WG)
fn gate_jvp(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let el = elem(gid, nwg);
  if (!el.ok) { return; }
  let hv = h[el.e];
  let k = gate_dy_dh(chunk(el.col, dims.k0));
  gyJ[el.e] = gx[el.e] + k * hv;
  gtY[el.e] = gtX[el.e] + k * tH[el.e] + gtMod[el.col + dims.k0 * dims.D] * hv;
}

// ---------------------------------------------------------------- backward
// Overwrites dH (B, T, D) and the gate chunk of dMod; other chunks are left untouched.
// Accumulates nothing. dX = dY is left to the caller.
@group(0) @binding(19) var<storage, read> gh: array<f32>;          // (B, T, D) h
@group(0) @binding(20) var<storage, read> gdY: array<f32>;         // (B, T, D)
@group(0) @binding(21) var<storage, read_write> dH: array<f32>;    // (B, T, D)
@group(0) @binding(22) var<storage, read_write> gdMod: array<f32>; // (B, C·D)

@compute @workgroup_size(WG)
fn gate_backward(@builtin(global_invocation_id) gid: vec3u) {
  let bd = gid.x; // (b, d) flat over (B, D)
  if (bd >= dims.B * dims.D) { return; }
  let b = bd / dims.D;
  let d = bd % dims.D;
  let col = b * dims.C * dims.D + d;
  let k = gate_dy_dh(chunk(col, dims.k0));
  var dGate = 0.0;
  for (var t = 0u; t < dims.T; t++) {
    let e = (b * dims.T + t) * dims.D + d;
    let g = gdY[e];
    dH[e] = g * k;
    dGate += g * gh[e];
  }
  gdMod[col + dims.k0 * dims.D] = dGate;
}
