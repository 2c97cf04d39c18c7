import { beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/runtime/runtime.js';
import { expectClose, getF32, putF32, putI32, seededRandom } from './util.js';

/** The host's table: f32 [maxPos × rotaryDim/2 × 2], (cos, sin) of p·θ_i with θ_i = base^(−2i/rotaryDim). */
function ropeTable(maxPos: number, rotaryDim: number, base = 10000): number[] {
  const t: number[] = [];
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < rotaryDim / 2; i++) {
      const angle = p * base ** ((-2 * i) / rotaryDim);
      t.push(Math.fround(Math.cos(angle)), Math.fround(Math.sin(angle)));
    }
  }
  return t;
}

interface Case {
  rows: number;
  nHeads: number;
  headDim: number;
  rotaryDim: number;
  rowStride: number;
  interleaved: 0 | 1;
  start: number;
  end: number;
}

/** float64 reference: rotates a copy of x for heads [start, end) of every row. */
function rope64(x: number[], table: number[], positions: number[], c: Case): number[] {
  const y = x.slice();
  const half = c.rotaryDim / 2;
  for (let r = 0; r < c.rows; r++) {
    for (let h = c.start; h < c.end; h++) {
      const base = r * c.rowStride + h * c.headDim;
      for (let i = 0; i < half; i++) {
        const cos = table[(positions[r] * half + i) * 2];
        const sin = table[(positions[r] * half + i) * 2 + 1];
        const [ia, ib] = c.interleaved ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + half];
        y[ia] = x[ia] * cos - x[ib] * sin;
        y[ib] = x[ia] * sin + x[ib] * cos;
      }
    }
  }
  return y;
}

// (headDim, rotaryDim): full and partial rotary, odd head sizes, rotaryDim/2 odd and not a multiple of 4
const HEADS: Array<[number, number]> = [
  [2, 2],
  [3, 2],
  [5, 4],
  [17, 10],
  [33, 32],
  [64, 64],
  [64, 16],
  [67, 66],
  [130, 130],
];
const MAX_POS = 50;

describe('rope', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });

  const run = (name: 'rope' | 'rope_ref', x: number[], table: number[], positions: number[], c: Case) => {
    const tx = putF32(rt, x);
    const tt = putF32(rt, table);
    const tp = putI32(rt, positions);
    rt.kernels[name](tx.offset, c.rowStride, tt.offset, tp.offset, c.rows, c.headDim, c.rotaryDim, c.interleaved, c.start, c.end);
    const out = getF32(rt, tx);
    for (const t of [tx, tt, tp]) rt.free(t);
    return out;
  };

  it('rotates heads [start, end) of rows with a fused stride, both pair layouts, like float64', () => {
    let cases = 0;
    for (const [headDim, rotaryDim] of HEADS) {
      const table = ropeTable(MAX_POS, rotaryDim);
      for (const rows of [1, 2, 3, 7]) {
        for (const interleaved of [0, 1] as const) {
          for (const [start, end] of [[0, 3], [1, 2]]) {
            // 3 heads inside a wider row (as q inside a fused qkv row), so the stride has 7 floats after them
            const c: Case = { rows, nHeads: 3, headDim, rotaryDim, rowStride: 3 * headDim + 7, interleaved, start, end };
            const rand = seededRandom(cases++);
            const x = Array.from({ length: rows * c.rowStride }, () => Math.fround(rand() * 4 - 2));
            const positions = Array.from({ length: rows }, () => Math.floor(rand() * MAX_POS));
            const want = rope64(x, table, positions, c);
            const got = run('rope', x, table, positions, c);
            const ref = run('rope_ref', x, table, positions, c);
            const what = `headDim=${headDim} rotaryDim=${rotaryDim} rows=${rows} interleaved=${interleaved} heads [${start}, ${end})`;
            // each output is a·cos − b·sin with |a|, |b| ≤ 2: two products and a sum round, < 2 ulp of 2 = 4.8e-7
            expectClose(got, want, 5e-7, what);
            // the kernel and its reference do the same f32 operations in the same order
            expect(Array.from(got), `${what}: rope vs rope_ref`).toEqual(Array.from(ref));
            // dims past rotaryDim, heads outside [start, end) and the rest of the stride keep their exact values
            for (let r = 0; r < rows; r++) {
              for (let k = 0; k < c.rowStride; k++) {
                const h = Math.floor(k / headDim);
                const rotated = h >= start && h < end && h < 3 && k % headDim < rotaryDim;
                if (!rotated) expect(got[r * c.rowStride + k], `${what}: row ${r} element ${k} changed`).toBe(x[r * c.rowStride + k]);
              }
            }
          }
        }
      }
    }
  });

  it('position 0 is the identity and the two layouts rotate different pairs', () => {
    const c: Case = { rows: 1, nHeads: 1, headDim: 8, rotaryDim: 8, rowStride: 8, interleaved: 1, start: 0, end: 1 };
    const table = ropeTable(4, 8);
    const x = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(Array.from(run('rope', x, table, [0], c))).toEqual(x);
    // frequency 0 has θ = 1 rad at position 1: interleaved rotates (x0, x1), rotate-half rotates (x0, x4)
    const [cos, sin] = [Math.fround(Math.cos(1)), Math.fround(Math.sin(1))];
    const inter = run('rope', x, table, [1], c);
    const half = run('rope', x, table, [1], { ...c, interleaved: 0 });
    expectClose([inter[0], inter[1]], [1 * cos - 2 * sin, 1 * sin + 2 * cos], 5e-7, 'interleaved pair (0, 1)');
    expectClose([half[0], half[4]], [1 * cos - 5 * sin, 1 * sin + 5 * cos], 5e-7, 'rotate-half pair (0, 4)');
  });
});
