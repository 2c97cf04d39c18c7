// Linear layers: y[rows×outF] = x[rows×inF] · Wᵀ (+ b[outF]), and the embedding lookup that reads the same weights.
//
// The weight is read in the packed layout (documented in src/runtime/layout.ts): blocks of 4 output rows, each
// block a run of groups of 8 input features, each group the 8 weights of row 0, then row 1, 2, 3. One block is one
// contiguous stretch of memory and the blocks follow each other, so a matvec reads the whole matrix as a single
// sequential stream, 4 rows at a time from one pointer. Rows are zero-padded to a whole number of groups and the
// matrix to a whole number of blocks, so the kernels never test for a short group of weights (only x is short).
// A group of one row is 32 bytes of f32 or 16 bytes of f16/bf16: one or two 16-byte loads, widened in registers.
//
// f16 and bf16 weights stay 16-bit in memory and become f32 in registers as they stream. Accumulation is in f32.

import { f16ToF32 } from "./quants/common";

const F32: i32 = 0;
const F16: i32 = 1;
const BF16: i32 = 2;
/**
 * Internal only (no host dtype code): f16 weights that hold no inf or nan, against rows of x with every |x| < 2^16,
 * widened by moving bits alone ("the folded widening", below).
 */
const F16_FOLDED: i32 = 3;

/** Output rows per packed block and input features per group: the packing constants of layout.ts. */
const BLOCK_ROWS: i32 = 4;
const GROUP: i32 = 8;

// ---- SIMD helpers ----------------------------------------------------------------------------------------------

/** acc + a·b. The relaxed build may fuse it into one rounding (relaxed_madd), so results can differ in the last bits. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** [Σa, Σb, Σc, Σd]: the horizontal sums of four vectors, by two rounds of pairwise adds. */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7)); // a0+a2 b0+b2 a1+a3 b1+b3
  const cd = f32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/** The first n (may be ≤ 0 or ≥ 4) f32 at p in the low lanes, zeros above: x past its end must not be read. */
// @ts-ignore: decorator
@inline function loadF32Partial(p: usize, n: i32): v128 {
  if (n >= 4) return v128.load(p);
  let v = f32x4.splat(0);
  if (n > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the first n (≤ 4) lanes of v at p. */
// @ts-ignore: decorator
@inline function storeF32Partial(p: usize, v: v128, n: i32): void {
  if (n >= 4) {
    v128.store(p, v);
    return;
  }
  if (n > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** 16-bit lanes 0..3 of a and b interleaved: 32-bit lane i holds a[i] in its low and b[i] in its high half. */
// @ts-ignore: decorator
@inline function interleaveLow(a: v128, b: v128): v128 {
  return i16x8.shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
}

/** The same for 16-bit lanes 4..7. */
// @ts-ignore: decorator
@inline function interleaveHigh(a: v128, b: v128): v128 {
  return i16x8.shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
}

/*
 * f16 → f32, exact for every pattern and without ever computing on an f32 subnormal (x86 takes a ~100-cycle assist
 * per subnormal operand: weights with 1% subnormal halves ran twice as slowly through a multiply-based conversion).
 * Most of the work is done on all 8 halves at once in 16-bit lanes, building the two halves of each f32 encoding:
 *   - lower 16 bits: the last 3 mantissa bits, at the top (h << 13);
 *   - upper 16 bits: exponent + 112 (the bias change 127 − 15) and the first 7 mantissa bits. A subnormal half
 *     (exponent 0) gets exponent 113 instead, which reads as 2^-14·(1 + m/1024); subtracting 2^-14 afterwards, in
 *     f32, removes the implicit one and leaves m·2^-24, a normal f32 (zero included).
 * An interleave joins lower and upper halves into f32 lanes. Last, an OR puts back the sign (after the subtraction,
 * so that −0 stays −0) and, for exponent 31, all f32 exponent bits: inf, or nan with its payload untouched (no
 * arithmetic ever sees the nan). The 16-bit work is written once per half below; the engine computes it once.
 */

/** Upper 16 bits of the f32 encodings of 8 f16, without sign (subnormals with exponent 113, see above). */
// @ts-ignore: decorator
@inline function f16Upper(h: v128): v128 {
  const magnitude = v128.and(h, i16x8.splat(0x7fff));
  const subnormal = i16x8.lt_s(magnitude, i16x8.splat(0x0400)); // all ones where the exponent is 0
  const rebiased = i16x8.add(i16x8.shr_u(magnitude, 3), i16x8.splat(0x3800)); // exponent + 112
  return i16x8.sub(rebiased, i16x8.shl(subnormal, 7)); // − (−1 << 7): exponent + 1 more where subnormal
}

/** Upper 16 bits of 2^-14 (0x3880) where the half is subnormal or zero, 0 elsewhere: what the f32 subtraction removes. */
// @ts-ignore: decorator
@inline function f16ImplicitOne(h: v128): v128 {
  return v128.and(i16x8.lt_s(v128.and(h, i16x8.splat(0x7fff)), i16x8.splat(0x0400)), i16x8.splat(0x3880));
}

/** Upper 16 bits to OR in last: the sign, and all exponent bits where the half is inf or nan. */
// @ts-ignore: decorator
@inline function f16SignAndSpecial(h: v128): v128 {
  const infOrNan = i16x8.gt_s(v128.and(h, i16x8.splat(0x7fff)), i16x8.splat(0x7bff));
  return v128.or(v128.and(h, i16x8.splat(-0x8000)), v128.and(infOrNan, i16x8.splat(0x7f80)));
}

/** Which 4 of a vector's 8 halves become the 4 f32 lanes: 0..3, 4..7, the even ones or the odd ones. */
const HALVES_LOW: i32 = 0;
const HALVES_HIGH: i32 = 1;
const HALVES_EVEN: i32 = 2;
const HALVES_ODD: i32 = 3;

/** 32-bit lane i = (16-bit lane i of `lo`, the same of `hi`) for the 4 lanes `halves` picks (a constant). */
// @ts-ignore: decorator
@inline function joinHalves(lo: v128, hi: v128, halves: i32): v128 {
  if (halves == HALVES_LOW) return i16x8.shuffle(lo, hi, 0, 8, 1, 9, 2, 10, 3, 11);
  if (halves == HALVES_HIGH) return i16x8.shuffle(lo, hi, 4, 12, 5, 13, 6, 14, 7, 15);
  if (halves == HALVES_EVEN) return i16x8.shuffle(lo, hi, 0, 8, 2, 10, 4, 12, 6, 14);
  return i16x8.shuffle(lo, hi, 1, 9, 3, 11, 5, 13, 7, 15);
}

/** f32 of 4 of the 8 f16 in h (`halves`), exact for every bit pattern. */
// @ts-ignore: decorator
@inline function f16ToF32x4(h: v128, halves: i32): v128 {
  const zero = i16x8.splat(0);
  const f = f32x4.sub(joinHalves(i16x8.shl(h, 13), f16Upper(h), halves), joinHalves(zero, f16ImplicitOne(h), halves));
  return v128.or(f, joinHalves(zero, f16SignAndSpecial(h), halves));
}

/*
 * The folded widening, for the hot loops. Moving an f16's bits into f32 position — sign to bit 31, the 5 exponent
 * bits to the bottom of the f32 exponent, the 10 mantissa bits to the top of the f32 mantissa — and changing
 * nothing else gives an f32 whose value is exactly the f16's times 2^-112, for every finite f16:
 *   - normal (exponent e in 1..30): 2^(e−127)·(1 + m/1024) = 2^(e−15)·(1 + m/1024) · 2^-112;
 *   - subnormal or zero (e = 0): an f32 subnormal, m·2^13·2^-149 = m·2^-24 · 2^-112 (±0 stays ±0).
 * The rebias 2^112 moves to the other factor: x·2^112 is exact (a power of two) unless it overflows, which it does
 * not while |x| < 2^16, and x·2^112 · w·2^-112 is the same real number as x·w, so every product, fused or not,
 * rounds to the same f32 as with the exact conversion and every sum after it is the same: the folded kernels give
 * the bits of the exact ones (test/kernels/linear.test.ts checks that, all 63 490 finite patterns included). The
 * kernels scale x once per group, shared by the 4 to 16 rows of weights that use it, and test |x| < 2^16 per row
 * before choosing this path. inf and nan (e = 31) would come out as finite numbers: weights holding them take the
 * exact conversion instead (the host knows from the load-time count, layout.ts).
 *
 * Five instructions per 8 weights, without a shuffle: in 32-bit lanes (two halves each), an arithmetic shift right
 * by 3 puts the odd half's exponent and mantissa in place and copies its sign into bits 28..31 (the even one is
 * first moved up by a shift left by 16); one AND keeps bit 31 and clears bits 28..30 and the 13 bits below the
 * mantissa. Lanes come out as elements 0, 2, 4, 6 and 1, 3, 5, 7 of the group: x is put in the same order (one
 * shuffle per group, shared by every row), in both f16 paths, so that their sums add the same terms in the same
 * order. The exact conversion takes ~30 instructions per 8 halves. (i32x4.dot_i16x8_s against (2^13, 0) does the
 * sign extension and shift in one instruction, but measured no faster in decode and ~10% slower in prefill.)
 */

/** f32 bits of the even (`halves` = HALVES_EVEN) or odd halves of h, each times 2^-112 (finite halves only). */
// @ts-ignore: decorator
@inline function f16FoldedToF32x4(h: v128, halves: i32): v128 {
  const shifted = halves == HALVES_EVEN ? i32x4.shr_s(i32x4.shl(h, 16), 3) : i32x4.shr_s(h, 3);
  return v128.and(shifted, i32x4.splat(0x8fffe000));
}

/** 2^112 = 2^(127−15): the rebias the folded widening leaves to x. */
const FOLD_SCALE: f32 = 5.192296858534828e33;
/** x·2^112 stays finite for |x| below this. */
const FOLD_LIMIT: f32 = 65536;

/**
 * Weights of elements 0..3 of a group as f32x4. `v` is the 16 bytes at the group's row (all 8 elements for 16-bit
 * types, the first 4 for f32). `dtype` is a constant at every call, so each kernel keeps only its own branch.
 */
// @ts-ignore: decorator
@inline function weightsLo(v: v128, dtype: i32): v128 {
  if (dtype == F32) return v;
  if (dtype == F16) return f16ToF32x4(v, HALVES_EVEN); // f16: elements 0, 2, 4, 6 (see the folded widening)
  if (dtype == F16_FOLDED) return f16FoldedToF32x4(v, HALVES_EVEN);
  return interleaveLow(i16x8.splat(0), v); // a bf16 is the upper half of an f32
}

/** Weights of elements 4..7 of a group as f32x4 (see `weightsLo`; f32 loads them from p + 16; f16: 1, 3, 5, 7). */
// @ts-ignore: decorator
@inline function weightsHi(p: usize, v: v128, dtype: i32): v128 {
  if (dtype == F32) return v128.load(p, 16);
  if (dtype == F16) return f16ToF32x4(v, HALVES_ODD);
  if (dtype == F16_FOLDED) return f16FoldedToF32x4(v, HALVES_ODD);
  return interleaveHigh(i16x8.splat(0), v);
}

/**
 * x[k..k+7] of a group (lo, hi) in the order `weightsLo`/`weightsHi` give the weights: as loaded for f32 and bf16;
 * even elements, then odd ones, for f16, and times 2^112 for the folded widening. `XPair.lo`/`.hi` below.
 */
// @ts-ignore: decorator
@inline function xForLo(lo: v128, hi: v128, dtype: i32): v128 {
  if (dtype == F16) return i32x4.shuffle(lo, hi, 0, 2, 4, 6);
  if (dtype == F16_FOLDED) return f32x4.mul(i32x4.shuffle(lo, hi, 0, 2, 4, 6), f32x4.splat(FOLD_SCALE));
  return lo;
}

// @ts-ignore: decorator
@inline function xForHi(lo: v128, hi: v128, dtype: i32): v128 {
  if (dtype == F16) return i32x4.shuffle(lo, hi, 1, 3, 5, 7);
  if (dtype == F16_FOLDED) return f32x4.mul(i32x4.shuffle(lo, hi, 1, 3, 5, 7), f32x4.splat(FOLD_SCALE));
  return hi;
}

/** True when every |x| of `rows` rows of inF at x is below 2^16 (the folded widening's range; nan is not). */
function inFoldRange(x: usize, rows: i32, inF: i32): bool {
  const n = <usize>rows * <usize>inF;
  const magnitude = i32x4.splat(0x7fffffff);
  let top = f32x4.splat(0);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) top = f32x4.max(top, v128.and(v128.load(x + (i << 2)), magnitude));
  let ok = i32x4.all_true(f32x4.lt(top, f32x4.splat(FOLD_LIMIT)));
  for (; i < n; i++) ok = ok && Mathf.abs(load<f32>(x + (i << 2))) < FOLD_LIMIT;
  return ok;
}

/** Bytes of one row's weights in one group. */
// @ts-ignore: decorator
@inline function groupRowBytes(dtype: i32): usize {
  return dtype == F32 ? 32 : 16;
}

/** Bytes of one packed block of 4 rows. */
// @ts-ignore: decorator
@inline function blockBytes(inF: i32, dtype: i32): usize {
  return <usize>((inF + GROUP - 1) / GROUP) * BLOCK_ROWS * groupRowBytes(dtype);
}

/** x[k..k+3] of a group starting at px with `left` = inF - k values remaining (zeros past the end of x). */
// @ts-ignore: decorator
@inline function xGroupLo(px: usize, left: i32): v128 {
  return left >= GROUP ? v128.load(px) : loadF32Partial(px, left);
}

/** x[k+4..k+7] of the same group. */
// @ts-ignore: decorator
@inline function xGroupHi(px: usize, left: i32): v128 {
  return left >= GROUP ? v128.load(px, 16) : loadF32Partial(px + 16, left - 4);
}

/** acc + one packed row's 8 weights of a group (at p, widened) times the group's x (xlo, xhi), in a fixed order. */
// @ts-ignore: decorator
@inline function rowStep(p: usize, xlo: v128, xhi: v128, acc: v128, dtype: i32): v128 {
  const v = v128.load(p);
  return madd(xhi, weightsHi(p, v, dtype), madd(xlo, weightsLo(v, dtype), acc));
}

// ---- packed kernels --------------------------------------------------------------------------------------------

/**
 * The 4 sums y[o..o+3] of one row of x against one packed block: the odd block of a matvec. It adds in exactly the
 * order `blockQuadTimesRow` and `blockPairTimesRow` do, so an output has the same bits whichever way a [start, end)
 * range groups its block with others.
 */
// @ts-ignore: decorator
@inline function blockTimesRow(x: usize, block: usize, inF: i32, dtype: i32): v128 {
  const rowBytes = groupRowBytes(dtype);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let pw = block;
  for (let k = 0; k < inF; k += GROUP) {
    const px = x + (<usize>k << 2);
    const xLoaded = xGroupLo(px, inF - k), xLoadedHi = xGroupHi(px, inF - k);
    const xlo = xForLo(xLoaded, xLoadedHi, dtype), xhi = xForHi(xLoaded, xLoadedHi, dtype);
    a0 = rowStep(pw, xlo, xhi, a0, dtype);
    a1 = rowStep(pw + rowBytes, xlo, xhi, a1, dtype);
    a2 = rowStep(pw + 2 * rowBytes, xlo, xhi, a2, dtype);
    a3 = rowStep(pw + 3 * rowBytes, xlo, xhi, a3, dtype);
    pw += 4 * rowBytes;
  }
  return hsum4(a0, a1, a2, a3);
}

/**
 * One row of x against four blocks at once (the matvec of decode): outputs oA.., oB.., oC.., oD.. (4 each) from
 * blocks A..D, which lie far apart in the matrix (the four quarters of the range) and so keep four memory streams
 * in flight: one sequential stream leaves memory idle between the hardware prefetcher's requests, which tracks
 * streams page by page. Measured over SmolLM2-135M's and GPT-2's decode shapes with cold weights: ~89% of the read
 * probe with two streams (two blocks), ~94-99% with four; three streams were in between, and two streams over the
 * two halves of K (two blocks, four streams, 16 accumulators) no better than two. 16 accumulators, one per output,
 * more than the 16 registers with x and the weights: the engine spills a few, which costs nothing visible against
 * memory (f32; bf16 from memory gained ~10% too, but a cache-resident bf16 matrix runs ~15% slower than with two
 * streams; f16 is bound by its conversion either way). Each output adds in the same order as in `blockTimesRow`.
 */
// @ts-ignore: decorator
@inline function blockQuadTimesRow(x: usize, pA: usize, pB: usize, pC: usize, pD: usize, inF: i32, dtype: i32, yRow: usize, b: usize, oA: i32, oB: i32, oC: i32, oD: i32, end: i32): void {
  const rowBytes = groupRowBytes(dtype);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let e0 = f32x4.splat(0), e1 = f32x4.splat(0), e2 = f32x4.splat(0), e3 = f32x4.splat(0);
  let f0 = f32x4.splat(0), f1 = f32x4.splat(0), f2 = f32x4.splat(0), f3 = f32x4.splat(0);
  for (let k = 0; k < inF; k += GROUP) {
    const px = x + (<usize>k << 2);
    const xLoaded = xGroupLo(px, inF - k), xLoadedHi = xGroupHi(px, inF - k);
    const xlo = xForLo(xLoaded, xLoadedHi, dtype), xhi = xForHi(xLoaded, xLoadedHi, dtype);
    a0 = rowStep(pA, xlo, xhi, a0, dtype);
    c0 = rowStep(pB, xlo, xhi, c0, dtype);
    e0 = rowStep(pC, xlo, xhi, e0, dtype);
    f0 = rowStep(pD, xlo, xhi, f0, dtype);
    a1 = rowStep(pA + rowBytes, xlo, xhi, a1, dtype);
    c1 = rowStep(pB + rowBytes, xlo, xhi, c1, dtype);
    e1 = rowStep(pC + rowBytes, xlo, xhi, e1, dtype);
    f1 = rowStep(pD + rowBytes, xlo, xhi, f1, dtype);
    a2 = rowStep(pA + 2 * rowBytes, xlo, xhi, a2, dtype);
    c2 = rowStep(pB + 2 * rowBytes, xlo, xhi, c2, dtype);
    e2 = rowStep(pC + 2 * rowBytes, xlo, xhi, e2, dtype);
    f2 = rowStep(pD + 2 * rowBytes, xlo, xhi, f2, dtype);
    a3 = rowStep(pA + 3 * rowBytes, xlo, xhi, a3, dtype);
    c3 = rowStep(pB + 3 * rowBytes, xlo, xhi, c3, dtype);
    e3 = rowStep(pC + 3 * rowBytes, xlo, xhi, e3, dtype);
    f3 = rowStep(pD + 3 * rowBytes, xlo, xhi, f3, dtype);
    pA += 4 * rowBytes;
    pB += 4 * rowBytes;
    pC += 4 * rowBytes;
    pD += 4 * rowBytes;
  }
  storeOutputs(yRow, hsum4(a0, a1, a2, a3), b, oA, end);
  storeOutputs(yRow, hsum4(c0, c1, c2, c3), b, oB, end);
  storeOutputs(yRow, hsum4(e0, e1, e2, e3), b, oC, end);
  storeOutputs(yRow, hsum4(f0, f1, f2, f3), b, oD, end);
}

/**
 * One row of x against two blocks at once: the matvec's leftover pair when the blocks of a range are not a multiple
 * of four (see `blockQuadTimesRow`). 8 accumulators, one per output, each taking a group's two halves in turn.
 */
// @ts-ignore: decorator
@inline function blockPairTimesRow(x: usize, blockA: usize, blockB: usize, inF: i32, dtype: i32, yRow: usize, b: usize, oA: i32, oB: i32, end: i32): void {
  const rowBytes = groupRowBytes(dtype);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let pa = blockA, pc = blockB;
  for (let k = 0; k < inF; k += GROUP) {
    const px = x + (<usize>k << 2);
    const xLoaded = xGroupLo(px, inF - k), xLoadedHi = xGroupHi(px, inF - k);
    const xlo = xForLo(xLoaded, xLoadedHi, dtype), xhi = xForHi(xLoaded, xLoadedHi, dtype);
    a0 = rowStep(pa, xlo, xhi, a0, dtype);
    c0 = rowStep(pc, xlo, xhi, c0, dtype);
    a1 = rowStep(pa + rowBytes, xlo, xhi, a1, dtype);
    c1 = rowStep(pc + rowBytes, xlo, xhi, c1, dtype);
    a2 = rowStep(pa + 2 * rowBytes, xlo, xhi, a2, dtype);
    c2 = rowStep(pc + 2 * rowBytes, xlo, xhi, c2, dtype);
    a3 = rowStep(pa + 3 * rowBytes, xlo, xhi, a3, dtype);
    c3 = rowStep(pc + 3 * rowBytes, xlo, xhi, c3, dtype);
    pa += 4 * rowBytes;
    pc += 4 * rowBytes;
  }
  storeOutputs(yRow, hsum4(a0, a1, a2, a3), b, oA, end);
  storeOutputs(yRow, hsum4(c0, c1, c2, c3), b, oB, end);
}

/**
 * Four rows of x against one packed block (the prefill tile): each weight vector, once loaded and widened, serves
 * four rows. 16 accumulators, one per (row, output); the sums of row r go to yr (4 lanes each).
 */
// @ts-ignore: decorator
@inline function blockTimesFourRows(x0: usize, x1: usize, x2: usize, x3: usize, block: usize, inF: i32, dtype: i32, y0: usize, y1: usize, y2: usize, y3: usize, b: usize, o: i32, end: i32): void {
  const rowBytes = groupRowBytes(dtype);
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a22 = f32x4.splat(0), a23 = f32x4.splat(0);
  let a30 = f32x4.splat(0), a31 = f32x4.splat(0), a32 = f32x4.splat(0), a33 = f32x4.splat(0);
  let pw = block;
  for (let k = 0; k < inF; k += GROUP) {
    const off = <usize>k << 2;
    let x0lo: v128, x0hi: v128, x1lo: v128, x1hi: v128, x2lo: v128, x2hi: v128, x3lo: v128, x3hi: v128;
    if (k + GROUP <= inF) {
      x0lo = v128.load(x0 + off);
      x0hi = v128.load(x0 + off, 16);
      x1lo = v128.load(x1 + off);
      x1hi = v128.load(x1 + off, 16);
      x2lo = v128.load(x2 + off);
      x2hi = v128.load(x2 + off, 16);
      x3lo = v128.load(x3 + off);
      x3hi = v128.load(x3 + off, 16);
    } else {
      x0lo = loadF32Partial(x0 + off, inF - k);
      x0hi = loadF32Partial(x0 + off + 16, inF - k - 4);
      x1lo = loadF32Partial(x1 + off, inF - k);
      x1hi = loadF32Partial(x1 + off + 16, inF - k - 4);
      x2lo = loadF32Partial(x2 + off, inF - k);
      x2hi = loadF32Partial(x2 + off + 16, inF - k - 4);
      x3lo = loadF32Partial(x3 + off, inF - k);
      x3hi = loadF32Partial(x3 + off + 16, inF - k - 4);
    }
    let t = x0lo;
    x0lo = xForLo(t, x0hi, dtype);
    x0hi = xForHi(t, x0hi, dtype);
    t = x1lo;
    x1lo = xForLo(t, x1hi, dtype);
    x1hi = xForHi(t, x1hi, dtype);
    t = x2lo;
    x2lo = xForLo(t, x2hi, dtype);
    x2hi = xForHi(t, x2hi, dtype);
    t = x3lo;
    x3lo = xForLo(t, x3hi, dtype);
    x3hi = xForHi(t, x3hi, dtype);
    let v = v128.load(pw);
    let lo = weightsLo(v, dtype), hi = weightsHi(pw, v, dtype);
    a00 = madd(x0hi, hi, madd(x0lo, lo, a00));
    a10 = madd(x1hi, hi, madd(x1lo, lo, a10));
    a20 = madd(x2hi, hi, madd(x2lo, lo, a20));
    a30 = madd(x3hi, hi, madd(x3lo, lo, a30));
    v = v128.load(pw + 1 * rowBytes);
    lo = weightsLo(v, dtype);
    hi = weightsHi(pw + 1 * rowBytes, v, dtype);
    a01 = madd(x0hi, hi, madd(x0lo, lo, a01));
    a11 = madd(x1hi, hi, madd(x1lo, lo, a11));
    a21 = madd(x2hi, hi, madd(x2lo, lo, a21));
    a31 = madd(x3hi, hi, madd(x3lo, lo, a31));
    v = v128.load(pw + 2 * rowBytes);
    lo = weightsLo(v, dtype);
    hi = weightsHi(pw + 2 * rowBytes, v, dtype);
    a02 = madd(x0hi, hi, madd(x0lo, lo, a02));
    a12 = madd(x1hi, hi, madd(x1lo, lo, a12));
    a22 = madd(x2hi, hi, madd(x2lo, lo, a22));
    a32 = madd(x3hi, hi, madd(x3lo, lo, a32));
    v = v128.load(pw + 3 * rowBytes);
    lo = weightsLo(v, dtype);
    hi = weightsHi(pw + 3 * rowBytes, v, dtype);
    a03 = madd(x0hi, hi, madd(x0lo, lo, a03));
    a13 = madd(x1hi, hi, madd(x1lo, lo, a13));
    a23 = madd(x2hi, hi, madd(x2lo, lo, a23));
    a33 = madd(x3hi, hi, madd(x3lo, lo, a33));
    pw += 4 * rowBytes;
  }
  storeOutputs(y0, hsum4(a00, a01, a02, a03), b, o, end);
  storeOutputs(y1, hsum4(a10, a11, a12, a13), b, o, end);
  storeOutputs(y2, hsum4(a20, a21, a22, a23), b, o, end);
  storeOutputs(y3, hsum4(a30, a31, a32, a33), b, o, end);
}

/** Writes the 4 sums of block o (outputs o..o+3, clipped to end) into the output row yRow, adding the bias if any. */
// @ts-ignore: decorator
@inline function storeOutputs(yRow: usize, sums: v128, b: usize, o: i32, end: i32): void {
  const n = end - o;
  const at = <usize>o << 2;
  if (b) sums = f32x4.add(sums, loadF32Partial(b + at, n));
  storeF32Partial(yRow + at, sums, n);
}

/**
 * The shared body of linearF32/F16/BF16. Rows in tiles of 4, blocks outermost, so one block's weights serve every
 * tile from cache (prefill); the rows left over (all of them in decode) go through the four-stream matvec, taking
 * blocks i, i + q, i + 2q, i + 3q together (q = a quarter of the range's blocks), then the 0..3 blocks left.
 */
// @ts-ignore: decorator
@inline function linearPacked(x: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32, dtype: i32): void {
  const bytesPerBlock = blockBytes(inF, dtype);
  const xRowBytes = <usize>inF << 2;
  const yRowBytes = <usize>outF << 2;
  const tiledRows = rows & ~3;
  for (let o = start; o < end; o += BLOCK_ROWS) {
    const block = w + <usize>(o / BLOCK_ROWS) * bytesPerBlock;
    for (let r = 0; r < tiledRows; r += 4) {
      const x0 = x + <usize>r * xRowBytes;
      const y0 = y + <usize>r * yRowBytes;
      blockTimesFourRows(x0, x0 + xRowBytes, x0 + 2 * xRowBytes, x0 + 3 * xRowBytes, block, inF, dtype, y0, y0 + yRowBytes, y0 + 2 * yRowBytes, y0 + 3 * yRowBytes, b, o, end);
    }
  }
  for (let r = tiledRows; r < rows; r++) {
    const xRow = x + <usize>r * xRowBytes;
    const yRow = y + <usize>r * yRowBytes;
    matvecRow(xRow, w, b, yRow, inF, start, end, dtype);
  }
}

/**
 * One row of x against the blocks of outputs [start, end): the four-stream matvec, taking blocks i, i + q, i + 2q,
 * i + 3q together (q = a quarter of the range's blocks), then the 0..3 blocks left.
 */
// @ts-ignore: decorator
@inline function matvecRow(xRow: usize, w: usize, b: usize, yRow: usize, inF: i32, start: i32, end: i32, dtype: i32): void {
  const bytesPerBlock = blockBytes(inF, dtype);
  const blocks = (end - start + BLOCK_ROWS - 1) / BLOCK_ROWS;
  const quarter = blocks >> 2;
  const first = w + <usize>(start / BLOCK_ROWS) * bytesPerBlock;
  for (let i = 0; i < quarter; i++) {
    const iB = i + quarter, iC = i + 2 * quarter, iD = i + 3 * quarter;
    blockQuadTimesRow(xRow, first + <usize>i * bytesPerBlock, first + <usize>iB * bytesPerBlock, first + <usize>iC * bytesPerBlock, first + <usize>iD * bytesPerBlock, inF, dtype, yRow, b, start + i * BLOCK_ROWS, start + iB * BLOCK_ROWS, start + iC * BLOCK_ROWS, start + iD * BLOCK_ROWS, end);
  }
  // the 0..3 blocks past the quarters: a pair, then a single one
  let i = 4 * quarter;
  if (blocks - i >= 2) {
    blockPairTimesRow(xRow, first + <usize>i * bytesPerBlock, first + <usize>(i + 1) * bytesPerBlock, inF, dtype, yRow, b, start + i * BLOCK_ROWS, start + (i + 1) * BLOCK_ROWS, end);
    i += 2;
  }
  if (i < blocks) storeOutputs(yRow, blockTimesRow(xRow, first + <usize>i * bytesPerBlock, inF, dtype), b, start + i * BLOCK_ROWS, end);
}


export function linearF32(x: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearPacked(x, w, b, y, rows, inF, outF, start, end, F32);
}

export function linearF16(x: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearPacked(x, w, b, y, rows, inF, outF, start, end, F16);
}

/**
 * linearF16 for weights that hold no inf or nan (the host counts them at load): the same bits as linearF16, through
 * the folded widening wherever x allows it. Weights with inf or nan give wrong sums here.
 */
export function linearF16Finite(x: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  // One look at x (rows·inF values, against rows·inF·(end − start) multiply-adds) picks the path for the call. The
  // exact path is a call, not a second inlined copy: with two copies in one function binaryen left `dtype` a
  // variable, and every widening a chain of branches (3× slower).
  if (!inFoldRange(x, rows, inF)) {
    linearF16(x, w, b, y, rows, inF, outF, start, end);
    return;
  }
  linearPacked(x, w, b, y, rows, inF, outF, start, end, F16_FOLDED);
}

export function linearBF16(x: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearPacked(x, w, b, y, rows, inF, outF, start, end, BF16);
}

// ---- scalar references: plain row-major W, one dot product at a time --------------------------------------------

/** Element i of a plain array of `dtype` as f32. */
// @ts-ignore: decorator
@inline function loadElement(p: usize, i: usize, dtype: i32): f32 {
  if (dtype == F32) return load<f32>(p + (i << 2));
  const bits = <u32>load<u16>(p + (i << 1));
  return dtype == F16 ? f16ToF32(bits) : reinterpret<f32>(bits << 16);
}

// @ts-ignore: decorator
@inline function linearPlain(x: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32, dtype: i32): void {
  for (let r = 0; r < rows; r++) {
    const xRow = x + (<usize>r * inF << 2);
    for (let o = start; o < end; o++) {
      const wRow = <usize>o * <usize>inF;
      let sum: f32 = 0;
      for (let k = 0; k < inF; k++) sum += load<f32>(xRow + (<usize>k << 2)) * loadElement(w, wRow + <usize>k, dtype);
      if (b) sum += load<f32>(b + (<usize>o << 2));
      store<f32>(y + ((<usize>r * outF + o) << 2), sum);
    }
  }
}

export function linearF32_ref(x: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearPlain(x, w, b, y, rows, inF, outF, start, end, F32);
}

export function linearF16_ref(x: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearPlain(x, w, b, y, rows, inF, outF, start, end, F16);
}

export function linearBF16_ref(x: usize, w: usize, b: usize, y: usize, rows: i32, inF: i32, outF: i32, start: i32, end: i32): void {
  linearPlain(x, w, b, y, rows, inF, outF, start, end, BF16);
}

// ---- packing and lookups ----------------------------------------------------------------------------------------

/** Byte offset, inside a packed matrix, of element k of row o (the position `packLinear` gives it). */
// @ts-ignore: decorator
@inline function packedOffset(o: i32, k: i32, inF: i32, dtype: i32): usize {
  const elementBytes: usize = dtype == F32 ? 4 : 2;
  return <usize>(o / BLOCK_ROWS) * blockBytes(inF, dtype) + <usize>(k / GROUP) * BLOCK_ROWS * groupRowBytes(dtype) + <usize>(o % BLOCK_ROWS) * groupRowBytes(dtype) + <usize>(k % GROUP) * elementBytes;
}

/**
 * Repacks plain row-major W [outF×inF] at src into the packed layout at dst (same dtype: 0 f32, 1 f16, 2 bf16).
 * dst must hold the padded size (layout.ts `packedLinearBytes`); the padding is written as zeros. Whole groups
 * move 16 or 32 bytes at a time (a load-time pass over every weight), the short last group element by element.
 */
export function packLinear(src: usize, dst: usize, outF: i32, inF: i32, dtype: i32): void {
  const elementBytes: usize = dtype == F32 ? 4 : 2;
  memory.fill(dst, 0, <usize>((outF + BLOCK_ROWS - 1) / BLOCK_ROWS) * blockBytes(inF, dtype));
  const fullGroupsEnd = inF - inF % GROUP;
  for (let o = 0; o < outF; o++) {
    const row = src + <usize>o * <usize>inF * elementBytes;
    for (let k = 0; k < fullGroupsEnd; k += GROUP) {
      const from = row + <usize>k * elementBytes;
      const to = dst + packedOffset(o, k, inF, dtype);
      v128.store(to, v128.load(from));
      if (dtype == F32) v128.store(to, v128.load(from, 16), 16);
    }
    for (let k = fullGroupsEnd; k < inF; k++) {
      const from = row + <usize>k * elementBytes;
      const to = dst + packedOffset(o, k, inF, dtype);
      if (dtype == F32) store<u32>(to, load<u32>(from));
      else store<u16>(to, load<u16>(from));
    }
  }
}

/**
 * The same packed bytes as `packLinear` of W [outF×inF], read from its transpose: src is row-major [inF×outF]
 * (GPT-2's Conv1D stores weights so), element (o, k) at src[k·outF + o]. A whole block (4 output rows) of a whole
 * group (8 inputs) is 8 source rows of 4 elements, one 16-byte (f32) or 8-byte (f16/bf16) load each, turned
 * around in registers into the block's 4 group rows; groups go in the outer loop so that the source is read as 8
 * sequential streams. The short last block and group, if any, move element by element.
 */
export function packLinearTransposed(src: usize, dst: usize, outF: i32, inF: i32, dtype: i32): void {
  const elementBytes: usize = dtype == F32 ? 4 : 2;
  memory.fill(dst, 0, <usize>((outF + BLOCK_ROWS - 1) / BLOCK_ROWS) * blockBytes(inF, dtype));
  const fullBlocksEnd = outF - outF % BLOCK_ROWS;
  const fullGroupsEnd = inF - inF % GROUP;
  const srcRowBytes = <usize>outF * elementBytes;
  for (let k = 0; k < fullGroupsEnd; k += GROUP) {
    const rows = src + <usize>k * srcRowBytes; // source row k: output features 0..outF-1 of input k
    for (let o = 0; o < fullBlocksEnd; o += BLOCK_ROWS) {
      const from = rows + <usize>o * elementBytes;
      const to = dst + packedOffset(o, k, inF, dtype);
      if (dtype == F32) {
        // 8 vectors [W(o..o+3, k+j)], j = 0..7: two 4×4 transposes give row o+r's k..k+3 and k+4..k+7.
        transposeStore4x4(to, v128.load(from), v128.load(from + srcRowBytes), v128.load(from + 2 * srcRowBytes), v128.load(from + 3 * srcRowBytes), 32);
        transposeStore4x4(to + 16, v128.load(from + 4 * srcRowBytes), v128.load(from + 5 * srcRowBytes), v128.load(from + 6 * srcRowBytes), v128.load(from + 7 * srcRowBytes), 32);
      } else {
        // Inputs j, j+1 in one vector, interleaved so that 32-bit lane r holds (W(o+r, k+j), W(o+r, k+j+1)); a
        // 4×4 transpose of those 32-bit pairs then gives each row's 8 inputs in order.
        transposeStore4x4(to, pairRows(from, srcRowBytes), pairRows(from + 2 * srcRowBytes, srcRowBytes), pairRows(from + 4 * srcRowBytes, srcRowBytes), pairRows(from + 6 * srcRowBytes, srcRowBytes), 16);
      }
    }
  }
  // The short last block (outputs fullBlocksEnd..outF-1) of every group, then the short last group of every row.
  for (let k = 0; k < inF; k++) {
    const oStart = k < fullGroupsEnd ? fullBlocksEnd : 0;
    for (let o = oStart; o < outF; o++) {
      const from = src + <usize>k * srcRowBytes + <usize>o * elementBytes;
      const to = dst + packedOffset(o, k, inF, dtype);
      if (dtype == F32) store<u32>(to, load<u32>(from));
      else store<u16>(to, load<u16>(from));
    }
  }
}

/** Stores the 4×4 transpose of 32-bit lanes [a, b, c, d]: [a0 b0 c0 d0] at p, [a1 b1 c1 d1] at p + stride, ... */
// @ts-ignore: decorator
@inline function transposeStore4x4(p: usize, a: v128, b: v128, c: v128, d: v128, stride: usize): void {
  const ab01 = i32x4.shuffle(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
  const cd01 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const ab23 = i32x4.shuffle(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
  const cd23 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(p, i32x4.shuffle(ab01, cd01, 0, 1, 4, 5));
  v128.store(p + stride, i32x4.shuffle(ab01, cd01, 2, 3, 6, 7));
  v128.store(p + 2 * stride, i32x4.shuffle(ab23, cd23, 0, 1, 4, 5));
  v128.store(p + 3 * stride, i32x4.shuffle(ab23, cd23, 2, 3, 6, 7));
}

/** 4 16-bit elements at p (x0..x3) and 4 at p + next (y0..y3), as [x0 y0 x1 y1 x2 y2 x3 y3]. */
// @ts-ignore: decorator
@inline function pairRows(p: usize, next: usize): v128 {
  const v = i64x2.replace_lane(i64x2.splat(load<i64>(p)), 1, load<i64>(p + next));
  return i16x8.shuffle(v, v, 0, 4, 1, 5, 2, 6, 3, 7);
}

/**
 * Embedding lookup: out[n×dim] f32 = rows ids[n] (i32) of table [rows×dim] of dtype 0/1/2, packed (packed = 1, as
 * made by packLinear, e.g. a tied lm_head) or plain. The caller checks the ids against the table's row count.
 */
export function gatherRows(table: usize, ids: usize, out: usize, n: i32, dim: i32, dtype: i32, packed: i32): void {
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    const outRow = out + (<usize>i * dim << 2);
    if (packed) {
      if (dtype == F32) gatherPacked(table, id, outRow, dim, F32);
      else if (dtype == F16) gatherPacked(table, id, outRow, dim, F16);
      else gatherPacked(table, id, outRow, dim, BF16);
    } else if (dtype == F32) {
      memory.copy(outRow, table + (<usize>id * dim << 2), <usize>dim << 2);
    } else {
      const row = table + (<usize>id * dim << 1);
      for (let k = 0; k < dim; k++) store<f32>(outRow + (<usize>k << 2), loadElement(row, <usize>k, dtype));
    }
  }
}

/** One row of a packed table, widened group by group with the kernels' own decoding. */
// @ts-ignore: decorator
@inline function gatherPacked(table: usize, id: i32, outRow: usize, dim: i32, dtype: i32): void {
  let p = table + packedOffset(id, 0, dim, dtype);
  const step = <usize>BLOCK_ROWS * groupRowBytes(dtype);
  for (let k = 0; k < dim; k += GROUP) {
    const v = v128.load(p);
    const dst = outRow + (<usize>k << 2);
    const lo = dtype == F16 ? f16ToF32x4(v, HALVES_LOW) : weightsLo(v, dtype);
    const hi = dtype == F16 ? f16ToF32x4(v, HALVES_HIGH) : weightsHi(p, v, dtype);
    storeF32Partial(dst, lo, dim - k);
    storeF32Partial(dst + 16, hi, dim - k - 4);
    p += step;
  }
}
