// The 32-element block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL): activation quantization to Q8_0, the integer
// matmul, and the scalar references (dequantize, quantize, dot). The calling convention and the activation layout
// are in common.ts. ggml's block structs, packed little-endian (d, m: f16 scale and minimum; qs: 4-bit pairs with
// element j in the low nibble of byte j and element j+16 in its high nibble; qh: bit j = 5th bit of element j):
//
//   Q8_0    34 B  d · qs i8[32]                 value d·q
//   Q4_0    18 B  d · qs[16]                    value d·(q − 8)
//   Q4_1    20 B  d · m · qs[16]                value d·q + m
//   Q5_0    22 B  d · qh u32 · qs[16]           value d·(q − 16),  q = nibble | bit << 4
//   Q5_1    24 B  d · m · qh u32 · qs[16]       value d·q + m
//   IQ4_NL  18 B  d · qs[16]                    value d·KVALUES[q]  (a fixed non-linear 16-entry table)
//
// Dot of one weight block with one activation block: the 32 weights become i8 lanes (the stored q, without the
// offset 8 or 16, which is taken out afterwards as offset·Σqx with the activation block's `sum`), multiplied with
// the activation's i8 lanes into i32 lanes: widened to i16 and i32x4.dot_i16x8_s, in both builds. The relaxed
// i32x4.relaxed_dot_i8x16_i7x16_add_s on the stored q (0..31, inside the 0..127 range where engines must agree)
// gave other numbers in Node 20's experimental relaxed SIMD (V8 11.3: lanes [-800, -1600, …] where the final
// semantics give [600, 200, …] for a test vector), so its result would depend on the engine. Four such dots (4
// output rows in decode, 4 rows of x in prefill) are reduced together into one i32x4, then one f32 multiply-add
// per lane adds the block's term (dw·dx)·Σ — in block order, as the _ref does, so the SIMD kernels give the _ref's
// bits exactly.
import { f16ToF32, f32ToF16, QK, q8_0RowBytes, roundHalfAway } from "./common";

// ggml type ids: the `type` argument of the generic functions, a constant at every call.
const Q4_0: i32 = 2;
const Q4_1: i32 = 3;
const Q5_0: i32 = 6;
const Q5_1: i32 = 7;
const Q8_0: i32 = 8;
const IQ4_NL: i32 = 20;

/** ggml's kvalues_iq4nl: the 16 levels of IQ4_NL (and IQ4_XS). */
const IQ4_LEVELS: v128 = i8x16(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

// @ts-ignore: decorator
@inline function blockBytes(type: i32): usize {
  if (type == Q8_0) return 34;
  if (type == Q4_1) return 20;
  if (type == Q5_0) return 22;
  if (type == Q5_1) return 24;
  return 18; // Q4_0, IQ4_NL
}

/** Types with a minimum m (value d·q + m). */
// @ts-ignore: decorator
@inline function hasMin(type: i32): bool {
  return type == Q4_1 || type == Q5_1;
}

/** What the stored q is offset by (value d·(q − offset)). */
// @ts-ignore: decorator
@inline function qOffset(type: i32): i32 {
  if (type == Q4_0) return 8;
  if (type == Q5_0) return 16;
  return 0;
}

/** Byte offset of qs in a block, and of qh for the 5-bit types. */
// @ts-ignore: decorator
@inline function qsAt(type: i32): usize {
  if (type == Q8_0 || type == Q4_0 || type == IQ4_NL) return 2;
  if (type == Q4_1) return 4;
  if (type == Q5_0) return 6;
  return 8; // Q5_1
}

// @ts-ignore: decorator
@inline function qhAt(type: i32): usize {
  return type == Q5_0 ? 2 : 4;
}

// ---- SIMD unpacking --------------------------------------------------------------------------------------------

/** 0x10 in byte j where bit first+j of qh is set (j = 0..15; first = 0 or 16). */
// @ts-ignore: decorator
@inline function fifthBits(qh: u32, first: i32): v128 {
  const v = i32x4.splat(qh);
  const spread = first == 0 ? i8x16.shuffle(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1) : i8x16.shuffle(v, v, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const bit = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(spread, bit), bit), i8x16.splat(0x10));
}

/** The dot operand of elements 0..15 of the block at p: stored q for the unsigned types, the value's integer for Q8_0 and IQ4_NL. */
// @ts-ignore: decorator
@inline function quantsLo(p: usize, type: i32): v128 {
  if (type == Q8_0) return v128.load(p, 2);
  const q = v128.and(v128.load(p + qsAt(type)), i8x16.splat(0x0f));
  if (type == IQ4_NL) return i8x16.swizzle(IQ4_LEVELS, q);
  if (type == Q5_0 || type == Q5_1) return v128.or(q, fifthBits(load<u32>(p + qhAt(type)), 0));
  return q;
}

/** The same for elements 16..31. */
// @ts-ignore: decorator
@inline function quantsHi(p: usize, type: i32): v128 {
  if (type == Q8_0) return v128.load(p, 18);
  const q = i8x16.shr_u(v128.load(p + qsAt(type)), 4);
  if (type == IQ4_NL) return i8x16.swizzle(IQ4_LEVELS, q);
  if (type == Q5_0 || type == Q5_1) return v128.or(q, fifthBits(load<u32>(p + qhAt(type)), 16));
  return q;
}

/** acc + the i32 lanes of Σ w·x over 16 i8 lanes, widened to i16 (not the relaxed dot: see the top). */
// @ts-ignore: decorator
@inline function dot16(w: v128, x: v128, acc: v128): v128 {
  const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), i16x8.extend_low_i8x16_s(x));
  const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), i16x8.extend_high_i8x16_s(x));
  return i32x4.add(acc, i32x4.add(lo, hi));
}

/** The i32 lanes of Σ w·x over 32 lanes: w as two i8x16 (elements 0..15, 16..31), x already widened to four i16x8. */
// @ts-ignore: decorator
@inline function dot32(wlo: v128, whi: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(wlo), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(wlo), x1));
  return i32x4.add(a, i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(whi), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(whi), x3)));
}

/** [Σa, Σb, Σc, Σd] of four i32x4 (exact integer sums). */
// @ts-ignore: decorator
@inline function isum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/**
 * Four f16 (the low 16 bits of each i32 lane) → f32, exact: the magnitude's bits shifted into place and scaled by
 * 2^112 (the exponent rebias; exact for normals and subnormals alike), inf/nan exponents restored, the sign put back.
 */
// @ts-ignore: decorator
@inline function f16x4ToF32(h: v128): v128 {
  const magnitude = v128.and(h, i32x4.splat(0x7fff));
  let f = f32x4.mul(i32x4.shl(magnitude, 13), f32x4.splat(5.192296858534828e33)); // 2^112
  f = v128.or(f, v128.and(i32x4.gt_s(magnitude, i32x4.splat(0x7bff)), i32x4.splat(0x7f800000)));
  return v128.or(f, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** f32 of the f16 at offset `at` of four blocks. */
// @ts-ignore: decorator
@inline function halves4(p0: usize, p1: usize, p2: usize, p3: usize, at: usize): v128 {
  let h = i32x4.splat(<i32>load<u16>(p0 + at));
  h = i32x4.replace_lane(h, 1, <i32>load<u16>(p1 + at));
  h = i32x4.replace_lane(h, 2, <i32>load<u16>(p2 + at));
  h = i32x4.replace_lane(h, 3, <i32>load<u16>(p3 + at));
  return f16x4ToF32(h);
}

/** Four f32 (or i32) at p0..p3. */
// @ts-ignore: decorator
@inline function gather4(p0: usize, p1: usize, p2: usize, p3: usize): v128 {
  let v = v128.load32_zero(p0);
  v = v128.load32_lane(p1, v, 1);
  v = v128.load32_lane(p2, v, 2);
  return v128.load32_lane(p3, v, 3);
}

// ---- the matmul ------------------------------------------------------------------------------------------------

/** Where activation row r's arrays start: qs, d (f32) and sum (i32). */
// @ts-ignore: decorator
@inline function actRow(xq: usize, r: i32, inF: i32): usize {
  return xq + <usize>r * q8_0RowBytes(inF);
}

/**
 * y[r, o..o+3] for one activation row against 4 weight rows (decode): each block of the 4 rows is dotted with the
 * same activation block; the 4 block sums form one vector, scaled by the 4 rows' dw and the block's dx.
 */
// @ts-ignore: decorator
@inline function fourOutputs(xrow: usize, w: usize, rowBytes: usize, o: i32, nb: i32, type: i32): v128 {
  const dAt = xrow + (<usize>nb << 5);
  const sumAt = dAt + (<usize>nb << 2);
  let p0 = w + <usize>o * rowBytes;
  let p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
  let acc = f32x4.splat(0);
  for (let j = 0; j < nb; j++) {
    const px = xrow + (<usize>j << 5);
    const xlo = v128.load(px), xhi = v128.load(px, 16);
    const x0 = i16x8.extend_low_i8x16_s(xlo), x1 = i16x8.extend_high_i8x16_s(xlo), x2 = i16x8.extend_low_i8x16_s(xhi), x3 = i16x8.extend_high_i8x16_s(xhi);
    let isum = isum4(
      dot32(quantsLo(p0, type), quantsHi(p0, type), x0, x1, x2, x3),
      dot32(quantsLo(p1, type), quantsHi(p1, type), x0, x1, x2, x3),
      dot32(quantsLo(p2, type), quantsHi(p2, type), x0, x1, x2, x3),
      dot32(quantsLo(p3, type), quantsHi(p3, type), x0, x1, x2, x3),
    );
    const sumx = load<i32>(sumAt + (<usize>j << 2));
    if (qOffset(type)) isum = i32x4.sub(isum, i32x4.splat(qOffset(type) * sumx));
    const dx = load<f32>(dAt + (<usize>j << 2));
    let term = f32x4.mul(f32x4.mul(halves4(p0, p1, p2, p3, 0), f32x4.splat(dx)), f32x4.convert_i32x4_s(isum));
    if (hasMin(type)) term = f32x4.add(term, f32x4.mul(halves4(p0, p1, p2, p3, 2), f32x4.splat(dx * <f32>sumx)));
    acc = f32x4.add(acc, term);
    const step = blockBytes(type);
    p0 += step;
    p1 += step;
    p2 += step;
    p3 += step;
  }
  return acc;
}

/**
 * y[r..r+3, o] for 4 activation rows against one weight row (prefill): each weight block is unpacked once and
 * dotted with the 4 rows' blocks; lanes are rows.
 */
// @ts-ignore: decorator
@inline function fourRows(x0: usize, rowStride: usize, w: usize, rowBytes: usize, o: i32, nb: i32, type: i32): v128 {
  const x1 = x0 + rowStride, x2 = x1 + rowStride, x3 = x2 + rowStride;
  const dOff = <usize>nb << 5;
  const sumOff = dOff + (<usize>nb << 2);
  let p = w + <usize>o * rowBytes;
  let acc = f32x4.splat(0);
  for (let j = 0; j < nb; j++) {
    const wlo = quantsLo(p, type), whi = quantsHi(p, type);
    const q = <usize>j << 5;
    const zero = i32x4.splat(0);
    let isum = isum4(
      dot16(whi, v128.load(x0 + q, 16), dot16(wlo, v128.load(x0 + q), zero)),
      dot16(whi, v128.load(x1 + q, 16), dot16(wlo, v128.load(x1 + q), zero)),
      dot16(whi, v128.load(x2 + q, 16), dot16(wlo, v128.load(x2 + q), zero)),
      dot16(whi, v128.load(x3 + q, 16), dot16(wlo, v128.load(x3 + q), zero)),
    );
    const s = <usize>j << 2;
    const sumx = gather4(x0 + sumOff + s, x1 + sumOff + s, x2 + sumOff + s, x3 + sumOff + s);
    if (qOffset(type)) isum = i32x4.sub(isum, i32x4.mul(sumx, i32x4.splat(qOffset(type))));
    const dx = gather4(x0 + dOff + s, x1 + dOff + s, x2 + dOff + s, x3 + dOff + s);
    let term = f32x4.mul(f32x4.mul(f32x4.splat(f16ToF32(load<u16>(p))), dx), f32x4.convert_i32x4_s(isum));
    if (hasMin(type)) term = f32x4.add(term, f32x4.mul(f32x4.splat(f16ToF32(load<u16>(p, 2))), f32x4.mul(dx, f32x4.convert_i32x4_s(sumx))));
    acc = f32x4.add(acc, term);
    p += blockBytes(type);
  }
  return acc;
}

/** acc + the term of one activation block (row at xr, block j) against 4 weight blocks unpacked in w*: lanes = outputs. */
// @ts-ignore: decorator
@inline function tileRowStep(acc: v128, xr: usize, j: i32, nb: i32, wl0: v128, wh0: v128, wl1: v128, wh1: v128, wl2: v128, wh2: v128, wl3: v128, wh3: v128, dw: v128, mw: v128, type: i32): v128 {
  const q = xr + (<usize>j << 5);
  const xlo = v128.load(q), xhi = v128.load(q, 16);
  const x0 = i16x8.extend_low_i8x16_s(xlo), x1 = i16x8.extend_high_i8x16_s(xlo), x2 = i16x8.extend_low_i8x16_s(xhi), x3 = i16x8.extend_high_i8x16_s(xhi);
  let isum = isum4(dot32(wl0, wh0, x0, x1, x2, x3), dot32(wl1, wh1, x0, x1, x2, x3), dot32(wl2, wh2, x0, x1, x2, x3), dot32(wl3, wh3, x0, x1, x2, x3));
  const dAt = xr + (<usize>nb << 5) + (<usize>j << 2);
  const sumx = load<i32>(dAt + (<usize>nb << 2));
  if (qOffset(type)) isum = i32x4.sub(isum, i32x4.splat(qOffset(type) * sumx));
  const dx = load<f32>(dAt);
  let term = f32x4.mul(f32x4.mul(dw, f32x4.splat(dx)), f32x4.convert_i32x4_s(isum));
  if (hasMin(type)) term = f32x4.add(term, f32x4.mul(mw, f32x4.splat(dx * <f32>sumx)));
  return f32x4.add(acc, term);
}

/** One output of one row: the scalar definition (the _ref's loop), also the kernels' leftovers. */
// @ts-ignore: decorator
@inline function oneOutput(xrow: usize, wrow: usize, nb: i32, type: i32): f32 {
  const dAt = xrow + (<usize>nb << 5);
  const sumAt = dAt + (<usize>nb << 2);
  let acc: f32 = 0;
  for (let j = 0; j < nb; j++) {
    const p = wrow + <usize>j * blockBytes(type);
    const px = xrow + (<usize>j << 5);
    let isum: i32 = 0;
    for (let k = 0; k < QK; k++) isum += (weightInt(p, k, type) - qOffset(type)) * <i32>load<i8>(px + k);
    const dx = load<f32>(dAt + (<usize>j << 2));
    const sumx = load<i32>(sumAt + (<usize>j << 2));
    let term = (f16ToF32(load<u16>(p)) * dx) * <f32>isum;
    if (hasMin(type)) term += f16ToF32(load<u16>(p, 2)) * (dx * <f32>sumx);
    acc += term;
  }
  return acc;
}

/** y (+ b) for outputs o..o+3 of row r, where the 4 outputs are `v`. */
// @ts-ignore: decorator
@inline function storeFour(y: usize, b: usize, r: i32, outF: i32, o: i32, v: v128): void {
  let out = v;
  if (b) out = f32x4.add(out, v128.load(b + (<usize>o << 2)));
  v128.store(y + ((<usize>r * outF + o) << 2), out);
}

// @ts-ignore: decorator
@inline function linearBlocks32(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32, type: i32): void {
  const nb = inF / QK;
  const rowBytes = <usize>nb * blockBytes(type);
  const stride = q8_0RowBytes(inF);
  let r = 0;
  // prefill: tiles of 4 rows of x × 4 outputs, each weight block unpacked once for 4 rows and each activation block
  // loaded once for 4 outputs; then the outputs left over, 4 rows of x per pass over a weight row
  for (; r + 4 <= rows; r += 4) {
    const x0 = actRow(xq, r, inF);
    const x1 = x0 + stride, x2 = x1 + stride, x3 = x2 + stride;
    let o = start;
    for (; o + 4 <= end; o += 4) {
      let p0 = w + <usize>o * rowBytes;
      let p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let j = 0; j < nb; j++) {
        const wl0 = quantsLo(p0, type), wh0 = quantsHi(p0, type);
        const wl1 = quantsLo(p1, type), wh1 = quantsHi(p1, type);
        const wl2 = quantsLo(p2, type), wh2 = quantsHi(p2, type);
        const wl3 = quantsLo(p3, type), wh3 = quantsHi(p3, type);
        const dw = halves4(p0, p1, p2, p3, 0);
        const mw = hasMin(type) ? halves4(p0, p1, p2, p3, 2) : dw;
        a0 = tileRowStep(a0, x0, j, nb, wl0, wh0, wl1, wh1, wl2, wh2, wl3, wh3, dw, mw, type);
        a1 = tileRowStep(a1, x1, j, nb, wl0, wh0, wl1, wh1, wl2, wh2, wl3, wh3, dw, mw, type);
        a2 = tileRowStep(a2, x2, j, nb, wl0, wh0, wl1, wh1, wl2, wh2, wl3, wh3, dw, mw, type);
        a3 = tileRowStep(a3, x3, j, nb, wl0, wh0, wl1, wh1, wl2, wh2, wl3, wh3, dw, mw, type);
        const step = blockBytes(type);
        p0 += step;
        p1 += step;
        p2 += step;
        p3 += step;
      }
      storeFour(y, b, r, outF, o, a0);
      storeFour(y, b, r + 1, outF, o, a1);
      storeFour(y, b, r + 2, outF, o, a2);
      storeFour(y, b, r + 3, outF, o, a3);
    }
    for (; o < end; o++) {
      let v = fourRows(x0, stride, w, rowBytes, o, nb, type);
      if (b) v = f32x4.add(v, f32x4.splat(load<f32>(b + (<usize>o << 2))));
      const at = y + ((<usize>r * outF + o) << 2);
      const rowStep = <usize>outF << 2;
      store<f32>(at, f32x4.extract_lane(v, 0));
      store<f32>(at + rowStep, f32x4.extract_lane(v, 1));
      store<f32>(at + 2 * rowStep, f32x4.extract_lane(v, 2));
      store<f32>(at + 3 * rowStep, f32x4.extract_lane(v, 3));
    }
  }
  // decode and the last rows: 4 outputs per pass over the row of x
  for (; r < rows; r++) {
    const xrow = actRow(xq, r, inF);
    let o = start;
    for (; o + 4 <= end; o += 4) storeFour(y, b, r, outF, o, fourOutputs(xrow, w, rowBytes, o, nb, type));
    for (; o < end; o++) {
      let v = oneOutput(xrow, w + <usize>o * rowBytes, nb, type);
      if (b) v += load<f32>(b + (<usize>o << 2));
      store<f32>(y + ((<usize>r * outF + o) << 2), v);
    }
  }
}

export function linearQ8_0(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, start, end, Q8_0);
}
export function linearQ4_0(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, start, end, Q4_0);
}
export function linearQ4_1(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, start, end, Q4_1);
}
export function linearQ5_0(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, start, end, Q5_0);
}
export function linearQ5_1(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, start, end, Q5_1);
}
export function linearIQ4_NL(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, start, end, IQ4_NL);
}

// ---- activation quantization -----------------------------------------------------------------------------------

/** roundf of 4 lanes (half away from zero), as i32. */
// @ts-ignore: decorator
@inline function roundHalfAway4(v: v128): v128 {
  const t = f32x4.trunc(v);
  const away = f32x4.ge(f32x4.abs(f32x4.sub(v, t)), f32x4.splat(0.5));
  const step = v128.or(v128.and(v, i32x4.splat(0x80000000)), f32x4.splat(1)); // ±1 with v's sign
  return i32x4.trunc_sat_f32x4_s(f32x4.add(t, v128.and(away, step)));
}

/**
 * Rows [start, end) of x f32 [rows×inF] → Q8_0 activation rows (common.ts): per block of 32, ggml's
 * quantize_row_q8_0_ref numbers (d = amax/127, q = roundf(x/d)), d rounded to f16, and Σq.
 */
export function quantizeActQ8_0(x: usize, xq: usize, inF: i32, start: i32, end: i32): void {
  const nb = inF / QK;
  for (let r = start; r < end; r++) {
    const src = x + (<usize>r * inF << 2);
    const row = actRow(xq, r, inF);
    const dAt = row + (<usize>nb << 5);
    const sumAt = dAt + (<usize>nb << 2);
    for (let j = 0; j < nb; j++) {
      const p = src + (<usize>j << 7);
      let m = f32x4.abs(v128.load(p));
      for (let k = 1; k < 8; k++) m = f32x4.max(m, f32x4.abs(v128.load(p + (<usize>k << 4))));
      const amax = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
      const d: f32 = amax / 127;
      const id = f32x4.splat(d != 0 ? <f32>1 / d : 0);
      let sums = i32x4.splat(0);
      for (let k = 0; k < 32; k += 16) {
        const a = roundHalfAway4(f32x4.mul(v128.load(p + (<usize>k << 2)), id));
        const bq = roundHalfAway4(f32x4.mul(v128.load(p + (<usize>k << 2), 16), id));
        const c = roundHalfAway4(f32x4.mul(v128.load(p + (<usize>k << 2), 32), id));
        const e = roundHalfAway4(f32x4.mul(v128.load(p + (<usize>k << 2), 48), id));
        sums = i32x4.add(sums, i32x4.add(i32x4.add(a, bq), i32x4.add(c, e)));
        v128.store(row + (<usize>j << 5) + k, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, bq), i16x8.narrow_i32x4_s(c, e)));
      }
      store<f32>(dAt + (<usize>j << 2), f16ToF32(f32ToF16(d)));
      store<i32>(sumAt + (<usize>j << 2), i32x4.extract_lane(sums, 0) + i32x4.extract_lane(sums, 1) + i32x4.extract_lane(sums, 2) + i32x4.extract_lane(sums, 3));
    }
  }
}

// ---- scalar references -----------------------------------------------------------------------------------------

/** Element k (0..31) of the block at p as the dot's integer operand (the stored q for unsigned types, see above). */
// @ts-ignore: decorator
@inline function weightInt(p: usize, k: i32, type: i32): i32 {
  if (type == Q8_0) return <i32>load<i8>(p + 2 + k);
  const byte = <i32>load<u8>(p + qsAt(type) + (k & 15));
  let q = k < 16 ? byte & 0x0f : byte >> 4;
  if (type == IQ4_NL) return <i32>load<i8>(changetype<usize>(IQ4_LEVELS_TABLE) + q);
  if (type == Q5_0 || type == Q5_1) q |= <i32>((load<u32>(p + qhAt(type)) >> k) & 1) << 4;
  return q;
}

const IQ4_LEVELS_TABLE: StaticArray<i8> = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

// @ts-ignore: decorator
@inline function linearBlocks32Ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32, type: i32): void {
  const nb = inF / QK;
  const rowBytes = <usize>nb * blockBytes(type);
  for (let r = 0; r < rows; r++) {
    const xrow = actRow(xq, r, inF);
    for (let o = start; o < end; o++) {
      let acc = oneOutput(xrow, w + <usize>o * rowBytes, nb, type);
      if (b) acc += load<f32>(b + (<usize>o << 2));
      store<f32>(y + ((<usize>r * outF + o) << 2), acc);
    }
  }
}

export function linearQ8_0_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q8_0);
}
export function linearQ4_0_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q4_0);
}
export function linearQ4_1_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q4_1);
}
export function linearQ5_0_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q5_0);
}
export function linearQ5_1_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q5_1);
}
export function linearIQ4_NL_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, IQ4_NL);
}

/** ggml's dequantize_row_<type>: value = d·(q − offset) (+ m), or d·level for IQ4_NL. */
// @ts-ignore: decorator
@inline function dequantBlocks32(src: usize, dst: usize, n: i32, type: i32): void {
  for (let j = 0; j < n / QK; j++) {
    const p = src + <usize>j * blockBytes(type);
    const d = f16ToF32(load<u16>(p));
    const m: f32 = hasMin(type) ? f16ToF32(load<u16>(p, 2)) : 0;
    for (let k = 0; k < QK; k++) {
      const q = <f32>(weightInt(p, k, type) - qOffset(type));
      const v: f32 = type == IQ4_NL ? d * q : hasMin(type) ? q * d + m : q * d;
      store<f32>(dst + ((<usize>j * QK + k) << 2), v);
    }
  }
}

export function dequantRowQ8_0_ref(src: usize, dst: usize, n: i32): void {
  dequantBlocks32(src, dst, n, Q8_0);
}
export function dequantRowQ4_0_ref(src: usize, dst: usize, n: i32): void {
  dequantBlocks32(src, dst, n, Q4_0);
}
export function dequantRowQ4_1_ref(src: usize, dst: usize, n: i32): void {
  dequantBlocks32(src, dst, n, Q4_1);
}
export function dequantRowQ5_0_ref(src: usize, dst: usize, n: i32): void {
  dequantBlocks32(src, dst, n, Q5_0);
}
export function dequantRowQ5_1_ref(src: usize, dst: usize, n: i32): void {
  dequantBlocks32(src, dst, n, Q5_1);
}
export function dequantRowIQ4_NL_ref(src: usize, dst: usize, n: i32): void {
  dequantBlocks32(src, dst, n, IQ4_NL);
}

/** ggml's quantize_row_q8_0_ref: per block d = amax/127 (stored f16), q = roundf(x/d). */
export function quantizeRowQ8_0_ref(src: usize, dst: usize, n: i32): void {
  for (let j = 0; j < n / QK; j++) {
    const x = src + (<usize>j * QK << 2);
    const p = dst + <usize>j * 34;
    let amax: f32 = 0;
    for (let k = 0; k < QK; k++) amax = max(amax, abs(load<f32>(x + (<usize>k << 2))));
    const d: f32 = amax / 127;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    store<u16>(p, <u16>f32ToF16(d));
    for (let k = 0; k < QK; k++) store<i8>(p + 2 + k, <i8>(<i32>roundHalfAway(load<f32>(x + (<usize>k << 2)) * id)));
  }
}

/** ggml's quantize_row_q4_0_ref: d = (the value of largest magnitude) / −8, q = min(15, trunc(x/d + 8.5)). */
export function quantizeRowQ4_0_ref(src: usize, dst: usize, n: i32): void {
  for (let j = 0; j < n / QK; j++) {
    const x = src + (<usize>j * QK << 2);
    const p = dst + <usize>j * 18;
    let amax: f32 = 0, extreme: f32 = 0;
    for (let k = 0; k < QK; k++) {
      const v = load<f32>(x + (<usize>k << 2));
      if (amax < abs(v)) {
        amax = abs(v);
        extreme = v;
      }
    }
    const d: f32 = extreme / -8;
    const id: f32 = d != 0 ? <f32>1 / d : 0;
    store<u16>(p, <u16>f32ToF16(d));
    for (let k = 0; k < 16; k++) {
      const lo = min(15, <i32>(<i8>(<i32>(load<f32>(x + (<usize>k << 2)) * id + 8.5))));
      const hi = min(15, <i32>(<i8>(<i32>(load<f32>(x + (<usize>(k + 16) << 2)) * id + 8.5))));
      store<u8>(p + 2 + k, <u8>(lo | (hi << 4)));
    }
  }
}
