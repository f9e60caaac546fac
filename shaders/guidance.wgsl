// Guidance family: classifier-free guidance of a stacked pair of velocities (the distillation
// teacher's conditional and unconditional outputs, from one forward of 2B rows).
//
// Dimension legend: n elements per half; x (2n) holds the conditional half c = x[0, n) then the
// unconditional half u = x[n, 2n).
// Grid: one thread per output element in workgroups of WG, laid out (x, y) as in elementwise.wgsl.
// Uses:
//   guide_forward   y = u + w·(c − u); the JVP is this kernel on the tangents (the map is linear in x).
//   guide_backward  dX[i] = w·dY[i], dX[n + i] = (1 − w)·dY[i]   (overwrites dX)

struct Dims {
  n: u32,
  w: f32, // guidance weight
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;  // (n)
@group(0) @binding(2) var<storage, read> x: array<f32>;        // (2n)
@group(0) @binding(3) var<storage, read_write> dX: array<f32>; // (2n)
@group(0) @binding(4) var<storage, read> dY: array<f32>;       // (n)

fn flat(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

@compute @workgroup_size(WG)
fn guide_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  let u = x[dims.n + i];
  y[i] = u + dims.w * (x[i] - u);
}

// Overwrites both halves of dX. Accumulates nothing.
@compute @workgroup_size(WG)
fn guide_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = flat(wid, nwg, lid);
  if (i >= dims.n) { return; }
  let g = dY[i];
  dX[i] = dims.w * g;
  dX[dims.n + i] = (1.0 - dims.w) * g;
}
