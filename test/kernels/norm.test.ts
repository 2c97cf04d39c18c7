import { beforeAll, describe, expect, it } from 'vitest';
import { Runtime } from '../../src/runtime/runtime.js';
import { expectClose, expectRelative, getF32, putF32, seededRandom } from './util.js';

// ---- float64 references, one row at a time ----------------------------------------------------------------------

function layerNorm64(x: number[], gamma: number[], beta: number[] | null, eps: number): number[] {
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
  const k = 1 / Math.sqrt(variance + Math.fround(eps));
  return x.map((v, i) => (v - mean) * k * gamma[i] + (beta ? beta[i] : 0));
}

function rmsNorm64(x: number[], gamma: number[], eps: number): number[] {
  const meanSquare = x.reduce((s, v) => s + v * v, 0) / x.length;
  const k = 1 / Math.sqrt(meanSquare + Math.fround(eps));
  return x.map((v, i) => v * k * gamma[i]);
}

function softmax64(x: number[]): number[] {
  const m = Math.max(...x);
  if (m === -Infinity) return x.map(() => 0);
  const e = x.map((v) => Math.exp(v - m));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

const DIMS = [1, 3, 5, 17, 33, 67, 130];
const ROWS = [1, 2, 3, 7];
const SENTINEL = -12345;

function randomRows(seed: number, rows: number, dim: number, offset = 0, spread = 4): number[][] {
  const rand = seededRandom(seed);
  return Array.from({ length: rows }, () => Array.from({ length: dim }, () => Math.fround(offset + (rand() - 0.5) * spread)));
}

/** The rows [start, end) to normalise in a call over `rows` rows: a strict sub-range when there are 3 or more. */
function range(rows: number): [number, number] {
  return rows >= 3 ? [1, rows - 1] : [0, rows];
}

// Norm outputs are O(|gamma|·few): the f32 kernels make a few roundings per element after an f64-accumulated
// variance, so 1e-6 of max(1, |y|) allows ~8 ulp.
const NORM_TOL = 1e-6;

describe('norms', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });

  /** Runs a norm kernel over rows [start, end) of x and returns all rows of y (untouched rows hold SENTINEL). */
  const runNorm = (call: (x: number, y: number, start: number, end: number) => void, x: number[][], start: number, end: number) => {
    const dim = x[0].length;
    const tx = putF32(rt, x.flat());
    const ty = putF32(rt, new Array<number>(x.length * dim).fill(SENTINEL));
    call(tx.offset, ty.offset, start, end);
    const out = getF32(rt, ty);
    rt.free(tx);
    rt.free(ty);
    return Array.from({ length: x.length }, (_, r) => Array.from(out.subarray(r * dim, (r + 1) * dim)));
  };

  const expectRows = (out: number[][], x: number[][], start: number, end: number, want: (row: number[]) => number[], what: string) => {
    for (let r = 0; r < x.length; r++) {
      if (r < start || r >= end) expect(out[r].every((v) => v === SENTINEL), `${what}: row ${r} outside [${start}, ${end}) was written`).toBe(true);
      else expectClose(out[r], want(x[r]), NORM_TOL, `${what} row ${r}`);
    }
  };

  for (const suffix of ['', '_ref'] as const) {
    it(`layerNorm${suffix} matches float64, with and without beta, on awkward sizes`, () => {
      for (const dim of DIMS) {
        for (const rows of ROWS) {
          // a large mean (100) checks the two-pass variance
          const x = randomRows(dim * 10 + rows, rows, dim, rows === 2 ? 100 : 0);
          const [gamma, beta] = randomRows(dim, 2, dim, 1, 1);
          const tg = putF32(rt, gamma);
          const tb = putF32(rt, beta);
          const [start, end] = range(rows);
          for (const withBeta of [true, false]) {
            const out = runNorm((px, py, s, e) => rt.kernels[`layerNorm${suffix}`](px, tg.offset, withBeta ? tb.offset : 0, py, dim, 1e-5, s, e), x, start, end);
            expectRows(out, x, start, end, (row) => layerNorm64(row, gamma, withBeta ? beta : null, 1e-5), `layerNorm${suffix} dim=${dim} rows=${rows} beta=${withBeta}`);
          }
          rt.free(tg);
          rt.free(tb);
        }
      }
    });

    it(`rmsNorm${suffix} matches float64 on awkward sizes`, () => {
      for (const dim of DIMS) {
        for (const rows of ROWS) {
          const x = randomRows(dim * 10 + rows + 5, rows, dim);
          const [gamma] = randomRows(dim + 1, 1, dim, 1, 1);
          const tg = putF32(rt, gamma);
          const [start, end] = range(rows);
          const out = runNorm((px, py, s, e) => rt.kernels[`rmsNorm${suffix}`](px, tg.offset, py, dim, 1e-6, s, e), x, start, end);
          expectRows(out, x, start, end, (row) => rmsNorm64(row, gamma, 1e-6), `rmsNorm${suffix} dim=${dim} rows=${rows}`);
          rt.free(tg);
        }
      }
    });

    it(`layerNorm${suffix} and rmsNorm${suffix} map an all-zero row to beta / zeros without NaN`, () => {
      const dim = 67;
      const x = [new Array<number>(dim).fill(0), new Array<number>(dim).fill(0)];
      const [gamma, beta] = randomRows(9, 2, dim, 1, 1);
      const tg = putF32(rt, gamma);
      const tb = putF32(rt, beta);
      const ln = runNorm((px, py, s, e) => rt.kernels[`layerNorm${suffix}`](px, tg.offset, tb.offset, py, dim, 1e-12, s, e), x, 0, 2);
      expect(ln[0]).toEqual(beta);
      // eps 0 as well: 0/√0 must not appear
      for (const eps of [1e-6, 0]) {
        const rms = runNorm((px, py, s, e) => rt.kernels[`rmsNorm${suffix}`](px, tg.offset, py, dim, eps, s, e), x, 0, 2);
        expect(rms[1].every((v) => v === 0), `rmsNorm eps=${eps}`).toBe(true);
      }
      const lnNoEps = runNorm((px, py, s, e) => rt.kernels[`layerNorm${suffix}`](px, tg.offset, tb.offset, py, dim, 0, s, e), [new Array<number>(dim).fill(3)], 0, 1);
      expect(lnNoEps[0]).toEqual(beta);
      rt.free(tg);
      rt.free(tb);
    });
  }
});

describe('softmax', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });

  /** softmax over rows [start, end) of x (+ bias); untouched rows must keep SENTINEL. */
  const runSoftmax = (name: 'softmax' | 'softmax_ref', x: number[][], bias: number[][] | null, start: number, end: number) => {
    const cols = x[0].length;
    const tx = putF32(rt, x.flat());
    const tb = bias ? putF32(rt, bias.flat()) : null;
    const ty = putF32(rt, new Array<number>(x.length * cols).fill(SENTINEL));
    rt.kernels[name](tx.offset, tb ? tb.offset : 0, ty.offset, cols, start, end);
    const out = getF32(rt, ty);
    for (const t of [tx, tb, ty]) if (t) rt.free(t);
    return Array.from({ length: x.length }, (_, r) => Array.from(out.subarray(r * cols, (r + 1) * cols)));
  };

  // Each probability is exp(x − max) (~1 ulp) times 1/Σ (the sum is f64, then two roundings), but x − max is itself
  // rounded to f32, which moves it by up to |x − max|·6e-8: for these logits (spread ≤ 20) that is 1.2e-6, so 2e-6
  // relative. Probabilities below 1e-30 are checked only absolutely: exp may underflow to a denormal.
  const check = (out: number[], want: number[], what: string) => expectRelative(out, want, 2e-6, 1e-30, what);

  for (const name of ['softmax', 'softmax_ref'] as const) {
    it(`${name} matches float64 on awkward sizes, with and without bias, rows [start, end) only`, () => {
      for (const cols of DIMS) {
        for (const rows of ROWS) {
          const x = randomRows(cols * 7 + rows, rows, cols, 0, 20);
          const bias = randomRows(cols * 7 + rows + 1, rows, cols, 0, 6);
          if (cols > 2) bias[0][1] = -Infinity; // a masked entry
          const [start, end] = range(rows);
          for (const b of [null, bias]) {
            const out = runSoftmax(name, x, b, start, end);
            for (let r = 0; r < rows; r++) {
              const what = `${name} cols=${cols} rows=${rows} bias=${!!b} row ${r}`;
              if (r < start || r >= end) expect(out[r].every((v) => v === SENTINEL), `${what} was written`).toBe(true);
              else check(out[r], softmax64(x[r].map((v, i) => v + (b ? b[r][i] : 0))), what);
            }
          }
        }
      }
    });

    it(`${name} handles ±1e4 logits, -inf entries and all -inf rows`, () => {
      const cols = 33;
      const rand = seededRandom(11);
      const big = Array.from({ length: cols }, () => (rand() < 0.5 ? 1e4 : -1e4) + Math.fround(rand()));
      const masked = Array.from({ length: cols }, (_, i) => (i % 3 === 0 ? -Infinity : Math.fround(rand() * 5)));
      const allMasked = new Array<number>(cols).fill(-Infinity);
      const out = runSoftmax(name, [big, masked, allMasked], null, 0, 3);
      check(out[0], softmax64(big.map(Math.fround)), `${name} ±1e4`);
      check(out[1], softmax64(masked), `${name} -inf entries`);
      expect(out[1].filter((_, i) => i % 3 === 0).every((v) => v === 0), 'masked entries are exactly 0').toBe(true);
      expect(out[2].every((v) => v === 0), 'an all -inf row gives zeros').toBe(true);
      // a row masked entirely through the bias
      const viaBias = runSoftmax(name, [masked], [allMasked], 0, 1);
      expect(viaBias[0].every((v) => v === 0), 'a row masked by its bias gives zeros').toBe(true);
    });
  }

  it('softmax works in place (x = y)', () => {
    const x = randomRows(5, 2, 67, 0, 10);
    const t = putF32(rt, x.flat());
    rt.kernels.softmax(t.offset, 0, t.offset, 67, 0, 2);
    const out = getF32(rt, t);
    check(Array.from(out.subarray(67)), softmax64(x[1]), 'in-place row 1');
    rt.free(t);
  });
});
