// Memory-bandwidth probes: the "read bandwidth" every benchmark reports its kernels against, and memory.copy.

/**
 * Sum of n f32 at p (n any size). Eight independent accumulators over 128 bytes per iteration (two cache lines),
 * the same shape as the matvec's inner loop, keep the adds from serialising and enough loads in flight that the
 * loop is bound by memory, not by add latency.
 */
export function sumF32(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
  let q = p;
  const fullEnd = p + (<usize>(n & ~31) << 2);
  for (; q < fullEnd; q += 128) {
    a0 = f32x4.add(a0, v128.load(q));
    a1 = f32x4.add(a1, v128.load(q, 16));
    a2 = f32x4.add(a2, v128.load(q, 32));
    a3 = f32x4.add(a3, v128.load(q, 48));
    a4 = f32x4.add(a4, v128.load(q, 64));
    a5 = f32x4.add(a5, v128.load(q, 80));
    a6 = f32x4.add(a6, v128.load(q, 96));
    a7 = f32x4.add(a7, v128.load(q, 112));
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  let total = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  const end = p + (<usize>n << 2);
  for (; q < end; q += 4) total += load<f32>(q);
  return total;
}

/** memory.copy of n bytes: the copy-bandwidth probe (what TypedArray.set achieves; not the bar for kernels). */
export function copyBytes(dst: usize, src: usize, n: usize): void {
  memory.copy(dst, src, n);
}
