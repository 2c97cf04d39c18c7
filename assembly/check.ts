// Load-time checks over weight bytes already in wasm memory.
//
// A value is non-finite (NaN or ±Inf) when its exponent bits are all ones: 0x7f800000 of an f32, 0x7c00 of an
// f16, 0x7f80 of a bf16. Subnormals, ±0 and every finite value have at least one exponent bit clear. Counting is
// an integer mask-and-compare, so the count is exact whatever the bits hold.

const F32: i32 = 0;
const F16: i32 = 1;

/** The exponent mask of dtype 0 f32, 1 f16, 2 bf16 (in the low bits for the 16-bit ones). */
// @ts-ignore: decorator
@inline function exponentMask(dtype: i32): u32 {
  return dtype == F32 ? 0x7f800000 : dtype == F16 ? 0x7c00 : 0x7f80;
}

/**
 * How many of the elements [start, end) of p (dtype 0 f32, 1 f16, 2 bf16) are NaN or ±Inf. 16 bytes at a time:
 * lanes equal to the mask after masking compare to -1, which is subtracted from per-lane counts (f32 lanes, or
 * pairs of 16-bit lanes summed into 32-bit ones, so no count overflows); the elements past the last whole
 * vector are counted one by one.
 */
export function countNonFinite(p: usize, dtype: i32, start: i32, end: i32): i32 {
  const mask = exponentMask(dtype);
  let count: i32 = 0;
  let i = start;
  if (dtype == F32) {
    const m = i32x4.splat(mask);
    let acc0 = i32x4.splat(0), acc1 = i32x4.splat(0);
    for (; i + 8 <= end; i += 8) {
      const q = p + (<usize>i << 2);
      acc0 = i32x4.sub(acc0, i32x4.eq(v128.and(v128.load(q), m), m));
      acc1 = i32x4.sub(acc1, i32x4.eq(v128.and(v128.load(q, 16), m), m));
    }
    const acc = i32x4.add(acc0, acc1);
    count = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    for (; i < end; i++) if ((load<u32>(p + (<usize>i << 2)) & mask) == mask) count++;
  } else {
    const m = i16x8.splat(<i16>mask);
    let acc = i32x4.splat(0);
    for (; i + 8 <= end; i += 8) {
      const hits = i16x8.eq(v128.and(v128.load(p + (<usize>i << 1)), m), m); // -1 per non-finite lane
      acc = i32x4.sub(acc, i32x4.extadd_pairwise_i16x8_s(hits));
    }
    count = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
    for (; i < end; i++) if ((<u32>load<u16>(p + (<usize>i << 1)) & mask) == mask) count++;
  }
  return count;
}

/** Reference: one element at a time. */
export function countNonFinite_ref(p: usize, dtype: i32, start: i32, end: i32): i32 {
  const mask = exponentMask(dtype);
  let count: i32 = 0;
  for (let i = start; i < end; i++) {
    const bits: u32 = dtype == F32 ? load<u32>(p + (<usize>i << 2)) : <u32>load<u16>(p + (<usize>i << 1));
    if ((bits & mask) == mask) count++;
  }
  return count;
}
