import { beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/runtime/runtime.js';
import { expectClose, expectRelative, getF32, putF32, seededRandom } from './util.js';

// ---- float64 references ----------------------------------------------------------------------------------------

/** erfc in float64: Taylor series of erf below 2.5, the continued fraction of erfc (Abramowitz & Stegun 7.1.14) above. */
function erfc64(x: number): number {
  if (x < 0) return 2 - erfc64(-x);
  if (x < 2.5) {
    let term = x;
    let sum = x;
    for (let k = 1; k < 200; k++) {
      term *= (-x * x) / k;
      const t = term / (2 * k + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = x;
  for (let k = 200; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}
const geluErf64 = (x: number) => 0.5 * x * erfc64(-x / Math.SQRT2);
const geluTanh64 = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
const silu64 = (x: number) => x / (1 + Math.exp(-x));
const relu64 = (x: number) => Math.max(x, 0);

// Tolerances, measured worst cases in brackets, on [−12, 12] and random inputs. Below 1e-36 nothing is checked
// (absolute 1e-36): e^x overflows f32 above x ≈ 88.7, so σ(−90) is 0 rather than a denormal 8e-40, and the exact
// outputs of geluErf below −13 are not f32 numbers at all.
// - silu: exp is ~1 ulp, then an add, a division and a product round: 3e-7 relative [1.6e-7].
// - geluErf: erfc's fit is good to 1.2e-7, plus exp and 4 roundings: 6e-7 relative [4.1e-7].
// - geluTanh: the argument 2y = 2√(2/π)(x + 0.044715x³) is formed in f32 (as PyTorch does), and a relative error δ
//   in it becomes |2y|·δ in σ(2y) for negative y (|2y| ≈ 17 at x = −5): 5e-6 relative [2.9e-6]. The float64
//   reference 1 + tanh(y) itself cancels to nothing below ~1e-12, hence the absolute 1e-12.
const UNARY = [
  { name: 'silu', f64: silu64, rel: 3e-7, abs: 1e-36 },
  { name: 'geluErf', f64: geluErf64, rel: 6e-7, abs: 1e-36 },
  { name: 'geluTanh', f64: geluTanh64, rel: 5e-6, abs: 1e-12 },
  { name: 'relu', f64: relu64, rel: 0, abs: 0 },
] as const;
type UnaryName = (typeof UNARY)[number]['name'];

/** A dense grid over [−12, 12], random values, and the hard ones. Its length, 24_018, is not a multiple of 4. */
function inputs(): number[] {
  const xs: number[] = [];
  for (let i = 0; i <= 24000; i++) xs.push(Math.fround(-12 + i * 0.001));
  const rand = seededRandom(7);
  for (let i = 0; i < 5; i++) xs.push(Math.fround((rand() - 0.5) * 40));
  xs.push(0, -0, 1e-30, -1e-30, 88, -88, 90, -90, 100, -100, 1e4, -1e4);
  return xs.map(Math.fround);
}

describe('activations', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });

  const run = (name: UnaryName | `${UnaryName}_ref`, xs: number[], start = 0, end = xs.length, fill = 0) => {
    const x = putF32(rt, xs);
    const y = putF32(rt, new Array<number>(xs.length).fill(fill));
    rt.kernels[name](x.offset, y.offset, start, end);
    const out = getF32(rt, y);
    rt.free(x);
    rt.free(y);
    return out;
  };

  for (const { name, f64, rel, abs } of UNARY) {
    it(`${name} and ${name}_ref match float64 on [−12, 12], random and extreme inputs`, () => {
      const xs = inputs();
      const expected = xs.map(f64);
      for (const kernel of [name, `${name}_ref`] as const) {
        const out = run(kernel, xs);
        expect(out.some(Number.isNaN), `${kernel} produced NaN`).toBe(false);
        expectRelative(out, expected, rel, abs, kernel);
      }
    });

    it(`${name} writes exactly elements [start, end) for awkward lengths`, () => {
      for (const n of [1, 3, 5, 17, 33, 67, 130]) {
        const rand = seededRandom(n);
        const xs = Array.from({ length: n }, () => Math.fround((rand() - 0.5) * 8));
        const start = Math.min(1, n - 1);
        const end = Math.max(start, n - 2);
        for (const kernel of [name, `${name}_ref`] as const) {
          const out = run(kernel, xs, start, end, 1234.5);
          for (let i = 0; i < n; i++) {
            if (i < start || i >= end) expect(out[i], `${kernel} n=${n} touched element ${i}`).toBe(1234.5);
          }
          expectRelative(out.slice(start, end), xs.slice(start, end).map(f64), rel, abs, `${kernel} n=${n}`);
        }
      }
    });
  }

  it('extreme inputs saturate instead of overflowing', () => {
    const xs = [1e4, -1e4, 100, -100];
    for (const name of ['silu', 'geluErf', 'geluTanh'] as const) {
      const out = run(name, xs);
      // x for large positive x, (−)0 for large negative x: the exact values round to these in f32
      expect(Array.from(out).map((v) => (v === 0 ? 0 : v)), name).toEqual([1e4, 0, 100, 0]);
    }
  });

  describe('binary', () => {
    const n = 131;
    const rand = seededRandom(3);
    const a = Array.from({ length: n }, () => Math.fround((rand() - 0.5) * 10));
    const b = Array.from({ length: n }, () => Math.fround((rand() - 0.5) * 10));
    a[0] = 1e4;
    a[1] = -1e4;
    const start = 2;
    const end = n - 1;

    const check = (what: string, call: (a: number, b: number, y: number) => void, expected: (i: number) => number, rel: number) => {
      const ta = putF32(rt, a);
      const tb = putF32(rt, b);
      const ty = putF32(rt, new Array<number>(n).fill(-7));
      call(ta.offset, tb.offset, ty.offset);
      const out = getF32(rt, ty);
      expect(out[start - 1], `${what} touched element ${start - 1}`).toBe(-7);
      expect(out[end], `${what} touched element ${end}`).toBe(-7);
      const want = Array.from({ length: end - start }, (_, k) => expected(start + k));
      expectRelative(out.slice(start, end), want, rel, 0, what);
      for (const t of [ta, tb, ty]) rt.free(t);
    };

    for (const suffix of ['', '_ref'] as const) {
      const k = () => rt.kernels;
      // the products below add one rounding to the activation's error: tolerances are the unary ones + 1.2e-7
      it(`swiglu${suffix} = silu(gate)·up`, () => {
        check(`swiglu${suffix}`, (g, u, y) => k()[`swiglu${suffix}`](g, u, y, start, end), (i) => silu64(a[i]) * b[i], 4.2e-7);
      });
      it(`geglu${suffix} = gelu(gate)·up, erf and tanh forms`, () => {
        check(`geglu${suffix} erf`, (g, u, y) => k()[`geglu${suffix}`](g, u, y, 0, start, end), (i) => geluErf64(a[i]) * b[i], 7.2e-7);
        check(`geglu${suffix} tanh`, (g, u, y) => k()[`geglu${suffix}`](g, u, y, 1, start, end), (i) => geluTanh64(a[i]) * b[i], 5.2e-6);
      });
      it(`add${suffix} and scale${suffix} round once`, () => {
        // IEEE f32 add and multiply are correctly rounded: the results equal the f64 ones rounded to f32, exactly
        check(`add${suffix}`, (x, z, y) => k()[`add${suffix}`](x, z, y, start, end), (i) => Math.fround(a[i] + b[i]), 0);
        check(`scale${suffix}`, (x, _z, y) => k()[`scale${suffix}`](x, 0.3, y, start, end), (i) => Math.fround(a[i] * Math.fround(0.3)), 0);
      });
    }
  });

  it('the SIMD kernels agree with their _ref twins', () => {
    // Both compute the same formulas in f32 but with different exp implementations (a few ulp apart) and, in the
    // relaxed build, fused multiply-adds: 1e-6 of max(1, |y|).
    const xs = inputs();
    for (const { name } of UNARY) expectClose(run(name, xs), run(`${name}_ref`, xs), 1e-6, `${name} vs ${name}_ref`);
  });
});
