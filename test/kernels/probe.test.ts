import { beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/runtime/runtime.js';

describe('bandwidth probes', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });

  it('sumF32 sums any count of f32, including the ragged tail past the four 8-wide streams', () => {
    for (const n of [0, 1, 3, 15, 16, 17, 31, 32, 33, 64, 127, 1001, 4099]) {
      const t = rt.alloc('f32', [Math.max(n, 1)]);
      // small integers and halves: every partial sum is exact in f32 (< 2^24), so any order gives the exact total
      const data = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 201) / 2 - 50);
      rt.write(t, data);
      const exact = data.reduce((s, v) => s + v, 0);
      expect(rt.kernels.sumF32(t.offset, n), `n = ${n}`).toBe(exact);
      rt.free(t);
    }
  });

  it('sumF32 reads from the given offset only', () => {
    const t = rt.alloc('f32', [40]);
    rt.write(t, new Float32Array(40).fill(1));
    // 17 elements starting 3 floats in: an unaligned start and a tail
    expect(rt.kernels.sumF32(t.offset + 12, 17)).toBe(17);
    rt.free(t);
  });

  it('copyBytes copies exactly n bytes, overlapping ranges included (memmove semantics)', () => {
    const t = rt.alloc('f32', [64]); // 256 bytes
    const bytes = () => new Uint8Array(rt.memory.buffer, t.offset, 256);
    const pattern = Uint8Array.from({ length: 256 }, (_, i) => (i * 37 + 11) & 0xff);
    bytes().set(pattern);
    rt.kernels.copyBytes(t.offset + 128, t.offset, 77);
    const want = pattern.slice();
    want.copyWithin(128, 0, 77);
    expect(Array.from(bytes())).toEqual(Array.from(want));

    bytes().set(pattern);
    rt.kernels.copyBytes(t.offset + 5, t.offset, 100); // forward overlap
    expect(Array.from(bytes())).toEqual(Array.from(pattern.slice().copyWithin(5, 0, 100)));

    bytes().set(pattern);
    rt.kernels.copyBytes(t.offset, t.offset + 5, 100); // backward overlap
    expect(Array.from(bytes())).toEqual(Array.from(pattern.slice().copyWithin(0, 5, 105)));

    bytes().set(pattern);
    rt.kernels.copyBytes(t.offset + 1, t.offset, 0);
    expect(Array.from(bytes())).toEqual(Array.from(pattern));
    rt.free(t);
  });
});
