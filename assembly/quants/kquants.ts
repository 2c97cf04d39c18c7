// K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) and IQ4_XS: 256-element super-blocks, kept as GGUF stores them, times
// Q8_K activations (the contract, layouts and summation order are in common.ts).
//
//   f32 x ──quantizeActQ8_K──▶ xq: per 256 inputs, i8 q[256], f32 dx, i16 bsums[16] (Σ q per 16)
//   W row, block by block ──decode 32 weights at a time to i8 lanes (chunkWeights)──┐
//   xq ─────────────────────────────────────────────────────────────────────────────┴─▶ Σ scale·w·q in i32 (exact)
//   y[o] += (dw·dx)·Σ − (dminw·dx)·Σ min·bsums   (f32, block after block, the same in the scalar twin)
//
// Every type is decoded to the same shape: 256 small integers w (Q2_K 0..3, Q3_K −4..3, Q4_K 0..15, Q5_K 0..31,
// Q6_K −32..31, IQ4_XS −127..113), one integer scale per group of 16 (or of 32), and for Q2_K/Q4_K/Q5_K one
// integer min per group whose term Σ min·Σq comes from the activation's bsums, so the weights never need their min
// subtracted. A group's 16 products w·q are formed in 16-bit lanes (i16x8.extmul of the i8 lanes, |w·q| ≤
// 127·127) and two added per lane (≤ 32258 < 2^15), then i32x4.dot_i16x8_s multiplies by the scale and pairs the
// lanes into i32. Q4_K and Q5_K share a scale over 32 weights, so their two groups are added in 16 bits first (4
// products per lane ≤ 31·127·4) and take one dot. All integer sums are exact, so a kernel and its `_ref` differ
// only if the f32 steps per block differ, and they do not: the tests demand equal bits.
//
// Block layouts (bytes; ggml-common.h; h = f16):
//   Q2_K  84: scales[16] (lo 4 bits scale, hi 4 bits min, per 16) · qs[64] (2 bits) · h d · h dmin
//   Q3_K 110: hmask[32] (3rd bit) · qs[64] (2 bits) · scales[12] (16 × 6 bits, −32) · h d
//   Q4_K 144: h d · h dmin · scales[12] (8 scales + 8 mins, 6 bits, per 32) · qs[128] (4 bits)
//   Q5_K 176: h d · h dmin · scales[12] · qh[32] (5th bit) · qs[128]
//   Q6_K 210: ql[128] (4 bits) · qh[64] (2 bits) · i8 scales[16] · h d       (w − 32)
//   IQ4_XS 136: h d · u16 scales_h (2 hi bits per 32) · scales_l[4] (4 lo bits per 32) · qs[128] (4-bit index
//               into the IQ4_NL table), scale − 32
// Element i of a 2-bit/3-bit/6-bit block lives in 128-element halves n = i/128, a quarter j = (i/32)%4 of the
// half picks the bit position inside the shared bytes (byte l = i%32 of the half); 4-bit blocks pair the 32-element
// sub-blocks 2p, 2p+1 in the low/high nibbles of the same 32 bytes.

import { f16ToF32, f32ToF16, q8_KRowBytes, QK_K } from "./common";

const Q2_K: i32 = 10;
const Q3_K: i32 = 11;
const Q4_K: i32 = 12;
const Q5_K: i32 = 13;
const Q6_K: i32 = 14;
const IQ4_XS: i32 = 23;

/** IQ4_NL's 16 non-uniform levels (ggml kvalues_iq4nl), which IQ4_XS indexes with its nibbles. */
const IQ4_LEVELS: usize = memory.data<i8>([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);

// @ts-ignore: decorator
@inline function blockBytes(t: i32): usize {
  if (t == Q2_K) return 84;
  if (t == Q3_K) return 110;
  if (t == Q4_K) return 144;
  if (t == Q5_K) return 176;
  if (t == Q6_K) return 210;
  return 136;
}

/** Byte offset of the f16 super-block scale d. */
// @ts-ignore: decorator
@inline function dOffset(t: i32): usize {
  if (t == Q2_K) return 80;
  if (t == Q3_K) return 108;
  if (t == Q6_K) return 208;
  return 0;
}

/** Types whose weights carry a min (w·scale − min); its f16 super-block scale dmin sits at dOffset + 2. */
// @ts-ignore: decorator
@inline function hasMin(t: i32): bool {
  return t == Q2_K || t == Q4_K || t == Q5_K;
}

/** Types with one scale per 32 weights (the others have one per 16). */
// @ts-ignore: decorator
@inline function scalePer32(t: i32): bool {
  return t == Q4_K || t == Q5_K || t == IQ4_XS;
}

// ---- scalar decoding of one element, one scale, one min (the references) ------------------------------------

/** The 6-bit scale (min = false) or min (min = true) of sub-block j (of 32) of a Q4_K/Q5_K block: get_scale_min_k4. */
// @ts-ignore: decorator
@inline function scaleMinK4(s: usize, j: i32, min: bool): i32 {
  const p = s + <usize>j;
  if (j < 4) return (min ? <i32>load<u8>(p, 4) : <i32>load<u8>(p)) & 63;
  if (min) return (<i32>load<u8>(p, 4) >> 4) | ((<i32>load<u8>(p) >> 6) << 4);
  return (<i32>load<u8>(p, 4) & 15) | ((<i32>load<u8>(p - 4) >> 6) << 4);
}

/** Integer weight i (0..255) of a block, as the dot product uses it (see the range per type at the top). */
function quantAt(t: i32, blk: usize, i: i32): i32 {
  const l = <usize>(i & 31);
  if (t == Q2_K || t == Q3_K || t == Q6_K) {
    const n = <usize>(i >> 7);
    const j = (i >> 5) & 3;
    if (t == Q2_K) return (<i32>load<u8>(blk + 16 + (n << 5) + l) >> (2 * j)) & 3;
    if (t == Q3_K) {
      const low = (<i32>load<u8>(blk + 32 + (n << 5) + l) >> (2 * j)) & 3;
      const high = (<i32>load<u8>(blk + l) >> (i >> 5)) & 1;
      return low - (high ? 0 : 4);
    }
    const low = (<i32>load<u8>(blk + (n << 6) + (<usize>(j & 1) << 5) + l) >> (4 * (j >> 1))) & 15;
    const high = (<i32>load<u8>(blk + 128 + (n << 5) + l) >> (2 * j)) & 3;
    return (low | (high << 4)) - 32;
  }
  if (t == IQ4_XS) {
    const byte = <i32>load<u8>(blk + 8 + (<usize>(i >> 5) << 4) + (l & 15));
    return <i32>load<i8>(IQ4_LEVELS + <usize>((byte >> (4 * (<i32>l >> 4))) & 15));
  }
  // Q4_K, Q5_K: sub-block i/32, nibble (i/32)%2 of byte 32·(i/64) + i%32
  const qs = t == Q4_K ? blk + 16 : blk + 48;
  const low = (<i32>load<u8>(qs + (<usize>(i >> 6) << 5) + l) >> (4 * ((i >> 5) & 1))) & 15;
  if (t == Q4_K) return low;
  return low | (((<i32>load<u8>(blk + 16 + l) >> (i >> 5)) & 1) << 4);
}

/** Integer scale of group g (of 16 elements). */
function scaleAt(t: i32, blk: usize, g: i32): i32 {
  if (t == Q2_K) return <i32>load<u8>(blk + <usize>g) & 15;
  if (t == Q3_K) {
    const s = blk + 96;
    const low = g < 8 ? <i32>load<u8>(s + <usize>g) & 15 : <i32>load<u8>(s + <usize>(g - 8)) >> 4;
    const high = (<i32>load<u8>(s + 8 + <usize>(g & 3)) >> (2 * (g >> 2))) & 3;
    return (low | (high << 4)) - 32;
  }
  if (t == Q6_K) return <i32>load<i8>(blk + 192 + <usize>g);
  if (t == IQ4_XS) {
    const ib = g >> 1;
    const low = (<i32>load<u8>(blk + 4 + <usize>(ib >> 1)) >> (4 * (ib & 1))) & 15;
    const high = (<i32>load<u16>(blk + 2) >> (2 * ib)) & 3;
    return (low | (high << 4)) - 32;
  }
  return scaleMinK4(blk + 4, g >> 1, false);
}

/** Integer min of group g (types with hasMin). */
function minAt(t: i32, blk: usize, g: i32): i32 {
  if (t == Q2_K) return <i32>load<u8>(blk + <usize>g) >> 4;
  return scaleMinK4(blk + 4, g >> 1, true);
}

/**
 * n elements of blocks at src → f32 at dst, with ggml's arithmetic: y = (d·scale)·w − (dmin·min), each product
 * rounded to f32 in that order (Q6_K's d·scale·q is the same left-to-right product).
 */
// @ts-ignore: decorator
@inline function dequantRow(t: i32, src: usize, dst: usize, n: i32): void {
  const nb = n / QK_K;
  for (let ib = 0; ib < nb; ib++) {
    const blk = src + <usize>ib * blockBytes(t);
    const d = f16ToF32(load<u16>(blk + dOffset(t)));
    const dmin = hasMin(t) ? f16ToF32(load<u16>(blk + dOffset(t) + 2)) : 0;
    const out = dst + (<usize>ib << 10);
    for (let g = 0; g < 16; g++) {
      const dl = d * <f32>scaleAt(t, blk, g);
      const ml = hasMin(t) ? dmin * <f32>minAt(t, blk, g) : 0;
      for (let i = g << 4; i < (g << 4) + 16; i++) {
        const v = dl * <f32>quantAt(t, blk, i);
        store<f32>(out + (<usize>i << 2), hasMin(t) ? v - ml : v);
      }
    }
  }
}

export function dequantRowQ2_K_ref(src: usize, dst: usize, n: i32): void {
  dequantRow(Q2_K, src, dst, n);
}
export function dequantRowQ3_K_ref(src: usize, dst: usize, n: i32): void {
  dequantRow(Q3_K, src, dst, n);
}
export function dequantRowQ4_K_ref(src: usize, dst: usize, n: i32): void {
  dequantRow(Q4_K, src, dst, n);
}
export function dequantRowQ5_K_ref(src: usize, dst: usize, n: i32): void {
  dequantRow(Q5_K, src, dst, n);
}
export function dequantRowQ6_K_ref(src: usize, dst: usize, n: i32): void {
  dequantRow(Q6_K, src, dst, n);
}
export function dequantRowIQ4_XS_ref(src: usize, dst: usize, n: i32): void {
  dequantRow(IQ4_XS, src, dst, n);
}

// ---- Q8_K activations ------------------------------------------------------------------------------------------

/**
 * x f32 [rows×inF] → Q8_K activation rows [start, end) (layout in common.ts), the numbers of ggml's
 * quantize_row_q8_K_ref: per 256 inputs, `max` is the first input of largest magnitude, iscale = −127/max (f32),
 * q = min(127, round-half-even(iscale·x)), d = 1/iscale, bsums the sums of q per 16; an all-zero block gives
 * d = 0 and q = 0. The scan for `max` is SIMD (largest and smallest value; only a tie between +m and −m needs the
 * scalar search for the first), the rounding too: f32x4.nearest is the same half-to-even as ggml's 1.5·2^23 trick.
 */
export function quantizeActQ8_K(x: usize, xq: usize, inF: i32, start: i32, end: i32): void {
  const nb = inF / QK_K;
  const stride = q8_KRowBytes(inF);
  for (let r = start; r < end; r++) {
    const xRow = x + <usize>r * <usize>inF * 4;
    const qRow = xq + <usize>r * stride;
    for (let ib = 0; ib < nb; ib++) {
      const xb = xRow + (<usize>ib << 10);
      const qs = qRow + (<usize>ib << 8);
      const bsums = qRow + <usize>nb * 260 + (<usize>ib << 5);
      let hi = v128.load(xb), lo = hi;
      for (let k = 16; k < 1024; k += 16) {
        const v = v128.load(xb + <usize>k);
        hi = f32x4.max(hi, v);
        lo = f32x4.min(lo, v);
      }
      hi = f32x4.max(hi, i32x4.shuffle(hi, hi, 2, 3, 0, 1));
      hi = f32x4.max(hi, i32x4.shuffle(hi, hi, 1, 0, 3, 2));
      lo = f32x4.min(lo, i32x4.shuffle(lo, lo, 2, 3, 0, 1));
      lo = f32x4.min(lo, i32x4.shuffle(lo, lo, 1, 0, 3, 2));
      const top = f32x4.extract_lane(hi, 0);
      const bottom = f32x4.extract_lane(lo, 0);
      let max: f32 = top > -bottom ? top : bottom;
      if (top == -bottom) {
        // both signs reach the largest magnitude: ggml keeps the first one
        for (let k = 0; k < QK_K; k++) {
          const v = load<f32>(xb + (<usize>k << 2));
          if (abs<f32>(v) == top) {
            max = v;
            break;
          }
        }
      }
      if (max == 0) {
        store<f32>(qRow + (<usize>nb << 8) + (<usize>ib << 2), 0);
        memory.fill(qs, 0, QK_K);
        memory.fill(bsums, 0, 32);
        continue;
      }
      const iscale: f32 = -127.0 / max;
      const s = f32x4.splat(iscale);
      for (let g = 0; g < 16; g++) {
        const p = xb + (<usize>g << 6);
        const a = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p), s))), i32x4.splat(127));
        const b = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 16), s))), i32x4.splat(127));
        const c = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 32), s))), i32x4.splat(127));
        const e = i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p, 48), s))), i32x4.splat(127));
        const ab = i16x8.narrow_i32x4_s(a, b);
        const ce = i16x8.narrow_i32x4_s(c, e);
        v128.store(qs + (<usize>g << 4), i8x16.narrow_i16x8_s(ab, ce));
        store<i16>(bsums + (<usize>g << 1), <i16>hsumI32(i32x4.dot_i16x8_s(i16x8.add(ab, ce), i16x8.splat(1))));
      }
      store<f32>(qRow + (<usize>nb << 8) + (<usize>ib << 2), 1.0 / iscale);
    }
  }
}

// ---- the matmul ------------------------------------------------------------------------------------------------

/** Σ of the four i32 lanes. */
// @ts-ignore: decorator
@inline function hsumI32(v: v128): i32 {
  v = i32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  v = i32x4.add(v, i32x4.shuffle(v, v, 1, 0, 3, 2));
  return i32x4.extract_lane(v, 0);
}

/**
 * Weights 32c + 16·half .. +15 of a block (c = 0..7) as 16 i8 lanes, in the integer form of `quantAt`: the bits of
 * one 32-element chunk sit in the same 16 bytes at a shift that depends only on c, so each is one or two loads, a
 * shift and a mask.
 */
// @ts-ignore: decorator
@inline function chunkWeights(t: i32, blk: usize, c: i32, half: i32): v128 {
  const h = <usize>(half << 4);
  if (t == Q2_K) return field(v128.load(blk + 16 + (<usize>(c >> 2) << 5) + h), (c & 3) << 1, 0, 3);
  if (t == Q3_K) {
    const low = field(v128.load(blk + 32 + (<usize>(c >> 2) << 5) + h), (c & 3) << 1, 0, 3);
    return i8x16.sub(v128.or(low, field(v128.load(blk + h), c, 2, 4)), i8x16.splat(4));
  }
  if (t == Q4_K || t == Q5_K) {
    const low = field(v128.load(blk + (t == Q4_K ? 16 : 48) + (<usize>(c >> 1) << 5) + h), (c & 1) << 2, 0, 15);
    if (t == Q4_K) return low;
    return v128.or(low, field(v128.load(blk + 16 + h), c, 4, 16));
  }
  if (t == Q6_K) {
    const n = <usize>(c >> 2);
    const j = c & 3;
    const low = field(v128.load(blk + (n << 6) + (<usize>(j & 1) << 5) + h), (j >> 1) << 2, 0, 15);
    return i8x16.sub(v128.or(low, field(v128.load(blk + 128 + (n << 5) + h), j << 1, 4, 0x30)), i8x16.splat(32));
  }
  // IQ4_XS: bytes 16c..16c+15 hold weights 32c..+15 (low nibbles) and 32c+16..+31 (high nibbles)
  return i8x16.swizzle(v128.load(IQ4_LEVELS), field(v128.load(blk + 8 + (<usize>c << 4)), half << 2, 0, 15));
}

/**
 * In every byte of v, the bits starting at bit `from` moved to start at bit `to`, and only the bits of `mask` (at
 * their destination) kept. The shift is a 16-bit one: bits it carries across a byte boundary are outside the mask
 * (the field lies inside its byte before and after), and wasm's 8-bit shifts cost x86 an extra AND each.
 */
// @ts-ignore: decorator
@inline function field(v: v128, from: i32, to: i32, mask: i32): v128 {
  const moved = from >= to ? i16x8.shr_u(v, from - to) : i16x8.shl(v, to - from);
  return v128.and(moved, i8x16.splat(<i8>mask));
}

/**
 * The block's integer scales as i8 lanes: lane g = scale of group g (16 elements) for Q2_K, Q3_K, Q6_K; lane c =
 * scale of sub-block c (32 elements) for Q4_K, Q5_K, IQ4_XS.
 */
// @ts-ignore: decorator
@inline function blockScales(t: i32, blk: usize): v128 {
  if (t == Q2_K) return v128.and(v128.load(blk), i8x16.splat(15));
  if (t == Q6_K) return v128.load(blk + 192);
  if (t == Q3_K) {
    // 16 × (4 low bits: bytes 0..7, low then high nibbles; 2 high bits: bytes 8..11, 2 bits per quarter)
    const a = load<u32>(blk + 96), b = load<u32>(blk + 100), h = load<u32>(blk + 104);
    let v = i32x4.splat(<i32>((a & 0x0f0f0f0f) | ((h & 0x03030303) << 4)));
    v = i32x4.replace_lane(v, 1, <i32>((b & 0x0f0f0f0f) | (((h >> 2) & 0x03030303) << 4)));
    v = i32x4.replace_lane(v, 2, <i32>(((a >> 4) & 0x0f0f0f0f) | (((h >> 4) & 0x03030303) << 4)));
    v = i32x4.replace_lane(v, 3, <i32>(((b >> 4) & 0x0f0f0f0f) | (((h >> 6) & 0x03030303) << 4)));
    return i8x16.sub(v, i8x16.splat(32));
  }
  if (t == IQ4_XS) {
    // low 4 bits: nibbles of scales_l in order; high 2 bits: scales_h bits 2c..2c+1, moved to the top of a
    // 16-bit lane by a per-lane multiply, then down
    const l = i8x16.splat(0);
    const bytes = i32x4.replace_lane(l, 0, load<i32>(blk + 4));
    const low = i8x16.shuffle(v128.and(bytes, i8x16.splat(15)), i8x16.shr_u(bytes, 4), 0, 16, 1, 17, 2, 18, 3, 19, 0, 0, 0, 0, 0, 0, 0, 0);
    const spread = i16x8.mul(i16x8.splat(<i16>load<u16>(blk + 2)), i16x8(16384, 4096, 1024, 256, 64, 16, 4, 1));
    const high = i8x16.narrow_i16x8_u(i16x8.shr_u(spread, 14), l);
    return i8x16.sub(v128.or(low, i8x16.shl(high, 4)), i8x16.splat(32));
  }
  // Q4_K, Q5_K: 8 scales in lanes 0..7 (lanes 8..15: the mins, see blockMins)
  const a = load<u32>(blk + 4), c = load<u32>(blk + 12);
  return i32x4.replace_lane(i32x4.splat(<i32>(a & 0x3f3f3f3f)), 1, <i32>((c & 0x0f0f0f0f) | (((a >> 6) & 0x03030303) << 4)));
}

/** The block's integer mins per group of 16 as u8 lanes (hasMin types). */
// @ts-ignore: decorator
@inline function blockMins(t: i32, blk: usize): v128 {
  if (t == Q2_K) return i8x16.shr_u(v128.load(blk), 4);
  const b = load<u32>(blk + 8), c = load<u32>(blk + 12);
  const mins = i32x4.replace_lane(i32x4.splat(<i32>(b & 0x3f3f3f3f)), 1, <i32>(((c >> 4) & 0x0f0f0f0f) | (((b >> 6) & 0x03030303) << 4)));
  return i8x16.shuffle(mins, mins, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
}

/** Lane i of i8 lanes v, sign-extended, in all eight 16-bit lanes. */
// @ts-ignore: decorator
@inline function splatLane(v: v128, i: i32): v128 {
  return i16x8.extend_low_i8x16_s(i8x16.swizzle(v, i8x16.splat(<i8>i)));
}

/** acc + Σ over one 32-element chunk of scale·w·q: w0/w1 the chunk's halves, s0/s1 their scales (splatted). */
// @ts-ignore: decorator
@inline function chunkDot(t: i32, w0: v128, w1: v128, s0: v128, s1: v128, q: usize, acc: v128): v128 {
  const q0 = v128.load(q), q1 = v128.load(q, 16);
  const p0 = i16x8.add(i16x8.extmul_low_i8x16_s(w0, q0), i16x8.extmul_high_i8x16_s(w0, q0));
  const p1 = i16x8.add(i16x8.extmul_low_i8x16_s(w1, q1), i16x8.extmul_high_i8x16_s(w1, q1));
  if (t == Q4_K || t == Q5_K) return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.add(p0, p1), s0));
  return i32x4.add(acc, i32x4.add(i32x4.dot_i16x8_s(p0, s0), i32x4.dot_i16x8_s(p1, s1)));
}

/** acc + chunk c (a constant at every call) of the block against the activation block at q: one row's step. */
// @ts-ignore: decorator
@inline function chunkStep(t: i32, blk: usize, c: i32, scales: v128, q: usize, acc: v128): v128 {
  const s0 = splatLane(scales, scalePer32(t) ? c : 2 * c);
  const s1 = scalePer32(t) ? s0 : splatLane(scales, 2 * c + 1);
  return chunkDot(t, chunkWeights(t, blk, c, 0), chunkWeights(t, blk, c, 1), s0, s1, q + (<usize>c << 5), acc);
}

/**
 * f16 scale bits → f32, as f16ToF32 but without its branches for the usual case: the magnitude bits moved into
 * place read as an f32 2^112 too small (a subnormal half too), which one exact multiply fixes; inf and nan take
 * the exact path.
 */
// @ts-ignore: decorator
@inline function scaleToF32(h: u32): f32 {
  if ((h & 0x7c00) == 0x7c00) return f16ToF32(h);
  const magnitude = reinterpret<f32>((h & 0x7fff) << 13) * reinterpret<f32>(0x77800000); // × 2^112
  return reinterpret<f32>(reinterpret<u32>(magnitude) | ((h & 0x8000) << 16));
}

/**
 * acc + this block's contribution to one output: (dw·dx)·Σ − (dminw·dx)·Σ min·bsums. `sums` holds the lanes of
 * Σ scale·w·q, m0/m1 the mins of groups 0..7 / 8..15 as i16, xRow the activation row, ib the block.
 */
// @ts-ignore: decorator
@inline function blockStep(t: i32, acc: f32, dw: f32, dmw: f32, sums: v128, m0: v128, m1: v128, xRow: usize, nb: i32, ib: i32): f32 {
  const dx = load<f32>(xRow + (<usize>nb << 8) + (<usize>ib << 2));
  const dot = (dw * dx) * <f32>hsumI32(sums);
  if (!hasMin(t)) return acc + dot;
  const bsums = xRow + <usize>nb * 260 + (<usize>ib << 5);
  const mins = hsumI32(i32x4.add(i32x4.dot_i16x8_s(m0, v128.load(bsums)), i32x4.dot_i16x8_s(m1, v128.load(bsums, 16))));
  return acc + (dot - (dmw * dx) * <f32>mins);
}

/**
 * Output o for `n` activation rows (1, or 4: the prefill tile) from weight row w: each 32-weight chunk is decoded
 * once and used by every row of the tile. Results go to y0 + r·yStride (+ b[o]).
 */
// @ts-ignore: decorator
@inline function rowTimesRows(t: i32, n: i32, w: usize, x0: usize, xStride: usize, nb: i32, y0: usize, yStride: usize, bias: f32): void {
  let f0: f32 = 0, f1: f32 = 0, f2: f32 = 0, f3: f32 = 0;
  const x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
  for (let ib = 0; ib < nb; ib++) {
    const blk = w + <usize>ib * blockBytes(t);
    const scales = blockScales(t, blk);
    let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    const q0 = x0 + (<usize>ib << 8);
    if (n == 1) {
      // decode: the 8 chunks written out, so that every shift count and scale lane is a constant. With scaleToF32,
      // measured at 1×4096×4096 (CPU time): Q4_K 56 → 32 ns per block, Q6_K 86 → 57, against the loop.
      a0 = chunkStep(t, blk, 0, scales, q0, a0);
      a0 = chunkStep(t, blk, 1, scales, q0, a0);
      a0 = chunkStep(t, blk, 2, scales, q0, a0);
      a0 = chunkStep(t, blk, 3, scales, q0, a0);
      a0 = chunkStep(t, blk, 4, scales, q0, a0);
      a0 = chunkStep(t, blk, 5, scales, q0, a0);
      a0 = chunkStep(t, blk, 6, scales, q0, a0);
      a0 = chunkStep(t, blk, 7, scales, q0, a0);
    } else {
      for (let c = 0; c < 8; c++) {
        const w0 = chunkWeights(t, blk, c, 0);
        const w1 = chunkWeights(t, blk, c, 1);
        const s0 = splatLane(scales, scalePer32(t) ? c : 2 * c);
        const s1 = scalePer32(t) ? s0 : splatLane(scales, 2 * c + 1);
        const off = (<usize>ib << 8) + (<usize>c << 5);
        a0 = chunkDot(t, w0, w1, s0, s1, x0 + off, a0);
        a1 = chunkDot(t, w0, w1, s0, s1, x1 + off, a1);
        a2 = chunkDot(t, w0, w1, s0, s1, x2 + off, a2);
        a3 = chunkDot(t, w0, w1, s0, s1, x3 + off, a3);
      }
    }
    const dw = scaleToF32(load<u16>(blk + dOffset(t)));
    let dmw: f32 = 0, m0 = i32x4.splat(0), m1 = m0;
    if (hasMin(t)) {
      dmw = scaleToF32(load<u16>(blk + dOffset(t) + 2));
      const mins = blockMins(t, blk);
      m0 = i16x8.extend_low_i8x16_u(mins);
      m1 = i16x8.extend_high_i8x16_u(mins);
    }
    f0 = blockStep(t, f0, dw, dmw, a0, m0, m1, x0, nb, ib);
    if (n > 1) {
      f1 = blockStep(t, f1, dw, dmw, a1, m0, m1, x1, nb, ib);
      f2 = blockStep(t, f2, dw, dmw, a2, m0, m1, x2, nb, ib);
      f3 = blockStep(t, f3, dw, dmw, a3, m0, m1, x3, nb, ib);
    }
  }
  store<f32>(y0, f0 + bias);
  if (n > 1) {
    store<f32>(y0 + yStride, f1 + bias);
    store<f32>(y0 + 2 * yStride, f2 + bias);
    store<f32>(y0 + 3 * yStride, f3 + bias);
  }
}

/**
 * y[rows×outF] (outputs [start, end)) = xq · Wᵀ (+ b). Weight rows outermost: one row (a few KB) stays in L1
 * while every tile of 4 activation rows passes over it, each chunk decoded once per tile; the rows left over
 * (all of decode's one row) go one at a time.
 * An output without a bias gets acc + 0, which is acc (the sum is never −0 unless every term is, and −0 + 0 = +0
 * is the one change, harmless).
 */
// @ts-ignore: decorator
@inline function linearK(t: i32, xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  const nb = inF / QK_K;
  const xStride = q8_KRowBytes(inF);
  const yStride = <usize>outF << 2;
  const rowBytes = <usize>nb * blockBytes(t);
  const tiled = rows & ~3;
  for (let o = start; o < end; o++) {
    const wRow = w + <usize>o * rowBytes;
    const bias: f32 = b ? load<f32>(b + (<usize>o << 2)) : 0;
    const yCol = y + (<usize>o << 2);
    for (let r = 0; r < tiled; r += 4) rowTimesRows(t, 4, wRow, xq + <usize>r * xStride, xStride, nb, yCol + <usize>r * yStride, yStride, bias);
    for (let r = tiled; r < rows; r++) rowTimesRows(t, 1, wRow, xq + <usize>r * xStride, xStride, nb, yCol + <usize>r * yStride, yStride, bias);
  }
}

export function linearQ2_K(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearK(Q2_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearQ3_K(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearK(Q3_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearQ4_K(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearK(Q4_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearQ5_K(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearK(Q5_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearQ6_K(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearK(Q6_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearIQ4_XS(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearK(IQ4_XS, xq, w, b, y, rows, inF, outF, start, end);
}

// ---- scalar references ------------------------------------------------------------------------------------------

/**
 * The scalar twin: per output, per block, Σ_g scale_g·Σ_{i∈g} w_i·q_i and Σ_g min_g·bsums_g in plain i32, element by
 * element through quantAt/scaleAt/minAt (the decoding the dequantization test checks against ggml), then the same
 * f32 steps as `blockStep`.
 */
// @ts-ignore: decorator
@inline function linearKRef(t: i32, xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  const nb = inF / QK_K;
  const xStride = q8_KRowBytes(inF);
  for (let r = 0; r < rows; r++) {
    const xRow = xq + <usize>r * xStride;
    for (let o = start; o < end; o++) {
      let acc: f32 = 0;
      for (let ib = 0; ib < nb; ib++) {
        const blk = w + (<usize>o * <usize>nb + <usize>ib) * blockBytes(t);
        const q = xRow + (<usize>ib << 8);
        const bsums = xRow + <usize>nb * 260 + (<usize>ib << 5);
        let isum = 0, mins = 0;
        for (let g = 0; g < 16; g++) {
          let gsum = 0;
          for (let i = g << 4; i < (g << 4) + 16; i++) gsum += quantAt(t, blk, i) * <i32>load<i8>(q + <usize>i);
          isum += scaleAt(t, blk, g) * gsum;
          if (hasMin(t)) mins += minAt(t, blk, g) * <i32>load<i16>(bsums + (<usize>g << 1));
        }
        const dx = load<f32>(xRow + (<usize>nb << 8) + (<usize>ib << 2));
        const dot = (f16ToF32(load<u16>(blk + dOffset(t))) * dx) * <f32>isum;
        if (hasMin(t)) acc = acc + (dot - (f16ToF32(load<u16>(blk + dOffset(t) + 2)) * dx) * <f32>mins);
        else acc = acc + dot;
      }
      store<f32>(y + ((<usize>r * outF + o) << 2), acc + (b ? load<f32>(b + (<usize>o << 2)) : 0));
    }
  }
}

export function linearQ2_K_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearKRef(Q2_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearQ3_K_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearKRef(Q3_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearQ4_K_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearKRef(Q4_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearQ5_K_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearKRef(Q5_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearQ6_K_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearKRef(Q6_K, xq, w, b, y, rows, inF, outF, start, end);
}
export function linearIQ4_XS_ref(xq: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearKRef(IQ4_XS, xq, w, b, y, rows, inF, outF, start, end);
}

/** The Q8_K quantization of one row, scalar (the twin of quantizeActQ8_K, same layout and numbers). */
export function quantizeActQ8_K_ref(x: usize, xq: usize, inF: i32, start: i32, end: i32): void {
  const nb = inF / QK_K;
  const stride = q8_KRowBytes(inF);
  for (let r = start; r < end; r++) {
    const xRow = x + <usize>r * <usize>inF * 4;
    const qRow = xq + <usize>r * stride;
    for (let ib = 0; ib < nb; ib++) {
      const xb = xRow + (<usize>ib << 10);
      let amax: f32 = 0, max: f32 = 0;
      for (let k = 0; k < QK_K; k++) {
        const v = load<f32>(xb + (<usize>k << 2));
        if (abs<f32>(v) > amax) {
          amax = abs<f32>(v);
          max = v;
        }
      }
      const iscale: f32 = amax == 0 ? 0 : -127.0 / max;
      for (let g = 0; g < 16; g++) {
        let sum = 0;
        for (let k = g << 4; k < (g << 4) + 16; k++) {
          const q = min<i32>(127, <i32>nearest<f32>(iscale * load<f32>(xb + (<usize>k << 2))));
          store<i8>(qRow + (<usize>ib << 8) + <usize>k, <i8>q);
          sum += q;
        }
        store<i16>(qRow + <usize>nb * 260 + (<usize>ib << 5) + (<usize>g << 1), <i16>sum);
      }
      store<f32>(qRow + (<usize>nb << 8) + (<usize>ib << 2), amax == 0 ? 0 : 1.0 / iscale);
    }
  }
}

// ---- Q4_K quantization (quantize on load) -------------------------------------------------------------------------

// make_qkx2_quants' second and third results (per wasm instance, so threads each have their own).
let fitMin: f32 = 0; // −min of the best fit (the value ggml stores in the_min)
let fitIscale: f32 = 0; // the iscale and min the best fit's levels were rounded with
let fitShift: f32 = 0;

/** clamp(round-half-even(iscale·(v − shift)), 0, nmax): the level rule make_qkx2_quants uses everywhere. */
// @ts-ignore: decorator
@inline function level(v: f32, iscale: f32, shift: f32, nmax: i32): i32 {
  return max<i32>(0, min<i32>(nmax, <i32>nearest<f32>(iscale * (v - shift))));
}

/**
 * ggml's make_qkx2_quants for 32 values at x with weights av + |x| (quantize_row_q4_K_ref's choice), nmax = 15,
 * rmin −1, rdelta 0.1, 20 steps, squared error: a weighted least-squares fit of scale and min over 21 candidate
 * grids, keeping the best. Returns the scale; the min and the rounding of the kept levels go to the globals above.
 * Every f32 operation is in ggml's order (its C has no fused multiply-add in the generic build).
 */
function fitScaleMin(x: usize, av: f32): f32 {
  let lo = load<f32>(x), hi = lo;
  let sumW: f32 = av + abs<f32>(lo);
  let sumX: f32 = sumW * lo;
  for (let i = 1; i < 32; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    const w = av + abs<f32>(v);
    sumW += w;
    sumX += w * v;
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    fitMin = -lo;
    fitIscale = 0;
    fitShift = lo;
    return 0;
  }
  let iscale: f32 = <f32>15 / (hi - lo);
  let scale: f32 = 1 / iscale;
  fitIscale = iscale;
  fitShift = lo;
  let best: f32 = 0;
  for (let i = 0; i < 32; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    let diff = scale * <f32>level(v, iscale, lo, 15) + lo - v;
    diff = diff * diff;
    best += (av + abs<f32>(v)) * diff;
  }
  for (let step = 0; step <= 20; step++) {
    iscale = (<f32>-1 + <f32>0.1 * <f32>step + <f32>15) / (hi - lo);
    let sumL: f32 = 0, sumL2: f32 = 0, sumXL: f32 = 0;
    for (let i = 0; i < 32; i++) {
      const v = load<f32>(x + (<usize>i << 2));
      const l = <f32>level(v, iscale, lo, 15);
      const w = av + abs<f32>(v);
      sumL += w * l;
      sumL2 += w * l * l;
      sumXL += w * l * v;
    }
    const D = sumW * sumL2 - sumL * sumL;
    if (D > 0) {
      let thisScale = (sumW * sumXL - sumX * sumL) / D;
      let thisMin = (sumL2 * sumX - sumL * sumXL) / D;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      let err: f32 = 0;
      for (let i = 0; i < 32; i++) {
        const v = load<f32>(x + (<usize>i << 2));
        let diff = thisScale * <f32>level(v, iscale, lo, 15) + thisMin - v;
        diff = diff * diff;
        err += (av + abs<f32>(v)) * diff;
      }
      if (err < best) {
        best = err;
        scale = thisScale;
        fitIscale = iscale;
        fitShift = lo;
        lo = thisMin;
      }
    }
  }
  fitMin = -lo;
  return scale;
}

/**
 * n f32 (a multiple of 256) → Q4_K blocks, following ggml's quantize_row_q4_K_ref: per 32 values a weighted fit
 * (fitScaleMin), the 8 scales and 8 mins requantized to 6 bits against their maxima (d = max scale/63, dmin = max
 * min/63, stored f16), then each value's level recomputed from the stored scale and min; a sub-block whose stored
 * scale is 0 keeps the fit's levels. Scratch: the 16 f32 scales/mins live in the block's own qs bytes until the
 * levels overwrite them, so nothing is allocated.
 */
export function quantizeRowQ4_K_ref(src: usize, dst: usize, n: i32): void {
  const nb = n / QK_K;
  for (let ib = 0; ib < nb; ib++) {
    const x = src + (<usize>ib << 10);
    const blk = dst + <usize>ib * 144;
    const tmp = blk + 16; // f32 scales[8] then mins[8], in the qs area
    let maxScale: f32 = 0, maxMin: f32 = 0;
    for (let j = 0; j < 8; j++) {
      const xs = x + (<usize>j << 7);
      let sumX2: f32 = 0;
      for (let l = 0; l < 32; l++) {
        const v = load<f32>(xs + (<usize>l << 2));
        sumX2 += v * v;
      }
      const scale = fitScaleMin(xs, sqrt<f32>(sumX2 / 32));
      store<f32>(tmp + (<usize>j << 2), scale);
      store<f32>(tmp + 32 + (<usize>j << 2), fitMin);
      if (scale > maxScale) maxScale = scale;
      if (fitMin > maxMin) maxMin = fitMin;
    }
    const invScale: f32 = maxScale > 0 ? <f32>63 / maxScale : 0;
    const invMin: f32 = maxMin > 0 ? <f32>63 / maxMin : 0;
    memory.fill(blk + 4, 0, 12);
    for (let j = 0; j < 8; j++) {
      const ls = min<u32>(63, <u32>(<i32>nearest<f32>(invScale * load<f32>(tmp + (<usize>j << 2)))) & 255);
      const lm = min<u32>(63, <u32>(<i32>nearest<f32>(invMin * load<f32>(tmp + 32 + (<usize>j << 2)))) & 255);
      const s = blk + 4;
      if (j < 4) {
        store<u8>(s + <usize>j, <u8>ls);
        store<u8>(s + <usize>j + 4, <u8>lm);
      } else {
        store<u8>(s + <usize>j + 4, <u8>((ls & 15) | ((lm & 15) << 4)));
        store<u8>(s + <usize>j - 4, load<u8>(s + <usize>j - 4) | <u8>((ls >> 4) << 6));
        store<u8>(s + <usize>j, load<u8>(s + <usize>j) | <u8>((lm >> 4) << 6));
      }
    }
    store<u16>(blk, <u16>f32ToF16(maxScale / 63));
    store<u16>(blk + 2, <u16>f32ToF16(maxMin / 63));
    const d = f16ToF32(load<u16>(blk));
    const dmin = f16ToF32(load<u16>(blk + 2));
    memory.fill(blk + 16, 0, 128);
    for (let j = 0; j < 8; j++) {
      const xs = x + (<usize>j << 7);
      const dl = d * <f32>scaleMinK4(blk + 4, j, false);
      const ml = dmin * <f32>scaleMinK4(blk + 4, j, true);
      if (dl == 0) {
        // ggml keeps the levels of the fit here: fit again (deterministic) to get them back
        let sumX2: f32 = 0;
        for (let l = 0; l < 32; l++) {
          const v = load<f32>(xs + (<usize>l << 2));
          sumX2 += v * v;
        }
        fitScaleMin(xs, sqrt<f32>(sumX2 / 32));
      }
      const q = blk + 16 + (<usize>(j >> 1) << 5);
      const shift = (j & 1) << 2;
      for (let l = 0; l < 32; l++) {
        const v = load<f32>(xs + (<usize>l << 2));
        const L = dl == 0 ? (fitIscale == 0 ? 0 : level(v, fitIscale, fitShift, 15)) : max<i32>(0, min<i32>(15, <i32>nearest<f32>((v + ml) / dl)));
        store<u8>(q + <usize>l, load<u8>(q + <usize>l) | <u8>(L << shift));
      }
    }
  }
}
