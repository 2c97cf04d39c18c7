// Quantized weights: the contract every quant type's kernels follow, and the helpers they share. This file is
// imported by the kernel files (blocks32.ts for the 32-element types, kquants.ts for the K-quants and IQ4_XS), not
// re-exported by index.ts: nothing here is a wasm export.
//
//   f32 x [rows×inF] ──quantizeActQ8_0 / quantizeActQ8_K──▶ xq (8-bit activation rows, below)
//   xq · W (GGUF blocks, row-major as in the file) ──linear<T>──▶ y [rows×outF] f32 (+ b)
//   W row ──dequantRow<T>_ref──▶ f32 (embedding lookups, load-time fallbacks, tests)
//   f32 row ──quantizeRow<T>_ref──▶ GGUF blocks (quantize on load; byte-identical to ggml's quantize_row_<t>_ref)
//
// Weights. A weight W [outF × inF] is outF rows of inF/QK blocks of the type's ggml block struct (packed,
// little-endian, fp16 scales), the bytes of the file. K-quants and IQ4_XS keep the file's order, rows back to back
// (their kernels decode one row at a time). The 32-element types interleave rows by four (interleaveRows4 in
// blocks32.ts, in place right after the file's bytes are read, as llama.cpp's CPU backend repacks Q4_0 into its
// Q4_0x4/x8 layouts): group g holds block 0 of rows 4g..4g+3, then block 1 of those rows, and so on, so that the 4
// outputs a decode step computes together read one stream instead of four (measured at SmolLM2-135M's decode
// shapes: 4.8 → 9.7 GMAC/s for Q8_0, both at about 5 GB/s of weights before, since four strided streams stalled on
// memory). Inside a group, the 4 blocks j are stored field by field (4 d, 4 m, 4 qh, then 4 qs), so one load gets
// the 4 rows' scales instead of 4 loads and 3 lane inserts (at the same shapes: Q8_0 11.1 → 13.2 GMAC/s, Q4_0
// 10.2 → 11.5, Q5_0 6.1 → 7.9). Bytes are not changed, only moved, and an allocation holds whole groups (outF rounded up to 4, the
// padding rows zero and never read into an output). inF must be a multiple of the block size QK (GGUF guarantees
// it for every stored tensor).
//
// Activations, as llama.cpp does it: before a quantized matmul the f32 rows of x are quantized once per call to
// 8 bits (ggml's vec_dot_type of the weight type): Q8_0 for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL; Q8_K for
// Q2_K … Q6_K and IQ4_XS. Our activation rows are NOT ggml's block structs: the same numbers split into arrays
// with 16-byte aligned SIMD loads and f32 scales (already rounded as ggml rounds them), and the Q8_0 values stored
// widened to i16, ready for i32x4.dot_i16x8_s (widening them once per call instead of once per weight row: 9.7 →
// 13.6 GMAC/s at the decode shapes). Each row starts at xq + r·stride; stride is a multiple of 16 (the host sizes
// scratch with `actRowBytes` in src/runtime/quant.ts, which mirrors q8_0RowBytes / q8_KRowBytes below).
//
//   Q8_0 activation row, nb = inF/32 blocks      Q8_K activation row, nb = inF/256 blocks
//     +0        qs  i16 [nb·32]  (values −127..127) +0         qs    i8  [nb·256]
//     +nb·64    d   f32 [nb]                       +nb·256    d     f32 [nb]
//     +nb·68    sum i32 [nb]  (Σ qs per block)     +nb·260    bsums i16 [nb·16]  (Σ qs per 16, as ggml's)
//     stride = align16(nb·72)                      stride = align16(nb·292)
//
//   Q8_0 (ggml quantize_row_q8_0_ref): amax = max |x| over the block, d = amax/127, id = d ≠ 0 ? 1/d : 0,
//   q = roundf(x·id) (half away from zero), and d is stored rounded to f16 (f32ToF16 below), as ggml stores it;
//   the d array holds that f16 value widened back to f32, which is what ggml's vec_dot multiplies by.
//   Q8_K (ggml quantize_row_q8_K_ref): kquants.ts owns it.
//
// Kernels each type T exports (T = Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS):
//   linear<T>(xq, w, b, y, rows, inF, outF, [scratch,] start, end)      SIMD: y[r, o] for o in [start, end), every r
//   linear<T>_ref(xq, w, b, y, rows, inF, outF, [scratch,] start, end)  scalar twin, same xq and w; defines the
//                                                                        summation order
//   dequantRow<T>_ref(src, dst, n)                             n elements (multiple of QK) of plain blocks → f32,
//                                                              bit-identical to ggml's to_float (dequant-reference.gguf)
// scratch: the 32-element types only, 288·inF/32 bytes per thread (UNPACKED_BLOCK in blocks32.ts: prefill unpacks a
// group there once for every row of x; the _ref takes and ignores it, to share the signature).
// Any start ≤ end in [0, outF] is legal (threads split the output rows; no alignment asked). b = 0: no bias.
// Summation order of the _ref (the SIMD kernels keep it, so the test can demand equal bits):
// per output, acc = 0 and then, block by block in order, acc += (dw·dx)·f32(Σ qw·qx) (+ the type's min term,
// e.g. Q4_1: + mw·(dx·f32(sumx))); finally y = acc (+ b[o]). Integer dots are exact; only f32 rounding remains.
//
// Relaxed SIMD: i32x4.relaxed_dot_i8x16_i7x16_add_s is NOT used. Even with the second operand inside 0..127 (the
// range where the final spec makes every engine agree), Node 20's experimental relaxed SIMD (V8 11.3, the engine the
// relaxed-simd test project runs) returned other numbers for a test vector, so results would depend on the engine.
// Integer dots widen i8 → i16 and use i32x4.dot_i16x8_s in both builds.

/** Elements per block of the 32-element types and of the K-quants. */
export const QK: i32 = 32;
export const QK_K: i32 = 256;

/** Bytes of one Q8_0 activation row of inF elements (see the layout above). */
// @ts-ignore: decorator
@inline export function q8_0RowBytes(inF: i32): usize {
  return (<usize>(inF / QK) * 72 + 15) & ~<usize>15;
}

/** Bytes of one Q8_K activation row of inF elements. */
// @ts-ignore: decorator
@inline export function q8_KRowBytes(inF: i32): usize {
  return (<usize>(inF / QK_K) * 292 + 15) & ~<usize>15;
}

/** f16 bits → f32, exact, case by case (independent of the SIMD conversions in linear.ts and blocks32.ts). */
export function f16ToF32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent == 0) {
    const magnitude = <f32>mantissa * 5.9604644775390625e-8; // mantissa · 2^-24, exact
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return reinterpret<f32>(sign | 0x7f800000 | (mantissa << 13));
  return reinterpret<f32>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/**
 * f32 → f16 bits, round to nearest even, as ggml's GGML_FP32_TO_FP16 (F16C's vcvtps2ph, or its scalar fallback):
 * overflow to ±inf, subnormal halves rounded once, nan kept nan.
 */
export function f32ToF16(f: f32): u32 {
  const bits = reinterpret<u32>(f);
  const sign = (bits >> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00 | ((abs >> 13) & 0x3ff); // nan (quiet)
  if (abs >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 rounds to inf (and inf)
  if (abs < 0x38800000) {
    // below 2^-14: a subnormal half. |f|·2^24 rounded to nearest even is the mantissa (exact in f32 arithmetic:
    // the product is exact, and f32.nearest rounds half to even).
    return sign | <u32>nearest<f32>(reinterpret<f32>(abs) * 16777216.0);
  }
  // normal: drop 13 mantissa bits with round half to even; a carry into the exponent is the right result
  const rebiased = abs - 0x38000000; // exponent − 112
  const roundBit: u32 = 0x1000;
  const rest = rebiased & 0x1fff;
  let h = rebiased >> 13;
  if (rest > roundBit || (rest == roundBit && (h & 1) != 0)) h += 1;
  return sign | h;
}

/** roundf: to nearest, half away from zero (C's roundf, which ggml's quantizers call). */
// @ts-ignore: decorator
@inline export function roundHalfAway(x: f32): f32 {
  const t = trunc<f32>(x);
  return abs<f32>(x - t) >= 0.5 ? t + copysign<f32>(1, x) : t;
}
