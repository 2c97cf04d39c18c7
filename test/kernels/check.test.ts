import { beforeAll, describe, expect, it } from 'vitest';
import { DTYPE_CODE } from '../../src/runtime/kernels.js';
import type { WeightDType } from '../../src/runtime/layout.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { seededRandom } from './util.js';

/** The oracle: decode each value with a typed array / IEEE 754 and ask whether it is finite. */
function oracleCount(bits: Uint32Array | Uint16Array, dtype: WeightDType): number {
  let count = 0;
  for (const b of bits) {
    let finite: boolean;
    if (dtype === 'f32') finite = Number.isFinite(new Float32Array(new Uint32Array([b]).buffer)[0]);
    else if (dtype === 'bf16') finite = Number.isFinite(new Float32Array(new Uint32Array([b << 16]).buffer)[0]);
    else finite = ((b >> 10) & 0x1f) !== 0x1f; // f16: exponent 31 is Inf (mantissa 0) or NaN
    if (!finite) count++;
  }
  return count;
}

/** Special bit patterns of each dtype: NaNs (quiet, signalling, negative), ±Inf, subnormals, ±0, the extremes. */
const SPECIALS: Record<WeightDType, number[]> = {
  f32: [0x7fc00000, 0x7f800001, 0xffffffff, 0x7f800000, 0xff800000, 0x00000001, 0x807fffff, 0x00000000, 0x80000000, 0x7f7fffff, 0xff7fffff, 0x3f800000],
  f16: [0x7e00, 0x7c01, 0xffff, 0x7c00, 0xfc00, 0x0001, 0x83ff, 0x0000, 0x8000, 0x7bff, 0xfbff, 0x3c00],
  bf16: [0x7fc0, 0x7f81, 0xffff, 0x7f80, 0xff80, 0x0001, 0x807f, 0x0000, 0x8000, 0x7f7f, 0xff7f, 0x3f80],
};

/** n random bit patterns of dtype, one in four a special one: finite, subnormal, -0, NaN and ±Inf mixed. */
function randomBits(n: number, dtype: WeightDType, next: () => number): Uint32Array | Uint16Array {
  const bits = dtype === 'f32' ? new Uint32Array(n) : new Uint16Array(n);
  const specials = SPECIALS[dtype];
  const range = dtype === 'f32' ? 2 ** 32 : 2 ** 16;
  for (let i = 0; i < n; i++) bits[i] = next() < 0.25 ? specials[Math.floor(next() * specials.length)] : Math.floor(next() * range);
  return bits;
}

describe('countNonFinite', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });

  /** Counts through the SIMD kernel and its reference, over the whole tensor and over sub-ranges. */
  function counts(bits: Uint32Array | Uint16Array, dtype: WeightDType, start: number, end: number): [number, number] {
    const t = rt.alloc(dtype, [Math.max(bits.length, 1)]);
    rt.u8.set(new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength), t.offset);
    const got: [number, number] = [rt.kernels.countNonFinite(t.offset, DTYPE_CODE[dtype], start, end), rt.kernels.countNonFinite_ref(t.offset, DTYPE_CODE[dtype], start, end)];
    rt.free(t);
    return got;
  }

  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    it(`${dtype}: kernel, reference and oracle agree on awkward sizes and ranges`, () => {
      const next = seededRandom(7 + DTYPE_CODE[dtype]);
      for (const rows of [1, 3, 5, 17, 67]) {
        for (const cols of [1, 3, 5, 17, 67]) {
          const n = rows * cols;
          const bits = randomBits(n, dtype, next);
          const want = oracleCount(bits, dtype);
          expect(counts(bits, dtype, 0, n), `${dtype} ${rows}×${cols}`).toEqual([want, want]);
          // a range that starts and ends off any vector boundary
          const start = Math.min(n, 3);
          const end = Math.max(start, n - 2);
          const wantRange = oracleCount(bits.subarray(start, end), dtype);
          expect(counts(bits, dtype, start, end), `${dtype} ${rows}×${cols} [${start}, ${end})`).toEqual([wantRange, wantRange]);
        }
      }
    });

    it(`${dtype}: every special pattern alone, and a long all-NaN/Inf run (no lane count overflows)`, () => {
      for (const s of SPECIALS[dtype]) {
        const bits = dtype === 'f32' ? new Uint32Array(19).fill(s) : new Uint16Array(19).fill(s);
        const want = oracleCount(bits, dtype);
        expect(want === 0 || want === 19).toBe(true);
        expect(counts(bits, dtype, 0, 19), `${dtype} ${s.toString(16)}`).toEqual([want, want]);
      }
      const n = 300_001;
      const inf = dtype === 'f32' ? new Uint32Array(n).fill(0x7f800000) : new Uint16Array(n).fill(SPECIALS[dtype][3]);
      expect(counts(inf, dtype, 0, n)).toEqual([n, n]);
    });
  }

  it('counts exactly the NaN and ±Inf of a hand-made f32 / f16 / bf16 list', () => {
    const f32 = new Float32Array([1, NaN, -Infinity, 3.4e38, Infinity, -0, 1e-45]);
    expect(counts(new Uint32Array(f32.buffer), 'f32', 0, 7)).toEqual([3, 3]);
    expect(counts(new Uint16Array([0x3c00, 0x7c00, 0xfc00, 0x7e01, 0x7bff, 0x0001]), 'f16', 0, 6)).toEqual([3, 3]);
    expect(counts(new Uint16Array([0x3f80, 0x7f80, 0xff81, 0x7f7f]), 'bf16', 0, 4)).toEqual([2, 2]);
    expect(counts(new Uint32Array(f32.buffer), 'f32', 2, 2)).toEqual([0, 0]); // an empty range
  });
});
