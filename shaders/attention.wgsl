// Attention family: multi-head softmax self-attention on a packed qkv, its JVP and its backward.
//
// Dimension legend: B batch, T tokens, H heads, D width, hd = D / H head dim (≤ MAX_HD).
//   qkv (B, T, 3D), q, k, v stacked in that order, heads contiguous: head h of token (b, t) uses
//   q = qkv[b, t, h·hd + c], k = qkv[b, t, D + h·hd + c], v = qkv[b, t, 2D + h·hd + c], c < hd.
//   o (B, T, D): heads concatenated in the same order (the proj linear's input).
//   Per (b, h): S = Q·Kᵀ·scale (T, T), scale = 1/√hd, P = softmax over each row of S, O = P·V.
//
// Nothing (T, T) is materialised. One thread owns one query row (or one key row in bwd_dkv) of one
// head; the other side's rows stream through workgroup tiles of `dims.rows` rows, and the softmax
// is kept online: running max m, l = Σ exp(s − m), and P-weighted running means (see online_push).
// Grid for every entry: (ceil(T / WG), H, B) when TILED.
// TILED = false (CPU-like adapters, where barriers cost more than the loads they share): no
// workgroup tiles and no barrier; each thread reads the other side's rows straight from storage,
// and workgroups take rows of any (b, h) in turn (flat over (B, H, T); grid (ceil(B·H·T / WG))).
//
//   forward    o = P·V
//   jvp        o and tO together: tS = (tQ·Kᵀ + Q·tKᵀ)·scale, Ṗ = P ⊙ (tS − rowsum(P ⊙ tS)),
//              tO = Ṗ·V + P·tV
//   bwd_stats  per query row: lse = m + log l and Δ = dO·O (O recomputed, flash-attention style)
//   bwd_dq     dQ = scale · Σ_j dS_ij K_j, dS = P ⊙ (dO·Vᵀ − Δ)
//   bwd_dkv    dK = scale · Σ_i dS_ij Q_i, dV = Σ_i P_ij dO_i
// The three backward passes need no atomics: each output row has one owner thread.

struct Dims {
  B: u32,
  T: u32,
  H: u32,
  D: u32,
  hd: u32,
  rows: u32,   // rows per workgroup tile: min(CAP / hd, WG)
  scale: f32,  // 1/√hd
  pad: u32,
}

const MAX_HD = 64u;        // function-scope row arrays need a constant size; TS rejects hd > 64
const CAP = 1024u;         // floats per workgroup tile (4 KiB); jvp holds four = 16 KiB, the default limit
const MAX_ROWS = 64u;      // rows per tile at most (small hd); tiles have ≤ WG rows so one thread loads each row's stats
// Threads (rows) per workgroup, ≤ MAX_ROWS: src/ops/attention.ts sets it to T rounded up to a power
// of two (8..64), so few tokens do not leave most of a group idle at every barrier.
override WG: u32 = 64u;
override TILED: bool = true;
const NEG_BIG = -3.402823e38; // the running max before any key: finite, so exp(m_old − m_new) is 0, not NaN

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;            // (B, T, 3D)    every entry
@group(0) @binding(2) var<storage, read_write> o: array<f32>;        // (B, T, D)     forward, jvp
@group(0) @binding(5) var<storage, read> dO: array<f32>;             // (B, T, D)     backward passes
@group(0) @binding(3) var<storage, read> tQkv: array<f32>;           // (B, T, 3D)    jvp
@group(0) @binding(6) var<storage, read_write> statsOut: array<f32>; // (B, H, T, 2)  bwd_stats: [lse, Δ]
@group(0) @binding(7) var<storage, read> stats: array<f32>;          // (B, H, T, 2)  bwd_dq, bwd_dkv
@group(0) @binding(4) var<storage, read_write> tO: array<f32>;       // (B, T, D)     jvp
@group(0) @binding(8) var<storage, read_write> dQkv: array<f32>;     // (B, T, 3D)    bwd_dq, bwd_dkv

// Tiles, [rows][hd] row-major. Query-row kernels stream keys; bwd_dkv streams queries.
var<workgroup> kTile: array<f32, CAP>;
var<workgroup> vTile: array<f32, CAP>;
var<workgroup> tkTile: array<f32, CAP>;
var<workgroup> tvTile: array<f32, CAP>;
var<workgroup> qTile: array<f32, CAP>;   // scale·q
var<workgroup> dOTile: array<f32, CAP>;
var<workgroup> lseTile: array<f32, MAX_ROWS>;
var<workgroup> deltaTile: array<f32, MAX_ROWS>;

/** Flat index of column c of head h in part (0 q, 1 k, 2 v) of token (b, t) of a (B, T, 3D) tensor. */
fn at(b: u32, t: u32, part: u32, h: u32, c: u32) -> u32 {
  return (b * dims.T + t) * 3u * dims.D + part * dims.D + h * dims.hd + c;
}

/** Flat index of column c of head h of token (b, t) of a (B, T, D) tensor. */
fn atO(b: u32, t: u32, h: u32, c: u32) -> u32 {
  return (b * dims.T + t) * dims.D + h * dims.hd + c;
}

/** Row of (b, h, t) in the (B, H, T, 2) statistics. */
fn statRow(b: u32, h: u32, t: u32) -> u32 {
  return (b * dims.H + h) * dims.T + t;
}

// ------------------------------------------------------------------ softmax, written once

struct Online {
  m: f32, // running max of the logits seen
  l: f32, // Σ exp(s − m)
}

fn online_new() -> Online {
  return Online(NEG_BIG, 0.0);
}

/**
 * Adds logit s. Returns f = p / l_new, this key's share of the weight so far. Running means then
 * update as μ += f·(x − μ) (older keys keep 1 − f), which is the online softmax with no rescale of
 * sums: the row's weighted means stay O(|x|), so nothing large cancels at the end.
 */
fn online_push(st: ptr<function, Online>, s: f32) -> f32 {
  let m = max((*st).m, s);
  let p = exp(s - m);
  (*st).l = fma((*st).l, exp((*st).m - m), p);
  (*st).m = m;
  return p / (*st).l;
}

/**
 * The softmax derivative for one element: p·(g − ḡ), ḡ = Σ_row p·g. Backward: dS = P ⊙ (dP − Δ)
 * with Δ = Σ_j P_ij dP_ij = dO_i·O_i. The JVP applies the same map to tS, streamed and summed
 * against V: Σ_j softmax_grad(P_j, tS_j, t̄S)·V_j = Σ_j P_j (tS_j − t̄S)(V_j − O), a weighted
 * covariance, accumulated in centred form (cov_push) so the tangent does not cancel at large logits.
 */
fn softmax_grad(p: f32, g: f32, gBar: f32) -> f32 {
  return p * (g - gBar);
}

/** One step of a weighted co-moment: old mean of x (dx = x − x̄_old), new mean of y (y − ȳ_new). */
fn cov_push(cov: f32, f: f32, dx: f32, dyNew: f32) -> f32 {
  return mix(cov, dx * dyNew, f);
}

// ------------------------------------------------------------------ rows and tiles

struct RowId {
  b: u32,
  h: u32,
  i: u32, // query row (key row in bwd_dkv); ≥ T for the padding threads of the last group
}

fn row_id(wid: vec3u, lid: vec3u) -> RowId {
  if (TILED) { return RowId(wid.z, wid.y, wid.x * WG + lid.x); }
  let id = wid.x * WG + lid.x;
  let bh = id / dims.T;
  let pad = bh >= dims.B * dims.H;
  let bhc = min(bh, dims.B * dims.H - 1u);
  return RowId(bhc / dims.H, bhc % dims.H, select(id % dims.T, dims.T, pad));
}

// The streamed side's element (row j = j0 + r, column c): from the workgroup tile when TILED,
// else straight from storage.
fn kAt(b: u32, h: u32, j0: u32, r: u32, c: u32) -> f32 {
  if (TILED) { return kTile[r * dims.hd + c]; }
  return qkv[at(b, j0 + r, 1u, h, c)];
}
fn vAt(b: u32, h: u32, j0: u32, r: u32, c: u32) -> f32 {
  if (TILED) { return vTile[r * dims.hd + c]; }
  return qkv[at(b, j0 + r, 2u, h, c)];
}
fn tkAt(b: u32, h: u32, j0: u32, r: u32, c: u32) -> f32 {
  if (TILED) { return tkTile[r * dims.hd + c]; }
  return tQkv[at(b, j0 + r, 1u, h, c)];
}
fn tvAt(b: u32, h: u32, j0: u32, r: u32, c: u32) -> f32 {
  if (TILED) { return tvTile[r * dims.hd + c]; }
  return tQkv[at(b, j0 + r, 2u, h, c)];
}
fn qAt(b: u32, h: u32, i0: u32, r: u32, c: u32) -> f32 {
  if (TILED) { return qTile[r * dims.hd + c]; }
  return qkv[at(b, i0 + r, 0u, h, c)] * dims.scale; // as the tile holds it: bit-identical s
}
fn dOAt(b: u32, h: u32, i0: u32, r: u32, c: u32) -> f32 {
  if (TILED) { return dOTile[r * dims.hd + c]; }
  return dO[atO(b, i0 + r, h, c)];
}
fn lseAt(b: u32, h: u32, i0: u32, r: u32) -> f32 {
  if (TILED) { return lseTile[r]; }
  return stats[2u * statRow(b, h, i0 + r)];
}
fn deltaAt(b: u32, h: u32, i0: u32, r: u32) -> f32 {
  if (TILED) { return deltaTile[r]; }
  return stats[2u * statRow(b, h, i0 + r) + 1u];
}

// Rows per pass over the streamed side: a tile, or all T at once untiled.
fn step_rows() -> u32 {
  return select(dims.T, dims.rows, TILED);
}

/** K and V rows j0 .. j0 + n of head (b, h) into kTile, vTile. Called by every thread of the group. */
fn load_kv(b: u32, h: u32, j0: u32, n: u32, tid: u32) {
  for (var e = tid; e < n * dims.hd; e += WG) {
    let r = e / dims.hd;
    let c = e % dims.hd;
    kTile[e] = qkv[at(b, j0 + r, 1u, h, c)];
    vTile[e] = qkv[at(b, j0 + r, 2u, h, c)];
  }
}

/**
 * Streams every key of head (b, h) past one query row qs (already ×scale): leaves O = Σ_j P_j V_j in
 * o_row and returns the final (m, l). Contains barriers: every thread of the group calls it
 * (rows past T with qs = 0; their results are discarded).
 */
fn attend(b: u32, h: u32, tid: u32, qs: ptr<function, array<f32, MAX_HD>>, o_row: ptr<function, array<f32, MAX_HD>>) -> Online {
  var st = online_new();
  let hd = dims.hd;
  for (var j0 = 0u; j0 < dims.T; j0 += step_rows()) {
    let n = min(step_rows(), dims.T - j0);
    if (TILED) {
      workgroupBarrier(); // the previous tile is fully read
      load_kv(b, h, j0, n, tid);
      workgroupBarrier();
    }
    for (var r = 0u; r < n; r++) {
      var s = 0.0;
      for (var c = 0u; c < hd; c++) { s = fma((*qs)[c], kAt(b, h, j0, r, c), s); }
      let f = online_push(&st, s);
      for (var c = 0u; c < hd; c++) { (*o_row)[c] = mix((*o_row)[c], vAt(b, h, j0, r, c), f); }
    }
  }
  return st;
}

// ------------------------------------------------------------------ forward

// o (B, T, D) overwritten.
@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let id = row_id(wid, lid);
  let b = id.b;
  let h = id.h;
  let i = id.i;
  var qs: array<f32, MAX_HD>;
  var oRow: array<f32, MAX_HD>;
  if (i < dims.T) {
    for (var c = 0u; c < dims.hd; c++) { qs[c] = qkv[at(b, i, 0u, h, c)] * dims.scale; }
  }
  attend(b, h, lid.x, &qs, &oRow);
  if (i >= dims.T) { return; }
  for (var c = 0u; c < dims.hd; c++) { o[atO(b, i, h, c)] = oRow[c]; }
}

// ------------------------------------------------------------------ jvp

// o and tO (B, T, D) overwritten, in one pass over the keys. Running P-weighted statistics of the
// keys seen so far (each updated with f = online_push's share of the new key):
//   tsBar     mean of tS                      (→ rowsum(P ⊙ tS))
//   oRow      mean of V                       (→ O)
//   covRow    Σ P (tS − tsBar)(V − O), centred (→ Ṗ·V)
//   tvBar     mean of tV                      (→ P·tV)
// tO = covRow + tvBar.
@compute @workgroup_size(WG)
fn jvp(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let id = row_id(wid, lid);
  let b = id.b;
  let h = id.h;
  let i = id.i;
  let hd = dims.hd;
  var qs: array<f32, MAX_HD>;
  var tqs: array<f32, MAX_HD>;
  var oRow: array<f32, MAX_HD>;
  var covRow: array<f32, MAX_HD>;
  var tvBar: array<f32, MAX_HD>;
  if (i < dims.T) {
    for (var c = 0u; c < hd; c++) {
      qs[c] = qkv[at(b, i, 0u, h, c)] * dims.scale;
      tqs[c] = tQkv[at(b, i, 0u, h, c)] * dims.scale;
    }
  }
  var st = online_new();
  var tsBar = 0.0;
  for (var j0 = 0u; j0 < dims.T; j0 += step_rows()) {
    let n = min(step_rows(), dims.T - j0);
    if (TILED) {
      workgroupBarrier();
      load_kv(b, h, j0, n, lid.x);
      for (var e = lid.x; e < n * hd; e += WG) {
        let r = e / hd;
        let c = e % hd;
        tkTile[e] = tQkv[at(b, j0 + r, 1u, h, c)];
        tvTile[e] = tQkv[at(b, j0 + r, 2u, h, c)];
      }
      workgroupBarrier();
    }
    for (var r = 0u; r < n; r++) {
      var s = 0.0;
      var ts = 0.0; // tS = (tQ·K + Q·tK)·scale
      for (var c = 0u; c < hd; c++) {
        let k = kAt(b, h, j0, r, c);
        s = fma(qs[c], k, s);
        ts = fma(tqs[c], k, fma(qs[c], tkAt(b, h, j0, r, c), ts));
      }
      let f = online_push(&st, s);
      let dt = ts - tsBar;
      tsBar = fma(f, dt, tsBar);
      for (var c = 0u; c < hd; c++) {
        let v = vAt(b, h, j0, r, c);
        oRow[c] = mix(oRow[c], v, f);
        covRow[c] = cov_push(covRow[c], f, dt, v - oRow[c]);
        tvBar[c] = mix(tvBar[c], tvAt(b, h, j0, r, c), f);
      }
    }
  }
  if (i >= dims.T) { return; }
  for (var c = 0u; c < hd; c++) {
    o[atO(b, i, h, c)] = oRow[c];
    tO[atO(b, i, h, c)] = covRow[c] + tvBar[c];
  }
}

// ------------------------------------------------------------------ backward

// Pass 1. statsOut (B, H, T, 2) overwritten: [lse_i = m_i + log l_i, Δ_i = dO_i·O_i].
@compute @workgroup_size(WG)
fn bwd_stats(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let id = row_id(wid, lid);
  let b = id.b;
  let h = id.h;
  let i = id.i;
  var qs: array<f32, MAX_HD>;
  var oRow: array<f32, MAX_HD>;
  if (i < dims.T) {
    for (var c = 0u; c < dims.hd; c++) { qs[c] = qkv[at(b, i, 0u, h, c)] * dims.scale; }
  }
  let st = attend(b, h, lid.x, &qs, &oRow);
  if (i >= dims.T) { return; }
  var delta = 0.0;
  for (var c = 0u; c < dims.hd; c++) { delta = fma(dO[atO(b, i, h, c)], oRow[c], delta); }
  let row = statRow(b, h, i);
  statsOut[2u * row] = st.m + log(st.l);
  statsOut[2u * row + 1u] = delta;
}

// Pass 2, one thread per query row i. dQkv[..., 0:D] (dQ) overwritten.
@compute @workgroup_size(WG)
fn bwd_dq(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let id = row_id(wid, lid);
  let b = id.b;
  let h = id.h;
  let i = id.i;
  let hd = dims.hd;
  var qs: array<f32, MAX_HD>;
  var dOi: array<f32, MAX_HD>;
  var dq: array<f32, MAX_HD>;
  var lse = 0.0;
  var delta = 0.0;
  if (i < dims.T) {
    for (var c = 0u; c < hd; c++) {
      qs[c] = qkv[at(b, i, 0u, h, c)] * dims.scale;
      dOi[c] = dO[atO(b, i, h, c)];
    }
    let row = statRow(b, h, i);
    lse = stats[2u * row];
    delta = stats[2u * row + 1u];
  }
  for (var j0 = 0u; j0 < dims.T; j0 += step_rows()) {
    let n = min(step_rows(), dims.T - j0);
    if (TILED) {
      workgroupBarrier();
      load_kv(b, h, j0, n, lid.x);
      workgroupBarrier();
    }
    for (var r = 0u; r < n; r++) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < hd; c++) {
        s = fma(qs[c], kAt(b, h, j0, r, c), s);
        dp = fma(dOi[c], vAt(b, h, j0, r, c), dp);
      }
      let ds = softmax_grad(exp(s - lse), dp, delta);
      for (var c = 0u; c < hd; c++) { dq[c] = fma(ds, kAt(b, h, j0, r, c), dq[c]); }
    }
  }
  if (i >= dims.T) { return; }
  for (var c = 0u; c < hd; c++) { dQkv[at(b, i, 0u, h, c)] = dq[c] * dims.scale; }
}

// Pass 3, one thread per key row j; queries, dO and the row statistics stream through tiles.
// dQkv[..., D:2D] (dK) and dQkv[..., 2D:3D] (dV) overwritten.
@compute @workgroup_size(WG)
fn bwd_dkv(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let id = row_id(wid, lid);
  let b = id.b;
  let h = id.h;
  let j = id.i;
  let hd = dims.hd;
  var k: array<f32, MAX_HD>;
  var v: array<f32, MAX_HD>;
  var dk: array<f32, MAX_HD>;
  var dv: array<f32, MAX_HD>;
  if (j < dims.T) {
    for (var c = 0u; c < hd; c++) {
      k[c] = qkv[at(b, j, 1u, h, c)];
      v[c] = qkv[at(b, j, 2u, h, c)];
    }
  }
  for (var i0 = 0u; i0 < dims.T; i0 += step_rows()) {
    let n = min(step_rows(), dims.T - i0);
    if (TILED) {
      workgroupBarrier();
      for (var e = lid.x; e < n * hd; e += WG) {
        let r = e / hd;
        let c = e % hd;
        // scale·q exactly as the query-row passes form it, so s (and P) match bwd_stats bit for bit.
        qTile[e] = qkv[at(b, i0 + r, 0u, h, c)] * dims.scale;
        dOTile[e] = dO[atO(b, i0 + r, h, c)];
      }
      if (lid.x < n) {
        let row = statRow(b, h, i0 + lid.x);
        lseTile[lid.x] = stats[2u * row];
        deltaTile[lid.x] = stats[2u * row + 1u];
      }
      workgroupBarrier();
    }
    for (var r = 0u; r < n; r++) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < hd; c++) {
        s = fma(qAt(b, h, i0, r, c), k[c], s);
        dp = fma(dOAt(b, h, i0, r, c), v[c], dp);
      }
      let p = exp(s - lseAt(b, h, i0, r));
      let ds = softmax_grad(p, dp, deltaAt(b, h, i0, r));
      for (var c = 0u; c < hd; c++) {
        dv[c] = fma(p, dOAt(b, h, i0, r, c), dv[c]);
        dk[c] = fma(ds, qAt(b, h, i0, r, c), dk[c]); // q held as scale·q: dK = scale·Σ dS·q
      }
    }
  }
  if (j >= dims.T) { return; }
  for (var c = 0u; c < hd; c++) {
    dQkv[at(b, j, 1u, h, c)] = dk[c];
    dQkv[at(b, j, 2u, h, c)] = dv[c];
  }
}
