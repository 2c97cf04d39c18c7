// Vector math the kernels share: f32x4 multiply-add, horizontal reductions, exp, the normal CDF (for GELU), a
// softmax over one row, and partial loads/stores for the last 1–3 elements of a loop. Each vector function has a
// scalar twin that the `_ref` kernels use. This file is imported by the kernel files, not re-exported by
// index.ts: nothing here is a wasm export.

// ---- lanes -----------------------------------------------------------------------------------------------------

/** a·b + c. The relaxed build may fuse it (one rounding instead of two): either is within every tolerance here. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** The n (1–3) f32 at p in the low lanes, zeros above: the tail of a loop that steps by 4 never reads past its end. */
// @ts-ignore: decorator
@inline export function loadTail(p: usize, n: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the low n (1–3) lanes of v at p. */
// @ts-ignore: decorator
@inline export function storeTail(p: usize, v: v128, n: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** All-ones in lanes 0..n-1 (n = 1–3): selects the real elements of a tail vector. */
// @ts-ignore: decorator
@inline export function tailMask(n: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(n));
}

// Sums that must not lose f32 bits over thousands of terms are kept in two f64x2: the low and the high lanes.
// @ts-ignore: decorator
@inline export function widenLow(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
// @ts-ignore: decorator
@inline export function widenHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
}
// @ts-ignore: decorator
@inline export function hsum64(a: v128, b: v128): f64 {
  const s = f64x2.add(a, b);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

// ---- exp -------------------------------------------------------------------------------------------------------
// exp(x) = 2^n · exp(r) with n = round(x / ln 2) and r = x − n·ln 2 in [−ln2/2, ln2/2] (Cody–Waite: ln 2 split in a
// part with 9 significant bits, so n·LN2_HI is exact, and the rest). exp(r) is Cephes' degree-6 polynomial for
// expf (about 1 ulp). 2^n is built from exponent bits in two halves so that n down to −150 (denormal results) and
// up to 128 (overflow to +inf) need no special case. Clamping x to [−104, 89] keeps n in that range: exp(−104)
// rounds to 0 and exp(89) to +inf, as exactly computed values would. NaN passes through (min/max keep it).

const LOG2E: f32 = 1.4426950408889634;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_P0: f32 = 1.9875691500e-4;
const EXP_P1: f32 = 1.3981999507e-3;
const EXP_P2: f32 = 8.3334519073e-3;
const EXP_P3: f32 = 4.1665795894e-2;
const EXP_P4: f32 = 1.6666665459e-1;
const EXP_P5: f32 = 5.0000001201e-1;

/**
 * round(x·log2 e) as a float (n) and as the integer it equals (ni), by the 1.5·2^23 trick: adding it leaves the
 * rounded value in the low mantissa bits. Cheaper than f32x4.nearest plus a saturating conversion (several
 * instructions on x64). Valid for |x·log2 e| < 2^22, which the clamps guarantee.
 */
const ROUND_MAGIC: f32 = 12582912.0;

/** p(r)·2^ni for the reduced argument r and the integer ni. */
// @ts-ignore: decorator
@inline function expReduced(ni: v128, r: v128): v128 {
  let p = madd(f32x4.splat(EXP_P0), r, f32x4.splat(EXP_P1));
  p = madd(p, r, f32x4.splat(EXP_P2));
  p = madd(p, r, f32x4.splat(EXP_P3));
  p = madd(p, r, f32x4.splat(EXP_P4));
  p = madd(p, r, f32x4.splat(EXP_P5));
  p = madd(p, f32x4.mul(r, r), f32x4.add(r, f32x4.splat(1.0)));
  const nLow = i32x4.shr_s(ni, 1);
  const scaleLow = i32x4.shl(i32x4.add(nLow, i32x4.splat(127)), 23);
  const scaleHigh = i32x4.shl(i32x4.add(i32x4.sub(ni, nLow), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, scaleLow), scaleHigh);
}

// @ts-ignore: decorator
@inline function clampExpArgument(x: v128): v128 {
  return f32x4.min(f32x4.max(x, f32x4.splat(-104.0)), f32x4.splat(89.0));
}

// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  x = clampExpArgument(x);
  const shifted = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND_MAGIC));
  const n = f32x4.sub(shifted, f32x4.splat(ROUND_MAGIC));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  return expReduced(i32x4.sub(shifted, f32x4.splat(ROUND_MAGIC)), r);
}

/**
 * exp(hi + lo) for an argument given in two parts (|lo| ≲ 2): hi − n·LN2_HI is exact, so none of hi's bits are
 * lost as they would be in the f32 sum hi + lo. For e^(−x²/2), whose argument is large and must be exact to ~1e-7.
 */
// @ts-ignore: decorator
@inline function exp2Part4(hi: v128, lo: v128): v128 {
  hi = clampExpArgument(hi);
  // |lo| > 8 only comes with hi far below −104, where the result is 0 anyway; the clamp keeps n in range
  lo = f32x4.min(f32x4.max(lo, f32x4.splat(-8.0)), f32x4.splat(8.0));
  const shifted = f32x4.add(f32x4.mul(f32x4.add(hi, lo), f32x4.splat(LOG2E)), f32x4.splat(ROUND_MAGIC));
  const n = f32x4.sub(shifted, f32x4.splat(ROUND_MAGIC));
  const r = f32x4.sub(f32x4.add(f32x4.sub(hi, f32x4.mul(n, f32x4.splat(LN2_HI))), lo), f32x4.mul(n, f32x4.splat(LN2_LO)));
  return expReduced(i32x4.sub(shifted, f32x4.splat(ROUND_MAGIC)), r);
}

/** σ(x) = 1 / (1 + e^−x): 0 for x → −∞ (e^−x = +inf), 1 for x → +∞. */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), exp4(f32x4.neg(x))));
}

export function sigmoid(x: f32): f32 {
  return 1.0 / (1.0 + Mathf.exp(-x));
}

// ---- the normal CDF Φ(x) = ½(1 + erf(x/√2)), for GELU ------------------------------------------------------
// GELU needs 1 + erf(z), which for z < 0 is a small difference of numbers near 1. So we never form erf(z) and add
// 1: for |z| < 0.5 we sum erf's Taylor series (terms up to z¹³; the first omitted term is < 5e-10), and for
// |z| ≥ 0.5 we use erfc(|z|), which keeps its relative accuracy for large |z|: 1 + erf(z) = 2 − erfc(z) for z > 0
// and erfc(−z) for z < 0. erfc is the Chebyshev fit of Numerical Recipes (2nd ed., §6.2, `erfcc`):
// erfc(a) = t·exp(−a² + P(t)), t = 1/(1 + a/2), fractional error below 1.2e-7 for every a ≥ 0.
// A relative error δ in a² becomes a relative error a²·δ in erfc, so a² = x²/2 is taken from x (not from the
// rounded z = x/√2) in two parts: xh, x with its low 12 mantissa bits cleared, has a square exact in f32, and
// x² = xh² + (x − xh)(x + xh).

const SQRT1_2: f32 = 0.7071067811865476;
// 2/√π · (−1)^k / (k! (2k+1)), k = 0..6
const ERF_T0: f32 = 1.1283791670955126;
const ERF_T1: f32 = -0.37612638903183754;
const ERF_T2: f32 = 0.11283791670955126;
const ERF_T3: f32 = -0.026866170645131252;
const ERF_T4: f32 = 0.0052239776254421879;
const ERF_T5: f32 = -0.00085483270234508522;
const ERF_T6: f32 = 0.00012055332981789664;
const ERFC_C0: f32 = -1.26551223;
const ERFC_C1: f32 = 1.00002368;
const ERFC_C2: f32 = 0.37409196;
const ERFC_C3: f32 = 0.09678418;
const ERFC_C4: f32 = -0.18628806;
const ERFC_C5: f32 = 0.27886807;
const ERFC_C6: f32 = -1.13520398;
const ERFC_C7: f32 = 1.48851587;
const ERFC_C8: f32 = -0.82215223;
const ERFC_C9: f32 = 0.17087277;

// @ts-ignore: decorator
@inline export function phi4(x: v128): v128 {
  const z = f32x4.mul(x, f32x4.splat(SQRT1_2));
  // |z| < 0.5: 1 + z·T(z²)
  const z2 = f32x4.mul(z, z);
  let s = madd(f32x4.splat(ERF_T6), z2, f32x4.splat(ERF_T5));
  s = madd(s, z2, f32x4.splat(ERF_T4));
  s = madd(s, z2, f32x4.splat(ERF_T3));
  s = madd(s, z2, f32x4.splat(ERF_T2));
  s = madd(s, z2, f32x4.splat(ERF_T1));
  s = madd(s, z2, f32x4.splat(ERF_T0));
  const onePlusErfSmall = madd(s, z, f32x4.splat(1.0));
  // |z| ≥ 0.5: erfc(|z|)
  const a = f32x4.abs(z);
  const t = f32x4.div(f32x4.splat(1.0), madd(a, f32x4.splat(0.5), f32x4.splat(1.0)));
  let p = madd(f32x4.splat(ERFC_C9), t, f32x4.splat(ERFC_C8));
  p = madd(p, t, f32x4.splat(ERFC_C7));
  p = madd(p, t, f32x4.splat(ERFC_C6));
  p = madd(p, t, f32x4.splat(ERFC_C5));
  p = madd(p, t, f32x4.splat(ERFC_C4));
  p = madd(p, t, f32x4.splat(ERFC_C3));
  p = madd(p, t, f32x4.splat(ERFC_C2));
  p = madd(p, t, f32x4.splat(ERFC_C1));
  p = madd(p, t, f32x4.splat(ERFC_C0));
  const xh = v128.and(x, i32x4.splat(0xfffff000));
  const halfSquareHigh = f32x4.mul(f32x4.mul(xh, xh), f32x4.splat(0.5));
  const halfSquareLow = f32x4.mul(f32x4.mul(f32x4.sub(x, xh), f32x4.add(x, xh)), f32x4.splat(0.5));
  const erfc = f32x4.mul(t, exp2Part4(f32x4.neg(halfSquareHigh), f32x4.sub(p, halfSquareLow)));
  const onePlusErfLarge = v128.bitselect(f32x4.sub(f32x4.splat(2.0), erfc), erfc, f32x4.gt(z, f32x4.splat(0)));
  const onePlusErf = v128.bitselect(onePlusErfSmall, onePlusErfLarge, f32x4.lt(a, f32x4.splat(0.5)));
  return f32x4.mul(onePlusErf, f32x4.splat(0.5));
}

export function phi(x: f32): f32 {
  const z = x * SQRT1_2;
  const z2 = z * z;
  const a = Mathf.abs(z);
  if (a < 0.5) {
    const s = ((((((ERF_T6 * z2 + ERF_T5) * z2 + ERF_T4) * z2 + ERF_T3) * z2 + ERF_T2) * z2 + ERF_T1) * z2 + ERF_T0);
    return 0.5 * (1.0 + s * z);
  }
  const t: f32 = 1.0 / (1.0 + 0.5 * a);
  const p = (((((((((ERFC_C9 * t + ERFC_C8) * t + ERFC_C7) * t + ERFC_C6) * t + ERFC_C5) * t + ERFC_C4) * t + ERFC_C3) * t + ERFC_C2) * t + ERFC_C1) * t + ERFC_C0);
  const erfc = t * <f32>Math.exp(<f64>p - <f64>x * <f64>x * 0.5); // the argument exact in f64, see above
  return 0.5 * (z > 0 ? 2.0 - erfc : erfc);
}

// ---- GELU ------------------------------------------------------------------------------------------------------
// erf form: x·Φ(x). tanh form (gelu_new): ½x(1 + tanh(y)), y = √(2/π)(x + 0.044715x³); since 1 + tanh(y) = 2σ(2y)
// we compute x·σ(2y), which has no cancellation for negative x and needs only exp.

const GELU_TANH_K: f32 = 1.5957691216057308; // 2·√(2/π)
const GELU_TANH_C: f32 = 0.044715;

// @ts-ignore: decorator
@inline export function geluErf4(x: v128): v128 {
  return f32x4.mul(x, phi4(x));
}

// @ts-ignore: decorator
@inline export function geluTanh4(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const twoY = f32x4.mul(madd(x3, f32x4.splat(GELU_TANH_C), x), f32x4.splat(GELU_TANH_K));
  return f32x4.mul(x, sigmoid4(twoY));
}

export function geluErfScalar(x: f32): f32 {
  return x * phi(x);
}

export function geluTanhScalar(x: f32): f32 {
  return x * sigmoid(GELU_TANH_K * (x + GELU_TANH_C * x * x * x));
}

// ---- softmax of one row ----------------------------------------------------------------------------------------

/**
 * dst[0..n) = softmax(src[0..n)) (src may equal dst). Subtracting the row max keeps exp ≤ 1, so logits of ±1e4
 * do not overflow; −inf entries give 0; a row with no finite entry (all −inf, or n = 0) gives zeros. The sum is
 * accumulated in f64.
 */
export function softmaxRow(src: usize, dst: usize, n: i32): void {
  let vmax = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) vmax = f32x4.max(vmax, v128.load(src + (<usize>i << 2)));
  let m = hmax(vmax);
  for (; i < n; i++) m = max(m, load<f32>(src + (<usize>i << 2)));
  if (m == -Infinity) {
    memory.fill(dst, 0, <usize>n << 2);
    return;
  }
  const vm = f32x4.splat(m);
  let sumLow = f64x2.splat(0), sumHigh = f64x2.splat(0);
  i = 0;
  for (; i + 4 <= n; i += 4) {
    const e = exp4(f32x4.sub(v128.load(src + (<usize>i << 2)), vm));
    v128.store(dst + (<usize>i << 2), e);
    sumLow = f64x2.add(sumLow, widenLow(e));
    sumHigh = f64x2.add(sumHigh, widenHigh(e));
  }
  if (i < n) {
    // the lanes past n hold exp(0 − m), which must not join the sum
    const e = v128.and(exp4(f32x4.sub(loadTail(src + (<usize>i << 2), n - i), vm)), tailMask(n - i));
    storeTail(dst + (<usize>i << 2), e, n - i);
    sumLow = f64x2.add(sumLow, widenLow(e));
    sumHigh = f64x2.add(sumHigh, widenHigh(e));
  }
  const inv = <f32>(1.0 / hsum64(sumLow, sumHigh));
  const vinv = f32x4.splat(inv);
  i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), f32x4.mul(v128.load(dst + (<usize>i << 2)), vinv));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(dst + (<usize>i << 2)) * inv);
}

/** The scalar twin of softmaxRow. */
export function softmaxRowRef(src: usize, dst: usize, n: i32): void {
  let m: f32 = -Infinity;
  for (let i = 0; i < n; i++) m = max(m, load<f32>(src + (<usize>i << 2)));
  if (m == -Infinity) {
    for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
    return;
  }
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const e = Mathf.exp(load<f32>(src + (<usize>i << 2)) - m);
    store<f32>(dst + (<usize>i << 2), e);
    sum += e;
  }
  const inv = <f32>(1.0 / sum);
  for (let i = 0; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(dst + (<usize>i << 2)) * inv);
}
