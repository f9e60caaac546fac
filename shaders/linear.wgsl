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
//            db += colsum(dY)       colsum, ACC            (accumulates)

struct Dims {
  M: u32,
  N: u32,
  K: u32,
  flags: u32, // bit 0: add bias[N]; bit 1: accumulate into C
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;      // (M, K) or (K, M)
@group(0) @binding(2) var<storage, read> B: array<f32>;      // (K, N) or (N, K)
@group(0) @binding(3) var<storage, read> bias: array<f32>;   // (N), read only when flags bit 0
@group(0) @binding(4) var<storage, read_write> C: array<f32>; // (M, N)

const BM = 64u;
const BN = 64u;
const BK = 16u;
const TM = 4u; // outputs per thread along M
const TN = 4u; // outputs per thread along N

var<workgroup> As: array<f32, 1024>; // [BK][BM]
var<workgroup> Bs: array<f32, 1024>; // [BK][BN]

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

// One 64×64 tile of C per workgroup; each of the 16×16 threads owns a 4×4 register block,
// rows lid.y + 16·i and columns lid.x + 16·j (strided, so stores of a warp are contiguous).
@compute @workgroup_size(16, 16)
fn matmul(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < dims.K; k0 += BK) {
    for (var i = 0u; i < 4u; i++) {
      let e = tid + i * 256u;
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
      for (var i = 0u; i < TM; i++) { a[i] = As[kk * BM + lid.y + 16u * i]; }
      for (var j = 0u; j < TN; j++) { b[j] = Bs[kk * BN + lid.x + 16u * j]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) {
          acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
        }
      }
    }
    workgroupBarrier();
  }
  let addBias = (dims.flags & 1u) != 0u;
  let accumulate = (dims.flags & 2u) != 0u;
  for (var i = 0u; i < TM; i++) {
    let m = row0 + lid.y + 16u * i;
    if (m >= dims.M) { continue; }
    for (var j = 0u; j < TN; j++) {
      let n = col0 + lid.x + 16u * j;
      if (n >= dims.N) { continue; }
      var v = acc[i * TN + j];
      if (addBias) { v += bias[n]; }
      if (accumulate) { v += C[m * dims.N + n]; }
      C[m * dims.N + n] = v;
    }
  }
}

// colsum: out[n] (+)= Σ_m X[m, n].  X (M, N), out (N). flags bit 1: accumulate.
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> colOut: array<f32>;

@compute @workgroup_size(64)
fn colsum(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= dims.N) { return; }
  var s = 0.0;
  for (var m = 0u; m < dims.M; m++) { s += X[m * dims.N + n]; }
  if ((dims.flags & 2u) != 0u) { s += colOut[n]; }
  colOut[n] = s;
}
