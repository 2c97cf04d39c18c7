// Scaled dot-product attention over a per-layer KV cache, and the store that fills the cache.
//
// Cache layout: K and V each [nKvHeads × capacity × headDim] f32, so the keys one head reads are contiguous rows.
// For query row i (at position pos0 + i) of head h, over keys j < n (n = kvLen, or min(kvLen, pos0 + i + 1) when
// causal):
//   s_j = scale·(q · K_j) + mask[j] + bias[h][i][j];   p = softmax(s);   out = Σ_j p_j V_j
// Query head h reads KV head h / (nHeads / nKvHeads) (grouped-query attention). A row whose scores are all −inf
// (masked out) outputs zeros. Heads [start, end).
import { hsum, loadTail, madd, softmaxRow, softmaxRowRef } from "./vecmath";

export function kvStore(k: usize, v: usize, srcStride: i32, kCache: usize, vCache: usize, capacity: i32, nKvHeads: i32, headDim: i32, pos: i32, rows: i32): void {
  const headBytes = <usize>headDim << 2;
  for (let r = 0; r < rows; r++) {
    const src = <usize>r * <usize>srcStride << 2;
    for (let h = 0; h < nKvHeads; h++) {
      const dst = (<usize>h * <usize>capacity + <usize>(pos + r)) * headBytes;
      memory.copy(kCache + dst, k + src + <usize>h * headBytes, headBytes);
      memory.copy(vCache + dst, v + src + <usize>h * headBytes, headBytes);
    }
  }
}

/** q · k over n f32. */
// @ts-ignore: decorator
@inline function dot(q: usize, k: usize, n: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let d = 0;
  for (; d + 8 <= n; d += 8) {
    const o = <usize>d << 2;
    a0 = madd(v128.load(q + o), v128.load(k + o), a0);
    a1 = madd(v128.load(q + o, 16), v128.load(k + o, 16), a1);
  }
  if (d + 4 <= n) {
    const o = <usize>d << 2;
    a0 = madd(v128.load(q + o), v128.load(k + o), a0);
    d += 4;
  }
  if (d < n) a0 = madd(loadTail(q + (<usize>d << 2), n - d), loadTail(k + (<usize>d << 2), n - d), a0);
  return hsum(f32x4.add(a0, a1));
}

/**
 * scores[j] = scale·(q · K_j) (+ mask[j]) (+ biasRow[j]) for j < n. Four keys at a time share each load of q; their
 * four sums are reduced together by two transposing adds.
 */
function scores(q: usize, keys: usize, headDim: i32, n: i32, scale: f32, mask: usize, biasRow: usize, out: usize): void {
  const rowBytes = <usize>headDim << 2;
  const vs = f32x4.splat(scale);
  const dMain = headDim & ~3;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const k0 = keys + <usize>j * rowBytes, k1 = k0 + rowBytes, k2 = k1 + rowBytes, k3 = k2 + rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let d = 0; d < dMain; d += 4) {
      const o = <usize>d << 2;
      const qv = v128.load(q + o);
      a0 = madd(qv, v128.load(k0 + o), a0);
      a1 = madd(qv, v128.load(k1 + o), a1);
      a2 = madd(qv, v128.load(k2 + o), a2);
      a3 = madd(qv, v128.load(k3 + o), a3);
    }
    if (dMain < headDim) {
      const o = <usize>dMain << 2, t = headDim - dMain;
      const qv = loadTail(q + o, t);
      a0 = madd(qv, loadTail(k0 + o, t), a0);
      a1 = madd(qv, loadTail(k1 + o, t), a1);
      a2 = madd(qv, loadTail(k2 + o, t), a2);
      a3 = madd(qv, loadTail(k3 + o, t), a3);
    }
    // lane l of s = Σ lanes of a_l
    const s01 = f32x4.add(i32x4.shuffle(a0, a1, 0, 1, 4, 5), i32x4.shuffle(a0, a1, 2, 3, 6, 7)); // a0 a0 a1 a1
    const s23 = f32x4.add(i32x4.shuffle(a2, a3, 0, 1, 4, 5), i32x4.shuffle(a2, a3, 2, 3, 6, 7)); // a2 a2 a3 a3
    let s = f32x4.mul(f32x4.add(i32x4.shuffle(s01, s23, 0, 2, 4, 6), i32x4.shuffle(s01, s23, 1, 3, 5, 7)), vs);
    if (mask) s = f32x4.add(s, v128.load(mask + (<usize>j << 2)));
    if (biasRow) s = f32x4.add(s, v128.load(biasRow + (<usize>j << 2)));
    v128.store(out + (<usize>j << 2), s);
  }
  for (; j < n; j++) {
    let s = dot(q, keys + <usize>j * rowBytes, headDim) * scale;
    if (mask) s += load<f32>(mask + (<usize>j << 2));
    if (biasRow) s += load<f32>(biasRow + (<usize>j << 2));
    store<f32>(out + (<usize>j << 2), s);
  }
}

/**
 * out[0..headDim) = Σ_j p[j]·V_j over j < n. The output is built 16 dims at a time in four registers over all keys
 * (V is read once, each row in 64-byte pieces), then 4 dims at a time, then the last 1–3 dims.
 */
function weightedSum(p: usize, values: usize, headDim: i32, n: i32, out: usize): void {
  const rowBytes = <usize>headDim << 2;
  let d = 0;
  for (; d + 16 <= headDim; d += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let vj = values + (<usize>d << 2);
    for (let j = 0; j < n; j++, vj += rowBytes) {
      const w = v128.load32_splat(p + (<usize>j << 2));
      a0 = madd(w, v128.load(vj), a0);
      a1 = madd(w, v128.load(vj, 16), a1);
      a2 = madd(w, v128.load(vj, 32), a2);
      a3 = madd(w, v128.load(vj, 48), a3);
    }
    const o = out + (<usize>d << 2);
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  for (; d + 4 <= headDim; d += 4) {
    let a = f32x4.splat(0);
    let vj = values + (<usize>d << 2);
    for (let j = 0; j < n; j++, vj += rowBytes) a = madd(v128.load32_splat(p + (<usize>j << 2)), v128.load(vj), a);
    v128.store(out + (<usize>d << 2), a);
  }
  for (; d < headDim; d++) {
    let a: f32 = 0;
    let vj = values + (<usize>d << 2);
    for (let j = 0; j < n; j++, vj += rowBytes) a += load<f32>(p + (<usize>j << 2)) * load<f32>(vj);
    store<f32>(out + (<usize>d << 2), a);
  }
}

export function attention(
  q: usize, qStride: i32, kCache: usize, vCache: usize, capacity: i32, out: usize, outStride: i32, rows: i32,
  nHeads: i32, nKvHeads: i32, headDim: i32, kvLen: i32, pos0: i32, scale: f32, causal: i32, mask: usize, bias: usize,
  scratch: usize, start: i32, end: i32,
): void {
  const group = nHeads / nKvHeads;
  const headBytes = <usize>headDim << 2;
  for (let h = start; h < end; h++) {
    const kvHead = <usize>(h / group) * <usize>capacity * headBytes;
    for (let i = 0; i < rows; i++) {
      const n = causal ? min(kvLen, pos0 + i + 1) : kvLen;
      const qRow = q + (<usize>i * <usize>qStride << 2) + <usize>h * headBytes;
      const outRow = out + (<usize>i * <usize>outStride << 2) + <usize>h * headBytes;
      const biasRow = bias ? bias + ((<usize>h * <usize>rows + <usize>i) * <usize>kvLen << 2) : 0;
      scores(qRow, kCache + kvHead, headDim, n, scale, mask, biasRow, scratch);
      softmaxRow(scratch, scratch, n);
      weightedSum(scratch, vCache + kvHead, headDim, n, outRow);
    }
  }
}

export function attention_ref(
  q: usize, qStride: i32, kCache: usize, vCache: usize, capacity: i32, out: usize, outStride: i32, rows: i32,
  nHeads: i32, nKvHeads: i32, headDim: i32, kvLen: i32, pos0: i32, scale: f32, causal: i32, mask: usize, bias: usize,
  scratch: usize, start: i32, end: i32,
): void {
  const group = nHeads / nKvHeads;
  for (let h = start; h < end; h++) {
    const keys = kCache + (<usize>(h / group) * <usize>capacity * <usize>headDim << 2);
    const values = vCache + (<usize>(h / group) * <usize>capacity * <usize>headDim << 2);
    for (let i = 0; i < rows; i++) {
      const n = causal ? min(kvLen, pos0 + i + 1) : kvLen;
      const qRow = q + (<usize>(i * qStride + h * headDim) << 2);
      const outRow = out + (<usize>(i * outStride + h * headDim) << 2);
      for (let j = 0; j < n; j++) {
        let s: f32 = 0;
        for (let d = 0; d < headDim; d++) s += load<f32>(qRow + (<usize>d << 2)) * load<f32>(keys + (<usize>(j * headDim + d) << 2));
        s *= scale;
        if (mask) s += load<f32>(mask + (<usize>j << 2));
        if (bias) s += load<f32>(bias + (<usize>((h * rows + i) * kvLen + j) << 2));
        store<f32>(scratch + (<usize>j << 2), s);
      }
      softmaxRowRef(scratch, scratch, n);
      for (let d = 0; d < headDim; d++) {
        let a: f32 = 0;
        for (let j = 0; j < n; j++) a += load<f32>(scratch + (<usize>j << 2)) * load<f32>(values + (<usize>(j * headDim + d) << 2));
        store<f32>(outRow + (<usize>d << 2), a);
      }
    }
  }
}
