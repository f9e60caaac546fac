// Patch family: patchify (im2col for the p×p stride-p patch-embedding conv) and unpatchify (DiT's
// final-layer tokens back to an image). Both are permutations, so each is one copy kernel.
//
// Dimension legend: B batch, C channels, H/W image height/width, p patch, Hp = H/p, Wp = W/p,
// T = Hp·Wp tokens (token t = hp·Wp + wp, row-major), R = B·T token rows. Row-major everywhere.
//   image    (B, C, H, W)     element e = ((b·C + c)·H + hp·p + i)·W + wp·p + j
//   cols     (R, C·p·p)       patchify's column   k = (c·p + i)·p + j   (a conv weight [D, C, p, p] is a
//                                                                       linear weight [D, C·p·p] as-is)
//   tokens   (R, p·p·C)       unpatchify's column k = (i·p + j)·C + c   (DiT: 'nhwpqc->nchpwq')
// Every thread owns one image element; `tokenIndex` maps it to its place in the token matrix, and
// all four entries use that one map, as a gather or as a scatter:
//   patchify             cols[tokenIndex(e)] = x[e]        forward; jvp = the same on the tangent
//   patchify_backward    dX[e] = dCols[tokenIndex(e)]      (overwrites dX)
//   unpatchify           img[e] = y[tokenIndex(e)]         forward; jvp = the same on the tangent
//   unpatchify_backward  dY[tokenIndex(e)] = dImg[e]       (overwrites dY)
// Patches do not overlap (stride = p), so every target is written exactly once: no atomics, no clear.

struct Dims {
  B: u32,
  C: u32,
  H: u32,
  W: u32,
  p: u32,
}

const WG = 256u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> src: array<f32>;        // x (B, C, H, W) | dCols (R, C·p·p) | y (R, p·p·C) | dImg (B, C, H, W)
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;  // cols            | dX (B, C, H, W)  | img (B, C, H, W) | dY (R, p·p·C)

// Image element e → index in the token matrix. channelsLast: unpatchify's (i, j, c) column order;
// otherwise patchify's (c, i, j).
fn tokenIndex(e: u32, channelsLast: bool) -> u32 {
  let p = dims.p;
  let xx = e % dims.W;
  let yy = (e / dims.W) % dims.H;
  let c = (e / (dims.W * dims.H)) % dims.C;
  let b = e / (dims.W * dims.H * dims.C);
  let Wp = dims.W / p;
  let row = (b * (dims.H / p) + yy / p) * Wp + xx / p;
  let i = yy % p;
  let j = xx % p;
  var col: u32;
  if (channelsLast) { col = (i * p + j) * dims.C + c; } else { col = (c * p + i) * p + j; }
  return row * (dims.C * p * p) + col;
}

// Flat thread index over a 2-D grid (large images overflow maxComputeWorkgroupsPerDimension in x).
fn elem(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * WG + gid.x;
}

fn count() -> u32 {
  return dims.B * dims.C * dims.H * dims.W;
}

// x (B, C, H, W) → cols (R, C·p·p). Forward and jvp.
@compute @workgroup_size(WG)
fn patchify(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = elem(gid, nwg);
  if (e >= count()) { return; }
  dst[tokenIndex(e, false)] = src[e];
}

// dCols (R, C·p·p) → dX (B, C, H, W). Overwrites dX; accumulates nothing.
@compute @workgroup_size(WG)
fn patchify_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = elem(gid, nwg);
  if (e >= count()) { return; }
  dst[e] = src[tokenIndex(e, false)];
}

// y (R, p·p·C) → img (B, C, H, W). Forward and jvp.
@compute @workgroup_size(WG)
fn unpatchify(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = elem(gid, nwg);
  if (e >= count()) { return; }
  dst[e] = src[tokenIndex(e, true)];
}

// dImg (B, C, H, W) → dY (R, p·p·C). Overwrites dY; accumulates nothing.
@compute @workgroup_size(WG)
fn unpatchify_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = elem(gid, nwg);
  if (e >= count()) { return; }
  dst[tokenIndex(e, true)] = src[e];
}
