// Memory-bandwidth probe: the "read bandwidth" every benchmark reports its kernels against. Four independent
// accumulators keep the adds from serialising, so the loop is bound by memory, not by add latency.

/** Sum of n f32 at p (n any size). */
export function sumF32(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const q = p + (<usize>i << 2);
    a0 = f32x4.add(a0, v128.load(q));
    a1 = f32x4.add(a1, v128.load(q, 16));
    a2 = f32x4.add(a2, v128.load(q, 32));
    a3 = f32x4.add(a3, v128.load(q, 48));
  }
  const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
  let total = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  for (; i < n; i++) total += load<f32>(p + (<usize>i << 2));
  return total;
}

/** memory.copy of n bytes: the copy-bandwidth probe (what TypedArray.set achieves; not the bar for kernels). */
export function copyBytes(dst: usize, src: usize, n: usize): void {
  memory.copy(dst, src, n);
}
