// Memory-bandwidth probes: the "read bandwidth" every benchmark reports its kernels against, and memory.copy.

/**
 * Sum of n f32 at p (n any size), read as four concurrent streams (the four quarters of the buffer): on these
 * machines one sequential stream leaves memory idle between the hardware prefetcher's requests (~9–10 GB/s), while
 * four streams reach what native AVX2 code reads (~12.5 GB/s). The probe is the bar the kernels are measured
 * against, so it has to be the fastest plain read loop, not a slow one that flatters them.
 */
export function sumF32(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  // Each step reads 8 floats (32 bytes) from each stream, so every stream spans (n >> 5) steps × 32 bytes; the
  // floats past the 4 streams (fewer than 32) are summed one by one.
  const stride = <usize>(n >> 5) << 5;
  const end = p + stride;
  for (let q = p; q < end; q += 32) {
    a0 = f32x4.add(a0, f32x4.add(v128.load(q), v128.load(q, 16)));
    a1 = f32x4.add(a1, f32x4.add(v128.load(q + stride), v128.load(q + stride, 16)));
    a2 = f32x4.add(a2, f32x4.add(v128.load(q + 2 * stride), v128.load(q + 2 * stride, 16)));
    a3 = f32x4.add(a3, f32x4.add(v128.load(q + 3 * stride), v128.load(q + 3 * stride, 16)));
  }
  const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  let total = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  const last = p + (<usize>n << 2);
  for (let q = p + 4 * stride; q < last; q += 4) total += load<f32>(q);
  return total;
}

/** memory.copy of n bytes: the copy-bandwidth probe (what TypedArray.set achieves; not the bar for kernels). */
export function copyBytes(dst: usize, src: usize, n: usize): void {
  memory.copy(dst, src, n);
}
