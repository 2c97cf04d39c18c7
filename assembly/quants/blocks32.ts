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
// Weights are interleaved by four rows (common.ts), field by field: a group's block j holds the 4 rows' d, then
// their m, their qh and their qs (a "group block", 4× the block's bytes), so that one 16-byte load gets the 4
// scales (v128.load16x4_u) instead of 4 loads and 3 lane inserts.
//
// Dot of one weight block with one activation block: the 32 weights become i8 lanes (the stored q, without the
// offset 8 or 16, which is taken out afterwards as offset·Σqx with the activation block's `sum`), widened to i16 and
// multiplied with the activation's i16 lanes by i32x4.dot_i16x8_s, in both builds (relaxed SIMD: see common.ts).
// Decode reads a group in place: the 4 rows' dots of one block reduce together into one i32x4 (lanes = outputs),
// then one f32 multiply-add per lane adds the block's term (dw·dx)·Σ. Prefill (4 rows of x or more) first unpacks
// the group into scratch: weights as i16 with the offset taken out, dw (and mw) as f32, then every row of x runs
// against it with loads alone, so the unpacking and widening are paid once per group instead of once per row of x
// (Q8_0 at 128×576×1536: measured below in bench:kernels). Both keep the _ref's order, in block order, so the SIMD
// kernels give the _ref's bits exactly.
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

/**
 * 0x10 in byte j where bit first+j of row l's qh is set (j = 0..15; first = 0 or 16), from the 4 rows' qh in the
 * group block at p (one 16-byte load; a swizzle picks row l's two bytes).
 */
// @ts-ignore: decorator
@inline function fifthBits(p: usize, l: i32, first: i32, type: i32): v128 {
  const qh4 = v128.load(fieldAt(p, 0, 4, qhAt(type), 4));
  const spread = i8x16.swizzle(qh4, i8x16.add(i8x16.splat(<i8>((l << 2) + (first >> 3))), i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)));
  const bit = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return v128.and(i8x16.eq(v128.and(spread, bit), bit), i8x16.splat(0x10));
}

/**
 * Where field `at` (byte offset in ggml's block: qsAt, qhAt, 2 for m) of row l starts in a block of n rows stored
 * field by field: n = 4 in an interleaved group block, n = 1 (and l = 0) in a plain block.
 */
// @ts-ignore: decorator
@inline function fieldAt(p: usize, l: i32, n: i32, at: usize, size: usize): usize {
  return p + at * <usize>n + <usize>l * size;
}

/** Bytes of the qs field: 32 for Q8_0, 16 for the 4-bit types. */
// @ts-ignore: decorator
@inline function qsBytes(type: i32): usize {
  return type == Q8_0 ? 32 : 16;
}

/** qs of row l of the group block at p. */
// @ts-ignore: decorator
@inline function qsOf(p: usize, l: i32, type: i32): usize {
  return fieldAt(p, l, 4, qsAt(type), qsBytes(type));
}
/** The dot operand of elements 0..15 of row l in the group block at p: stored q for the unsigned types, the value's integer for Q8_0 and IQ4_NL. */
// @ts-ignore: decorator
@inline function quantsLo(p: usize, l: i32, type: i32): v128 {
  if (type == Q8_0) return v128.load(qsOf(p, l, type));
  const q = v128.and(v128.load(qsOf(p, l, type)), i8x16.splat(0x0f));
  if (type == IQ4_NL) return i8x16.swizzle(IQ4_LEVELS, q);
  if (type == Q5_0 || type == Q5_1) return v128.or(q, fifthBits(p, l, 0, type));
  return q;
}

/** The same for elements 16..31. */
// @ts-ignore: decorator
@inline function quantsHi(p: usize, l: i32, type: i32): v128 {
  if (type == Q8_0) return v128.load(qsOf(p, l, type), 16);
  const q = i8x16.shr_u(v128.load(qsOf(p, l, type)), 4);
  if (type == IQ4_NL) return i8x16.swizzle(IQ4_LEVELS, q);
  if (type == Q5_0 || type == Q5_1) return v128.or(q, fifthBits(p, l, 16, type));
  return q;
}

/**
 * The i32 lanes of Σ w·x over 32 lanes: w as two i8x16 (elements 0..15, 16..31), x already widened to four i16x8.
 * Types whose stored q is never negative (Q4_1, Q5_0, Q5_1) widen with the unsigned extends, one x86 instruction
 * fewer for each high half than the signed ones.
 */
// @ts-ignore: decorator
@inline function dot32(wlo: v128, whi: v128, x0: v128, x1: v128, x2: v128, x3: v128, type: i32): v128 {
  const unsigned = type != Q8_0 && type != IQ4_NL;
  const w0 = unsigned ? i16x8.extend_low_i8x16_u(wlo) : i16x8.extend_low_i8x16_s(wlo);
  const w1 = unsigned ? i16x8.extend_high_i8x16_u(wlo) : i16x8.extend_high_i8x16_s(wlo);
  const w2 = unsigned ? i16x8.extend_low_i8x16_u(whi) : i16x8.extend_low_i8x16_s(whi);
  const w3 = unsigned ? i16x8.extend_high_i8x16_u(whi) : i16x8.extend_high_i8x16_s(whi);
  return dot4x8(w0, w1, w2, w3, x0, x1, x2, x3);
}

/**
 * The same for 32 plain nibbles (Q4_0, Q4_1: element j in the low nibble of byte j, j + 16 in its high nibble):
 * the 16 bytes widen to 16-bit lanes first, where a mask gives elements 0..15 and a native 16-bit shift gives
 * 16..31 (an 8-bit shift costs x86 a shift and a mask): Q4_0 11.5 → 12.5 GMAC/s at SmolLM2's decode shapes.
 */
// @ts-ignore: decorator
@inline function dotNibbles(qs: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const lo = i16x8.extend_low_i8x16_u(qs), hi = i16x8.extend_high_i8x16_u(qs);
  const mask = i16x8.splat(0x0f);
  return dot4x8(v128.and(lo, mask), v128.and(hi, mask), i16x8.shr_u(lo, 4), i16x8.shr_u(hi, 4), x0, x1, x2, x3);
}

/** Σ over four i16x8 pairs, as i32 lanes. */
// @ts-ignore: decorator
@inline function dot4x8(w0: v128, w1: v128, w2: v128, w3: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(w0, x0), i32x4.dot_i16x8_s(w1, x1));
  return i32x4.add(a, i32x4.add(i32x4.dot_i16x8_s(w2, x2), i32x4.dot_i16x8_s(w3, x3)));
}

/** Row l's block dot in the group block at p (decode). */
// @ts-ignore: decorator
@inline function rowDot(p: usize, l: i32, x0: v128, x1: v128, x2: v128, x3: v128, type: i32): v128 {
  if (type == Q4_0 || type == Q4_1) return dotNibbles(v128.load(qsOf(p, l, type)), x0, x1, x2, x3);
  return dot32(quantsLo(p, l, type), quantsHi(p, l, type), x0, x1, x2, x3, type);
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

/** f32 of the 4 rows' d (at = 0) or m (at = 2) in a group block: 4 f16 side by side. */
// @ts-ignore: decorator
@inline function halves4(p: usize, at: usize): v128 {
  return f16x4ToF32(v128.load16x4_u(p + (at << 2)));
}

// ---- the weight layout: rows interleaved by four ----------------------------------------------------------------

/** Copies one block, field by field, from row sl of a block of sn rows at src to row dl of one of dn rows at dst (fieldAt). */
function copyBlock(src: usize, sl: i32, sn: i32, dst: usize, dl: i32, dn: i32, type: i32): void {
  memory.copy(fieldAt(dst, dl, dn, 0, 2), fieldAt(src, sl, sn, 0, 2), 2); // d
  if (hasMin(type)) memory.copy(fieldAt(dst, dl, dn, 2, 2), fieldAt(src, sl, sn, 2, 2), 2); // m
  if (type == Q5_0 || type == Q5_1) memory.copy(fieldAt(dst, dl, dn, qhAt(type), 4), fieldAt(src, sl, sn, qhAt(type), 4), 4);
  memory.copy(fieldAt(dst, dl, dn, qsAt(type), qsBytes(type)), fieldAt(src, sl, sn, qsAt(type), qsBytes(type)), qsBytes(type));
}

/**
 * Rearranges `groups` groups of 4 plain rows of nb blocks of the ggml type `type` (row after row, as GGUF stores
 * them) in place into group blocks (see the top); scratch holds one group (4 rows).
 */
export function interleaveRows4(w: usize, groups: i32, nb: i32, type: i32, scratch: usize): void {
  const bb = blockBytes(type);
  const rowBytes = <usize>nb * bb;
  for (let g = 0; g < groups; g++) {
    const group = w + <usize>g * (rowBytes << 2);
    memory.copy(scratch, group, rowBytes << 2);
    for (let j = 0; j < nb; j++) {
      for (let l = 0; l < 4; l++) copyBlock(scratch + <usize>l * rowBytes + <usize>j * bb, 0, 1, group + <usize>j * (bb << 2), l, 4, type);
    }
  }
}

/** Copies row o of an interleaved weight (nb blocks of the ggml type `type`) into dst as one plain row of blocks. */
export function plainRowOf4(w: usize, o: i32, nb: i32, type: i32, dst: usize): void {
  const bb = blockBytes(type);
  const group = w + <usize>(o >> 2) * (<usize>nb * bb << 2);
  for (let j = 0; j < nb; j++) copyBlock(group + <usize>j * (bb << 2), o & 3, 4, dst + <usize>j * bb, 0, 1, type);
}

// ---- the matmul ------------------------------------------------------------------------------------------------

/** Where activation row r's arrays start: qs (i16), d (f32) and sum (i32). */
// @ts-ignore: decorator
@inline function actRow(xq: usize, r: i32, inF: i32): usize {
  return xq + <usize>r * q8_0RowBytes(inF);
}

/**
 * Decode: y[r, o..o+3] for one activation row against the 4 rows of a group, read in place: each block's 4 weight
 * blocks are unpacked to i8 lanes and dotted with the same activation block (already i16); the 4 block sums form one
 * vector, scaled by the 4 rows' dw and the block's dx.
 */
// @ts-ignore: decorator
@inline function fourOutputs(xrow: usize, group: usize, nb: i32, type: i32): v128 {
  const dAt = xrow + (<usize>nb << 6);
  const sumAt = dAt + (<usize>nb << 2);
  const bb = blockBytes(type);
  let p = group;
  let acc = f32x4.splat(0);
  for (let j = 0; j < nb; j++) {
    const px = xrow + (<usize>j << 6);
    const x0 = v128.load(px), x1 = v128.load(px, 16), x2 = v128.load(px, 32), x3 = v128.load(px, 48);
    let isum = isum4(
      rowDot(p, 0, x0, x1, x2, x3, type),
      rowDot(p, 1, x0, x1, x2, x3, type),
      rowDot(p, 2, x0, x1, x2, x3, type),
      rowDot(p, 3, x0, x1, x2, x3, type),
    );
    const sumx = load<i32>(sumAt + (<usize>j << 2));
    if (qOffset(type)) isum = i32x4.sub(isum, i32x4.splat(qOffset(type) * sumx));
    const dx = load<f32>(dAt + (<usize>j << 2));
    let term = f32x4.mul(f32x4.mul(halves4(p, 0), f32x4.splat(dx)), f32x4.convert_i32x4_s(isum));
    if (hasMin(type)) term = f32x4.add(term, f32x4.mul(halves4(p, 2), f32x4.splat(dx * <f32>sumx)));
    acc = f32x4.add(acc, term);
    p += bb << 2;
  }
  return acc;
}

/** Bytes of one unpacked block of a group in the prefill scratch: 4 rows × 32 i16 weights, dw f32x4, mw f32x4. */
const UNPACKED_BLOCK: usize = 4 * 64 + 16 + 16; // 288: the host's scratch size (quant.ts) mirrors it

/**
 * Prefill: the group's blocks unpacked once into scratch, for every row of x: weights as i16 with the offset (8,
 * 16) taken out, and dw (and mw) as f32 per row. Then no row of x unpacks anything.
 */
// @ts-ignore: decorator
@inline function unpackGroup(group: usize, nb: i32, scratch: usize, type: i32): void {
  const bb = blockBytes(type);
  const offset = i8x16.splat(<i8>qOffset(type));
  let p = group;
  for (let j = 0; j < nb; j++) {
    const s = scratch + <usize>j * UNPACKED_BLOCK;
    for (let l = 0; l < 4; l++) {
      let lo = quantsLo(p, l, type), hi = quantsHi(p, l, type);
      if (qOffset(type)) {
        lo = i8x16.sub(lo, offset);
        hi = i8x16.sub(hi, offset);
      }
      const at = s + (<usize>l << 6);
      v128.store(at, i16x8.extend_low_i8x16_s(lo));
      v128.store(at, i16x8.extend_high_i8x16_s(lo), 16);
      v128.store(at, i16x8.extend_low_i8x16_s(hi), 32);
      v128.store(at, i16x8.extend_high_i8x16_s(hi), 48);
    }
    v128.store(s, halves4(p, 0), 256);
    if (hasMin(type)) v128.store(s, halves4(p, 2), 272);
    p += bb << 2;
  }
}

/** The i32 lanes of Σ w·x over one unpacked row block at s (32 i16) and an activation block x0..x3 (32 i16). */
// @ts-ignore: decorator
@inline function dotUnpacked(s: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const a = i32x4.add(i32x4.dot_i16x8_s(v128.load(s), x0), i32x4.dot_i16x8_s(v128.load(s, 16), x1));
  return i32x4.add(a, i32x4.add(i32x4.dot_i16x8_s(v128.load(s, 32), x2), i32x4.dot_i16x8_s(v128.load(s, 48), x3)));
}

/** Prefill: y[r, o..o+3] of one activation row against an unpacked group. */
// @ts-ignore: decorator
@inline function fourOutputsUnpacked(xrow: usize, scratch: usize, nb: i32, type: i32): v128 {
  const dAt = xrow + (<usize>nb << 6);
  const sumAt = dAt + (<usize>nb << 2);
  let acc = f32x4.splat(0);
  for (let j = 0; j < nb; j++) {
    const px = xrow + (<usize>j << 6);
    const x0 = v128.load(px), x1 = v128.load(px, 16), x2 = v128.load(px, 32), x3 = v128.load(px, 48);
    const s = scratch + <usize>j * UNPACKED_BLOCK;
    const isum = isum4(dotUnpacked(s, x0, x1, x2, x3), dotUnpacked(s + 64, x0, x1, x2, x3), dotUnpacked(s + 128, x0, x1, x2, x3), dotUnpacked(s + 192, x0, x1, x2, x3));
    const dx = load<f32>(dAt + (<usize>j << 2));
    let term = f32x4.mul(f32x4.mul(v128.load(s, 256), f32x4.splat(dx)), f32x4.convert_i32x4_s(isum));
    if (hasMin(type)) term = f32x4.add(term, f32x4.mul(v128.load(s, 272), f32x4.splat(dx * <f32>load<i32>(sumAt + (<usize>j << 2)))));
    acc = f32x4.add(acc, term);
  }
  return acc;
}

/** Output o of one row: the scalar definition (the _ref's loop), also the decode kernel's outputs outside whole groups. */
// @ts-ignore: decorator
@inline function oneOutput(xrow: usize, w: usize, o: i32, nb: i32, type: i32): f32 {
  const dAt = xrow + (<usize>nb << 6);
  const sumAt = dAt + (<usize>nb << 2);
  const groupBlock = <usize>blockBytes(type) << 2;
  const group = w + <usize>(o >> 2) * (<usize>nb * groupBlock);
  const l = o & 3;
  let acc: f32 = 0;
  for (let j = 0; j < nb; j++) {
    const p = group + <usize>j * groupBlock;
    const px = xrow + (<usize>j << 6);
    let isum: i32 = 0;
    for (let k = 0; k < QK; k++) isum += (weightInt(p, l, 4, k, type) - qOffset(type)) * <i32>load<i16>(px + (<usize>k << 1));
    const dx = load<f32>(dAt + (<usize>j << 2));
    const sumx = load<i32>(sumAt + (<usize>j << 2));
    let term = (f16ToF32(load<u16>(fieldAt(p, l, 4, 0, 2))) * dx) * <f32>isum;
    if (hasMin(type)) term += f16ToF32(load<u16>(fieldAt(p, l, 4, 2, 2))) * (dx * <f32>sumx);
    acc += term;
  }
  return acc;
}

/** y[r, o] (+ b[o]) for the outputs o of group g inside [start, end), from the group's 4 outputs `v`. */
// @ts-ignore: decorator
@inline function storeGroup(y: usize, b: usize, r: i32, outF: i32, g: i32, start: i32, end: i32, v: v128): void {
  const o = g << 2;
  const at = y + ((<usize>r * outF + o) << 2);
  if (o >= start && o + 4 <= end) {
    v128.store(at, b ? f32x4.add(v, v128.load(b + (<usize>o << 2))) : v);
    return;
  }
  // a group cut by the range (or by outF): lane by lane, never touching y or b outside it
  for (let l = 0; l < 4; l++) {
    if (o + l < start || o + l >= end) continue;
    let value = f32x4.extract_lane(v, 0);
    if (l == 1) value = f32x4.extract_lane(v, 1);
    else if (l == 2) value = f32x4.extract_lane(v, 2);
    else if (l == 3) value = f32x4.extract_lane(v, 3);
    store<f32>(at + (<usize>l << 2), b ? value + load<f32>(b + (<usize>(o + l) << 2)) : value);
  }
}

// @ts-ignore: decorator
@inline function linearBlocks32(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32, type: i32): void {
  if (start >= end) return;
  const nb = inF / QK;
  const rowBytes = <usize>nb * blockBytes(type);
  if (rows >= 4) {
    // prefill: group by group, unpacked once, then every row of x against it
    for (let g = start >> 2; g << 2 < end; g++) {
      unpackGroup(w + <usize>g * (rowBytes << 2), nb, scratch, type);
      for (let r = 0; r < rows; r++) storeGroup(y, b, r, outF, g, start, end, fourOutputsUnpacked(actRow(xq, r, inF), scratch, nb, type));
    }
    return;
  }
  // decode (and 2-3 rows): whole groups read in place, the outputs of cut groups one by one
  for (let r = 0; r < rows; r++) {
    const xrow = actRow(xq, r, inF);
    let o = start;
    for (; o < end && (o & 3) != 0; o++) storeOne(y, b, r, outF, o, oneOutput(xrow, w, o, nb, type));
    for (; o + 4 <= end; o += 4) storeGroup(y, b, r, outF, o >> 2, start, end, fourOutputs(xrow, w + <usize>(o >> 2) * (rowBytes << 2), nb, type));
    for (; o < end; o++) storeOne(y, b, r, outF, o, oneOutput(xrow, w, o, nb, type));
  }
}

/** y[r, o] = v (+ b[o]). */
// @ts-ignore: decorator
@inline function storeOne(y: usize, b: usize, r: i32, outF: i32, o: i32, v: f32): void {
  store<f32>(y + ((<usize>r * outF + o) << 2), b ? v + load<f32>(b + (<usize>o << 2)) : v);
}

export function linearQ8_0(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, scratch, start, end, Q8_0);
}
export function linearQ4_0(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, scratch, start, end, Q4_0);
}
export function linearQ4_1(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, scratch, start, end, Q4_1);
}
export function linearQ5_0(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, scratch, start, end, Q5_0);
}
export function linearQ5_1(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, scratch, start, end, Q5_1);
}
export function linearIQ4_NL(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32(xq, w, b, y, rows, inF, outF, scratch, start, end, IQ4_NL);
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
    const dAt = row + (<usize>nb << 6);
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
        const qs = row + (<usize>j << 6) + (<usize>k << 1);
        v128.store(qs, i16x8.narrow_i32x4_s(a, bq));
        v128.store(qs, i16x8.narrow_i32x4_s(c, e), 16);
      }
      store<f32>(dAt + (<usize>j << 2), f16ToF32(f32ToF16(d)));
      store<i32>(sumAt + (<usize>j << 2), i32x4.extract_lane(sums, 0) + i32x4.extract_lane(sums, 1) + i32x4.extract_lane(sums, 2) + i32x4.extract_lane(sums, 3));
    }
  }
}

// ---- scalar references -----------------------------------------------------------------------------------------

/**
 * Element k (0..31) of row l of a block of n rows at p (n = 1: a plain block; n = 4: a group block) as the dot's
 * integer operand (the stored q for unsigned types, see above).
 */
// @ts-ignore: decorator
@inline function weightInt(p: usize, l: i32, n: i32, k: i32, type: i32): i32 {
  const qs = fieldAt(p, l, n, qsAt(type), qsBytes(type));
  if (type == Q8_0) return <i32>load<i8>(qs + k);
  const byte = <i32>load<u8>(qs + (k & 15));
  let q = k < 16 ? byte & 0x0f : byte >> 4;
  if (type == IQ4_NL) return <i32>load<i8>(changetype<usize>(IQ4_LEVELS_TABLE) + q);
  if (type == Q5_0 || type == Q5_1) q |= <i32>((load<u32>(fieldAt(p, l, n, qhAt(type), 4)) >> k) & 1) << 4;
  return q;
}

const IQ4_LEVELS_TABLE: StaticArray<i8> = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

// @ts-ignore: decorator
@inline function linearBlocks32Ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32, type: i32): void {
  const nb = inF / QK;
  for (let r = 0; r < rows; r++) {
    const xrow = actRow(xq, r, inF);
    for (let o = start; o < end; o++) storeOne(y, b, r, outF, o, oneOutput(xrow, w, o, nb, type));
  }
}

export function linearQ8_0_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q8_0);
}
export function linearQ4_0_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q4_0);
}
export function linearQ4_1_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q4_1);
}
export function linearQ5_0_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q5_0);
}
export function linearQ5_1_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
  linearBlocks32Ref(xq, w, b, y, rows, inF, outF, start, end, Q5_1);
}
export function linearIQ4_NL_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, scratch: usize, start: i32, end: i32): void {
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
      const q = <f32>(weightInt(p, 0, 1, k, type) - qOffset(type));
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
