// Linear family: C = op(A)·op(B) [+ bias] [+ C], and column sums (bias gradients).
//
// Dimension legend: M rows of C, N columns of C, K the reduced dimension. Row-major everywhere.
//   op(A) is (M, K): A is (M, K), or (K, M) with TRANS_A.
//   op(B) is (K, N): B is (K, N), or (N, K) with TRANS_B (a PyTorch nn.Linear weight [out, in]).
// Uses in the DiT (x (R, in), W (out, in), dY (R, out)):
//   forward  y  = x · Wᵀ + b        matmul TRANS_B
//   jvp      tY = tX · Wᵀ           the same kernel on the tangent, no bias (linear in x)
//   backward dX = dY · W            matmul                 (overwrites dX)
//            dW += dYᵀ · x          matmul TRANS_A, ACC    (accumulates)
//            db += colsum(dY)       the same launch (EPI 3), or colsum, ACC when there is no dW
// Kernels for C: `matmul` (workgroup tiles, TT override), `matmul_reg` / `matmul_reg8` (registers
// only, 4×4 or 8×8 per thread) and `matmul_el` (one thread per element, for the thinnest shapes); the same semantics and epilogue (`store`), picked per shape and adapter in src/ops/linear.ts.
// GELU epilogues (override EPI; gelu and gelu_grad come from shaders/gelu.wgsl, prepended):
//   EPI 0  plain                        Aux unused (a dummy is bound)
//   EPI 1  C = v [+ bias], Aux = gelu(C) linearGelu forward: fc1's pre-activation and activation
//   EPI 2  C = v·gelu'(Aux)             Aux the pre-activation: linearGelu's JVP tangent
//                                       (tX·Wᵀ ⊙ gelu'), and fc2's dX when its input was gelu(Aux)
// and a bias-gradient epilogue:
//   EPI 3  C as EPI 0, and Aux[m] += Σ_k op(A)[m, k] (Aux (M)), added by the threads that hold C's
//          column 0: a dW matmul (dW += dYᵀ·x) also gives db += colsum(dY), summed over k in
//          order from 0, as colsum sums (the same f32 result)

struct Dims {
  M: u32,
  N: u32,
  K: u32,
  flags: u32, // bit 0: add bias[N]; bit 1: accumulate into C
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override EPI: u32 = 0u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;      // (M, K) or (K, M)
@group(0) @binding(2) var<storage, read> B: array<f32>;      // (K, N) or (N, K)
@group(0) @binding(3) var<storage, read> bias: array<f32>;   // (N), read only when flags bit 0
@group(0) @binding(4) var<storage, read_write> C: array<f32>; // (M, N)
@group(0) @binding(5) var<storage, read_write> Aux: array<f32>; // (M, N): EPI 1 writes it, EPI 2 reads it

// ------------------------------------------------------------------ matmul (workgroup tiles)
// One (4·TT)×(4·TT) tile of C per workgroup of TT×TT threads (TT = 16: 64×64, TT = 8: 32×32); each
// thread owns a 4×4 register block, rows lid.y + TT·i and columns lid.x + TT·j (strided, so the
// stores of neighbouring threads are contiguous). A and B stream through BK-deep workgroup tiles.
override TT: u32 = 16u;
const BK = 16u;
const TM = 4u; // outputs per thread along M
const TN = 4u; // outputs per thread along N

var<workgroup> As: array<f32, BK * 4u * TT>; // [BK][BM]
var<workgroup> Bs: array<f32, BK * 4u * TT>; // [BK][BN]

fn loadA(m: u32, k: u32) -> f32 {
  if (m >= dims.M || k >= dims.K) { return 0.0; }
  if (TRANS_A) { return A[k * dims.M + m]; }
  return A[m * dims.K + k];
}

fn loadB(k: u32, n: u32) -> f32 {
  if (k >= dims.K || n >= dims.N) { return 0.0; }
  if (TRANS_B) { return B[n * dims.K + k]; }
  return B[k * dims.N + n];
}

/**
 * The epilogue shared by every variant: C[m, n] = v [+ bias[n]] [+ C[m, n]], then EPI's GELU step
 * (EPI 2 is used without flags: src/ops/linear.ts checks).
 */
fn store(m: u32, n: u32, v: f32) {
  if (m >= dims.M || n >= dims.N) { return; }
  let i = m * dims.N + n;
  var o = v;
  if ((dims.flags & 1u) != 0u) { o += bias[n]; }
  if ((dims.flags & 2u) != 0u) { o += C[i]; }
  if (EPI == 2u) { o *= gelu_grad(Aux[i]); }
  C[i] = o;
  if (EPI == 1u) { Aux[i] = gelu(o); }
}

/** EPI 3: Aux[m] += s for a row of C inside M. */
fn addRowSum(m: u32, s: f32) {
  if (m < dims.M) { Aux[m] += s; }
}

/** EPI 3 where the kernel's loop does not see op(A)'s row m whole: Σ_k op(A)[m, k], k ascending. */
fn rowSum(m: u32) -> f32 {
  var s = 0.0;
  for (var k = 0u; k < dims.K; k++) { s += loadA(m, k); }
  return s;
}

@compute @workgroup_size(TT, TT)
fn matmul(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let BM = 4u * TT;
  let BN = 4u * TT;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let tid = lid.y * TT + lid.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < dims.K; k0 += BK) {
    for (var e = tid; e < BK * BM; e += TT * TT) {
      // A tile: walk k fastest when A is row-major (M, K), m fastest when transposed.
      if (TRANS_A) {
        let mm = e % BM; let kk = e / BM;
        As[kk * BM + mm] = loadA(row0 + mm, k0 + kk);
      } else {
        let kk = e % BK; let mm = e / BK;
        As[kk * BM + mm] = loadA(row0 + mm, k0 + kk);
      }
      if (TRANS_B) {
        let kk = e % BK; let nn = e / BK;
        Bs[kk * BN + nn] = loadB(k0 + kk, col0 + nn);
      } else {
        let nn = e % BN; let kk = e / BN;
        Bs[kk * BN + nn] = loadB(k0 + kk, col0 + nn);
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < TM; i++) { a[i] = As[kk * BM + lid.y + TT * i]; }
      for (var j = 0u; j < TN; j++) { b[j] = Bs[kk * BN + lid.x + TT * j]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) {
          acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < TM; i++) {
    for (var j = 0u; j < TN; j++) {
      store(row0 + lid.y + TT * i, col0 + lid.x + TT * j, acc[i * TN + j]);
    }
  }
  if (EPI == 3u && col0 == 0u && lid.x == 0u) {
    for (var i = 0u; i < TM; i++) { addRowSum(row0 + lid.y + TT * i, rowSum(row0 + lid.y + TT * i)); }
  }
}

// ------------------------------------------------------------------ matmul_reg (registers only)
// For thin shapes and CPU-like adapters (SwiftShader: barriers and dynamically indexed private
// arrays are slow there). One thread per 4×4 block of C, rows m0..m0+3 in four vec4 accumulators
// over columns n0..n0+3; A and B read straight from storage as vec4, no workgroup memory, no
// barrier, no private array. Threads are numbered flat (n-blocks fastest) in workgroups of RWG.
// Needs the vec4-indexed dimensions to be multiples of 4 (src/ops/linear.ts checks):
//   A·Bᵀ (TRANS_B)   K          rows of A and of B past M, N are clamped (read, never stored)
//   A·B              K and N
//   Aᵀ·B (TRANS_A)   M and N
// Both transposed is not offered (the tiled kernel serves it).
override RWG: u32 = 64u;

@group(0) @binding(6) var<storage, read> A4: array<vec4f>;
@group(0) @binding(7) var<storage, read> B4: array<vec4f>;

/** rowSum for the register kernels (they bind A as vec4s): the same sum, each element read from A4. */
fn rowSum4(m: u32) -> f32 {
  if (m >= dims.M) { return 0.0; }
  var s = 0.0;
  for (var k = 0u; k < dims.K; k++) {
    let i = select(m * dims.K + k, k * dims.M + m, TRANS_A);
    s += A4[i / 4u][i % 4u];
  }
  return s;
}

fn store4(m: u32, n0: u32, v: vec4f) {
  store(m, n0, v.x);
  store(m, n0 + 1u, v.y);
  store(m, n0 + 2u, v.z);
  store(m, n0 + 3u, v.w);
}

// One row of A (a: four consecutive k) times B's four k rows (y0..y3: four columns each), added to c,
// and one row of A dotted with four rows of a transposed B: the inner products of the register kernels.
fn rowTimes(a: vec4f, y0: vec4f, y1: vec4f, y2: vec4f, y3: vec4f, c: vec4f) -> vec4f {
  return fma(vec4f(a.x), y0, fma(vec4f(a.y), y1, fma(vec4f(a.z), y2, fma(vec4f(a.w), y3, c))));
}

fn dots(a: vec4f, x0: vec4f, x1: vec4f, x2: vec4f, x3: vec4f) -> vec4f {
  return vec4f(dot(a, x0), dot(a, x1), dot(a, x2), dot(a, x3));
}

@compute @workgroup_size(RWG)
fn matmul_reg(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let nbN = (dims.N + 3u) / 4u;
  let id = gid.y * nwg.x * RWG + gid.x;
  let m0 = (id / nbN) * 4u;
  let n0 = (id % nbN) * 4u;
  if (m0 >= dims.M) { return; }
  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  var sa = vec4f(0.0); // EPI 3 with TRANS_A: op(A)'s row sums of rows m0..m0+3
  let K4 = dims.K / 4u;
  if (TRANS_B) {
    // C[m, n] = Σ_k A[m, k]·B[n, k]: both rows contiguous in k.
    let a0 = min(m0, dims.M - 1u) * K4;
    let a1 = min(m0 + 1u, dims.M - 1u) * K4;
    let a2 = min(m0 + 2u, dims.M - 1u) * K4;
    let a3 = min(m0 + 3u, dims.M - 1u) * K4;
    let b0 = min(n0, dims.N - 1u) * K4;
    let b1 = min(n0 + 1u, dims.N - 1u) * K4;
    let b2 = min(n0 + 2u, dims.N - 1u) * K4;
    let b3 = min(n0 + 3u, dims.N - 1u) * K4;
    for (var k = 0u; k < K4; k++) {
      let x0 = B4[b0 + k];
      let x1 = B4[b1 + k];
      let x2 = B4[b2 + k];
      let x3 = B4[b3 + k];
      var a = A4[a0 + k];
      c0 += dots(a, x0, x1, x2, x3);
      a = A4[a1 + k];
      c1 += dots(a, x0, x1, x2, x3);
      a = A4[a2 + k];
      c2 += dots(a, x0, x1, x2, x3);
      a = A4[a3 + k];
      c3 += dots(a, x0, x1, x2, x3);
    }
  } else if (TRANS_A) {
    // C[m, n] = Σ_k A[k, m]·B[k, n]: one vec4 of each per k, an outer product.
    let M4 = dims.M / 4u;
    let N4 = dims.N / 4u;
    for (var k = 0u; k < dims.K; k++) {
      let a = A4[k * M4 + m0 / 4u];
      let b = B4[k * N4 + n0 / 4u];
      c0 = fma(vec4f(a.x), b, c0);
      c1 = fma(vec4f(a.y), b, c1);
      c2 = fma(vec4f(a.z), b, c2);
      c3 = fma(vec4f(a.w), b, c3);
      if (EPI == 3u) { sa += a; }
    }
  } else {
    // C[m, n] = Σ_k A[m, k]·B[k, n]: four k at a time, A's as a vec4 per row, B's as four row vec4s.
    let N4 = dims.N / 4u;
    let a0 = min(m0, dims.M - 1u) * K4;
    let a1 = min(m0 + 1u, dims.M - 1u) * K4;
    let a2 = min(m0 + 2u, dims.M - 1u) * K4;
    let a3 = min(m0 + 3u, dims.M - 1u) * K4;
    for (var k = 0u; k < K4; k++) {
      let kb = 4u * k * N4 + n0 / 4u;
      let y0 = B4[kb];
      let y1 = B4[kb + N4];
      let y2 = B4[kb + 2u * N4];
      let y3 = B4[kb + 3u * N4];
      var a = A4[a0 + k];
      c0 = rowTimes(a, y0, y1, y2, y3, c0);
      a = A4[a1 + k];
      c1 = rowTimes(a, y0, y1, y2, y3, c1);
      a = A4[a2 + k];
      c2 = rowTimes(a, y0, y1, y2, y3, c2);
      a = A4[a3 + k];
      c3 = rowTimes(a, y0, y1, y2, y3, c3);
    }
  }
  store4(m0, n0, c0);
  store4(m0 + 1u, n0, c1);
  store4(m0 + 2u, n0, c2);
  store4(m0 + 3u, n0, c3);
  if (EPI == 3u && n0 == 0u) {
    if (!TRANS_A) { sa = vec4f(rowSum4(m0), rowSum4(m0 + 1u), rowSum4(m0 + 2u), rowSum4(m0 + 3u)); }
    addRowSum(m0, sa.x);
    addRowSum(m0 + 1u, sa.y);
    addRowSum(m0 + 2u, sa.z);
    addRowSum(m0 + 3u, sa.w);
  }
}

// ------------------------------------------------------------------ matmul_reg8 (registers, 8×8 blocks)
// matmul_reg with an 8×8 block of C per thread: twice the multiply-adds per value loaded (16 vec4
// loads per 256 multiply-adds), which is what bounds a CPU-emulated adapter (SwiftShader: 1.5–2.2×
// the 4×4 kernel's speed on the DiT's shapes). Same operand conditions as matmul_reg (vec4-indexed
// dimensions multiples of 4); rows and columns past M, N are read clamped or from the next row (in
// bounds or robustly zero) and never stored. Accumulators c<row><half>: columns n0..n0+3, n0+4..n0+7.
fn store8(m: u32, n0: u32, lo: vec4f, hi: vec4f) {
  store4(m, n0, lo);
  store4(m, n0 + 4u, hi);
}

@compute @workgroup_size(RWG)
fn matmul_reg8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let nbN = (dims.N + 7u) / 8u;
  let id = gid.y * nwg.x * RWG + gid.x;
  let m0 = (id / nbN) * 8u;
  let n0 = (id % nbN) * 8u;
  if (m0 >= dims.M) { return; }
  var c00 = vec4f(0.0); var c01 = vec4f(0.0);
  var c10 = vec4f(0.0); var c11 = vec4f(0.0);
  var c20 = vec4f(0.0); var c21 = vec4f(0.0);
  var c30 = vec4f(0.0); var c31 = vec4f(0.0);
  var c40 = vec4f(0.0); var c41 = vec4f(0.0);
  var c50 = vec4f(0.0); var c51 = vec4f(0.0);
  var c60 = vec4f(0.0); var c61 = vec4f(0.0);
  var c70 = vec4f(0.0); var c71 = vec4f(0.0);
  var sa0 = vec4f(0.0); var sa1 = vec4f(0.0); // EPI 3 with TRANS_A: op(A)'s row sums of rows m0..m0+7
  let K4 = dims.K / 4u;
  if (TRANS_B) {
    // C[m, n] = Σ_k A[m, k]·B[n, k]: eight rows of each, contiguous in k.
    let ra0 = min(m0 + 0u, dims.M - 1u) * K4;
    let ra1 = min(m0 + 1u, dims.M - 1u) * K4;
    let ra2 = min(m0 + 2u, dims.M - 1u) * K4;
    let ra3 = min(m0 + 3u, dims.M - 1u) * K4;
    let ra4 = min(m0 + 4u, dims.M - 1u) * K4;
    let ra5 = min(m0 + 5u, dims.M - 1u) * K4;
    let ra6 = min(m0 + 6u, dims.M - 1u) * K4;
    let ra7 = min(m0 + 7u, dims.M - 1u) * K4;
    let rb0 = min(n0 + 0u, dims.N - 1u) * K4;
    let rb1 = min(n0 + 1u, dims.N - 1u) * K4;
    let rb2 = min(n0 + 2u, dims.N - 1u) * K4;
    let rb3 = min(n0 + 3u, dims.N - 1u) * K4;
    let rb4 = min(n0 + 4u, dims.N - 1u) * K4;
    let rb5 = min(n0 + 5u, dims.N - 1u) * K4;
    let rb6 = min(n0 + 6u, dims.N - 1u) * K4;
    let rb7 = min(n0 + 7u, dims.N - 1u) * K4;
    for (var k = 0u; k < K4; k++) {
      let x0 = B4[rb0 + k];
      let x1 = B4[rb1 + k];
      let x2 = B4[rb2 + k];
      let x3 = B4[rb3 + k];
      let x4 = B4[rb4 + k];
      let x5 = B4[rb5 + k];
      let x6 = B4[rb6 + k];
      let x7 = B4[rb7 + k];
      { let a = A4[ra0 + k];
        c00 += dots(a, x0, x1, x2, x3);
        c01 += dots(a, x4, x5, x6, x7); }
      { let a = A4[ra1 + k];
        c10 += dots(a, x0, x1, x2, x3);
        c11 += dots(a, x4, x5, x6, x7); }
      { let a = A4[ra2 + k];
        c20 += dots(a, x0, x1, x2, x3);
        c21 += dots(a, x4, x5, x6, x7); }
      { let a = A4[ra3 + k];
        c30 += dots(a, x0, x1, x2, x3);
        c31 += dots(a, x4, x5, x6, x7); }
      { let a = A4[ra4 + k];
        c40 += dots(a, x0, x1, x2, x3);
        c41 += dots(a, x4, x5, x6, x7); }
      { let a = A4[ra5 + k];
        c50 += dots(a, x0, x1, x2, x3);
        c51 += dots(a, x4, x5, x6, x7); }
      { let a = A4[ra6 + k];
        c60 += dots(a, x0, x1, x2, x3);
        c61 += dots(a, x4, x5, x6, x7); }
      { let a = A4[ra7 + k];
        c70 += dots(a, x0, x1, x2, x3);
        c71 += dots(a, x4, x5, x6, x7); }
    }
  } else if (TRANS_A) {
    // C[m, n] = Σ_k A[k, m]·B[k, n]: two vec4 of each per k, an 8×8 outer product.
    let M4 = dims.M / 4u;
    let N4 = dims.N / 4u;
    for (var k = 0u; k < dims.K; k++) {
      let a0 = A4[k * M4 + m0 / 4u];
      let a1 = A4[k * M4 + m0 / 4u + 1u];
      let b0 = B4[k * N4 + n0 / 4u];
      let b1 = B4[k * N4 + n0 / 4u + 1u];
      c00 = fma(vec4f(a0.x), b0, c00); c01 = fma(vec4f(a0.x), b1, c01);
      c10 = fma(vec4f(a0.y), b0, c10); c11 = fma(vec4f(a0.y), b1, c11);
      c20 = fma(vec4f(a0.z), b0, c20); c21 = fma(vec4f(a0.z), b1, c21);
      c30 = fma(vec4f(a0.w), b0, c30); c31 = fma(vec4f(a0.w), b1, c31);
      c40 = fma(vec4f(a1.x), b0, c40); c41 = fma(vec4f(a1.x), b1, c41);
      c50 = fma(vec4f(a1.y), b0, c50); c51 = fma(vec4f(a1.y), b1, c51);
      c60 = fma(vec4f(a1.z), b0, c60); c61 = fma(vec4f(a1.z), b1, c61);
      c70 = fma(vec4f(a1.w), b0, c70); c71 = fma(vec4f(a1.w), b1, c71);
      if (EPI == 3u) { sa0 += a0; sa1 += a1; }
    }
  } else {
    // C[m, n] = Σ_k A[m, k]·B[k, n]: four k at a time, A as a vec4 per row, B as two vec4 per k row.
    let N4 = dims.N / 4u;
    let ra0 = min(m0 + 0u, dims.M - 1u) * K4;
    let ra1 = min(m0 + 1u, dims.M - 1u) * K4;
    let ra2 = min(m0 + 2u, dims.M - 1u) * K4;
    let ra3 = min(m0 + 3u, dims.M - 1u) * K4;
    let ra4 = min(m0 + 4u, dims.M - 1u) * K4;
    let ra5 = min(m0 + 5u, dims.M - 1u) * K4;
    let ra6 = min(m0 + 6u, dims.M - 1u) * K4;
    let ra7 = min(m0 + 7u, dims.M - 1u) * K4;
    for (var k = 0u; k < K4; k++) {
      let kb = 4u * k * N4 + n0 / 4u;
      let y00 = B4[kb + 0u * N4]; let y01 = B4[kb + 0u * N4 + 1u];
      let y10 = B4[kb + 1u * N4]; let y11 = B4[kb + 1u * N4 + 1u];
      let y20 = B4[kb + 2u * N4]; let y21 = B4[kb + 2u * N4 + 1u];
      let y30 = B4[kb + 3u * N4]; let y31 = B4[kb + 3u * N4 + 1u];
      { let a = A4[ra0 + k];
        c00 = rowTimes(a, y00, y10, y20, y30, c00);
        c01 = rowTimes(a, y01, y11, y21, y31, c01);
      }
      { let a = A4[ra1 + k];
        c10 = rowTimes(a, y00, y10, y20, y30, c10);
        c11 = rowTimes(a, y01, y11, y21, y31, c11);
      }
      { let a = A4[ra2 + k];
        c20 = rowTimes(a, y00, y10, y20, y30, c20);
        c21 = rowTimes(a, y01, y11, y21, y31, c21);
      }
      { let a = A4[ra3 + k];
        c30 = rowTimes(a, y00, y10, y20, y30, c30);
        c31 = rowTimes(a, y01, y11, y21, y31, c31);
      }
      { let a = A4[ra4 + k];
        c40 = rowTimes(a, y00, y10, y20, y30, c40);
        c41 = rowTimes(a, y01, y11, y21, y31, c41);
      }
      { let a = A4[ra5 + k];
        c50 = rowTimes(a, y00, y10, y20, y30, c50);
        c51 = rowTimes(a, y01, y11, y21, y31, c51);
      }
      { let a = A4[ra6 + k];
        c60 = rowTimes(a, y00, y10, y20, y30, c60);
        c61 = rowTimes(a, y01, y11, y21, y31, c61);
      }
      { let a = A4[ra7 + k];
        c70 = rowTimes(a, y00, y10, y20, y30, c70);
        c71 = rowTimes(a, y01, y11, y21, y31, c71);
      }
    }
  }
  store8(m0 + 0u, n0, c00, c01);
  store8(m0 + 1u, n0, c10, c11);
  store8(m0 + 2u, n0, c20, c21);
  store8(m0 + 3u, n0, c30, c31);
  store8(m0 + 4u, n0, c40, c41);
  store8(m0 + 5u, n0, c50, c51);
  store8(m0 + 6u, n0, c60, c61);
  store8(m0 + 7u, n0, c70, c71);
  if (EPI == 3u && n0 == 0u) {
    if (!TRANS_A) {
      sa0 = vec4f(rowSum4(m0), rowSum4(m0 + 1u), rowSum4(m0 + 2u), rowSum4(m0 + 3u));
      sa1 = vec4f(rowSum4(m0 + 4u), rowSum4(m0 + 5u), rowSum4(m0 + 6u), rowSum4(m0 + 7u));
    }
    addRowSum(m0, sa0.x);
    addRowSum(m0 + 1u, sa0.y);
    addRowSum(m0 + 2u, sa0.z);
    addRowSum(m0 + 3u, sa0.w);
    addRowSum(m0 + 4u, sa1.x);
    addRowSum(m0 + 5u, sa1.y);
    addRowSum(m0 + 6u, sa1.z);
    addRowSum(m0 + 7u, sa1.w);
  }
}

// ------------------------------------------------------------------ matmul_el (one thread per element)
// For shapes too thin or odd for the other two (a K or N of 2: the 2-D mode's patch embed and final
// layer), where a tile kernel's barriers cost more than its arithmetic: one thread per element of
// C, a plain loop over K through loadA / loadB (any transposition, any size), no workgroup memory.
// Threads are numbered flat (columns fastest) in workgroups of RWG.
@compute @workgroup_size(RWG)
fn matmul_el(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = gid.y * nwg.x * RWG + gid.x;
  let m = id / dims.N;
  let n = id % dims.N;
  if (m >= dims.M) { return; }
  var s = 0.0;
  for (var k = 0u; k < dims.K; k++) { s = fma(loadA(m, k), loadB(k, n), s); }
  store(m, n, s);
  if (EPI == 3u && n == 0u) { addRowSum(m, rowSum(m)); }
}

// colsum: out[n] (+)= Σ_m X[m, n].  X (M, N), out (N). flags bit 1: accumulate.
@group(0) @binding(8) var<storage, read> X: array<f32>;
@group(0) @binding(9) var<storage, read_write> colOut: array<f32>;

@compute @workgroup_size(64)
fn colsum(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= dims.N) { return; }
  var s = 0.0;
  for (var m = 0u; m < dims.M; m++) { s += X[m * dims.N + n]; }
  if ((dims.flags & 2u) != 0u) { s += colOut[n]; }
  colOut[n] = s;
}
