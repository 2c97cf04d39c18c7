// The K-quants (Q2_K … Q6_K) and IQ4_XS: the Q8_K activation quantizer against its scalar twin and against an
// independent transcription of ggml's quantize_row_q8_K_ref, and every integer matmul against its _ref on awkward
// sizes (bit for bit: the integer sums are exact and both add the per-block f32 terms in the same order), plus each
// _ref against a float64 evaluation of the same quantized numbers. Dequantization (bit for bit against ggml's
// dequant-reference.gguf) and the Q4_K quantizer (ggml's bytes) are checked with every type in quant.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { actRowBytes, QUANT_TYPES, type QuantType } from '../../src/runtime/quant.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { putBytes, seededRandom } from './util.js';

const KTYPES: QuantType[] = ['Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_XS'];
/** Byte offset of the f16 d in each block, and of dmin where there is one (the fields random bytes must not fill). */
const SCALE_FIELDS: Record<string, number[]> = { Q2_K: [80, 82], Q3_K: [108], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208], IQ4_XS: [0] };

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});

function put(bytes: Uint8Array): number {
  return putBytes(rt, bytes);
}

function f32At(at: number, n: number): Float32Array {
  return new Float32Array(rt.memory.buffer.slice(at, at + n * 4));
}

// ---- Q8_K activations ------------------------------------------------------------------------------------------

/** Rows of f32 with magnitudes varying per block, an all-zero block, a ±max tie and values at exact .5 steps. */
function activations(rows: number, inF: number, seed: number): Float32Array {
  const next = seededRandom(seed);
  const x = new Float32Array(rows * inF);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < inF / 256; b++) {
      const at = r * inF + b * 256;
      const kind = (r + b) % 4;
      const scale = 10 ** (next() * 6 - 3);
      for (let k = 0; k < 256; k++) x[at + k] = kind === 0 ? 0 : (next() * 2 - 1) * scale;
      if (kind === 2) {
        // the largest magnitude twice, negative first: ggml keeps the first, so q = +127 there and −127 later
        x[at + 17] = -2 * scale;
        x[at + 200] = 2 * scale;
      }
      if (kind === 3) for (let k = 0; k < 256; k += 8) x[at + k] = ((k % 254) - 127) / 127 * scale; // ties after scaling
    }
  }
  return x;
}

/** ggml's quantize_row_q8_K_ref, transcribed in JS with Math.fround: [qs, d, bsums] per block. */
function q8KExpected(x: Float32Array, inF: number, row: number): { qs: Int8Array; d: Float32Array; bsums: Int16Array } {
  const nb = inF / 256;
  const qs = new Int8Array(inF);
  const d = new Float32Array(nb);
  const bsums = new Int16Array(nb * 16);
  const f = Math.fround;
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    let max = 0;
    for (let k = 0; k < 256; k++) {
      const v = x[row * inF + b * 256 + k];
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    if (amax === 0) continue;
    const iscale = f(-127 / max);
    for (let k = 0; k < 256; k++) {
      const v = f(iscale * x[row * inF + b * 256 + k]);
      // nearest_int: round half to even
      let q = Math.round(v);
      if (Math.abs(v - Math.trunc(v)) === 0.5) q = 2 * Math.round(v / 2);
      qs[b * 256 + k] = Math.min(127, q);
      bsums[b * 16 + (k >> 4)] += qs[b * 256 + k];
    }
    d[b] = f(1 / iscale);
  }
  return { qs, d, bsums };
}

describe('quantizeActQ8_K', () => {
  for (const inF of [256, 768]) {
    it(`equals ggml's quantize_row_q8_K_ref and its scalar twin (inF ${inF})`, () => {
      const rows = 5;
      const x = activations(rows, inF, inF);
      const stride = actRowBytes('Q8_K', inF);
      const px = put(new Uint8Array(x.buffer));
      const simd = rt.heap.alloc(rows * stride);
      const ref = rt.heap.alloc(rows * stride);
      rt.u8.fill(0xaa, simd, simd + rows * stride);
      rt.u8.fill(0x55, ref, ref + rows * stride);
      rt.kernels.quantizeActQ8_K(px, simd, inF, 0, 2);
      rt.kernels.quantizeActQ8_K(px, simd, inF, 2, rows);
      rt.kernels.quantizeActQ8_K_ref(px, ref, inF, 0, rows);
      const nb = inF / 256;
      for (let r = 0; r < rows; r++) {
        const at = simd + r * stride;
        const want = q8KExpected(x, inF, r);
        expect(new Int8Array(rt.memory.buffer.slice(at, at + inF)), `row ${r} qs`).toEqual(want.qs);
        expect(new Float32Array(rt.memory.buffer.slice(at + nb * 256, at + nb * 260)), `row ${r} d`).toEqual(want.d);
        expect(new Int16Array(rt.memory.buffer.slice(at + nb * 260, at + nb * 292)), `row ${r} bsums`).toEqual(want.bsums);
        const used = nb * 292;
        expect(rt.u8.slice(at, at + used), `row ${r}: SIMD vs _ref`).toEqual(rt.u8.slice(ref + r * stride, ref + r * stride + used));
      }
      for (const p of [px, simd, ref]) rt.heap.release(p);
    });
  }
});

// ---- the matmuls -------------------------------------------------------------------------------------------------

/** f16 bits of a positive value (for scales: normal halves, exactly representable). */
function f16Bits(v: number): number {
  const e = Math.floor(Math.log2(v));
  const m = Math.round((v / 2 ** e - 1) * 1024);
  return ((e + 15) << 10) | Math.min(m, 1023);
}

/** Random blocks: every quant and scale bit random, d and dmin set to sensible f16 scales. */
function randomBlocks(type: QuantType, rows: number, inF: number, seed: number): Uint8Array {
  const q = QUANT_TYPES[type];
  const next = seededRandom(seed);
  const blocks = (rows * inF) / 256;
  const bytes = new Uint8Array(blocks * q.typeSize);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
  const view = new DataView(bytes.buffer);
  for (let b = 0; b < blocks; b++) {
    for (const at of SCALE_FIELDS[type]) view.setUint16(b * q.typeSize + at, f16Bits(2 ** -(4 + next() * 8)), true);
  }
  return bytes;
}

describe('K-quant matmuls', () => {
  const cases: Array<[number, number, number]> = [
    [1, 256, 1],
    [1, 768, 7],
    [3, 256, 5],
    [4, 768, 3],
    [17, 256, 9],
    [17, 768, 1],
  ];
  for (const type of KTYPES) {
    for (const [rows, inF, outF] of cases) {
      it(`${type} SIMD equals _ref bit for bit, rows ${rows}, inF ${inF}, outF ${outF}, and _ref matches float64`, () => {
        const seed = rows * 1000 + inF + outF;
        const w = put(randomBlocks(type, outF, inF, seed));
        const x = activations(rows, inF, seed + 1);
        const px = put(new Uint8Array(x.buffer));
        const stride = actRowBytes('Q8_K', inF);
        const xq = rt.heap.alloc(rows * stride);
        rt.kernels.quantizeActQ8_K(px, xq, inF, 0, rows);
        const bias = Float32Array.from({ length: outF }, (_, i) => (i % 3) - 1.5);
        const pb = put(new Uint8Array(bias.buffer));
        const yS = rt.heap.alloc(rows * outF * 4);
        const yR = rt.heap.alloc(rows * outF * 4);
        const q = QUANT_TYPES[type];
        for (const b of [0, pb]) {
          // SIMD over two ranges that split the outputs unevenly; _ref in one call
          const cut = Math.floor(outF / 2);
          q.linear(rt.kernels)(xq, w, b, yS, rows, inF, outF, 0, cut);
          q.linear(rt.kernels)(xq, w, b, yS, rows, inF, outF, cut, outF);
          q.linearRef(rt.kernels)(xq, w, b, yR, rows, inF, outF, 0, outF);
          const s = new Uint32Array(rt.memory.buffer.slice(yS, yS + rows * outF * 4));
          const r = new Uint32Array(rt.memory.buffer.slice(yR, yR + rows * outF * 4));
          const first = s.findIndex((v, i) => v !== r[i]);
          expect(first, `${type} bias ${b ? 'yes' : 'no'}: first output differing from _ref (${f32At(yS, rows * outF)[first]} vs ${f32At(yR, rows * outF)[first]})`).toBe(-1);
        }
        // _ref against float64: Σ dequant(w)·(dx·q) + b over the same quantized numbers, with an f32 rounding bound
        const deq = rt.heap.alloc(outF * inF * 4);
        q.dequantRow(rt.kernels)(w, deq, outF * inF);
        const wf = f32At(deq, outF * inF);
        const nb = inF / 256;
        const got = f32At(yR, rows * outF);
        for (let r = 0; r < rows; r++) {
          const at = xq + r * stride;
          const qs = new Int8Array(rt.memory.buffer.slice(at, at + inF));
          const dx = new Float32Array(rt.memory.buffer.slice(at + nb * 256, at + nb * 260));
          for (let o = 0; o < outF; o++) {
            let sum = bias[o];
            let mag = Math.abs(bias[o]);
            for (let k = 0; k < inF; k++) {
              const t = wf[o * inF + k] * dx[k >> 8] * qs[k];
              sum += t;
              mag += Math.abs(t);
            }
            // dequant(w) rounds d·scale·w − dmin·min once more than the integer path; both within ~4 ulps per term
            expect(Math.abs(got[r * outF + o] - sum), `${type} row ${r} out ${o}`).toBeLessThanOrEqual(mag * 2 ** -20 + 1e-30);
          }
        }
        for (const p of [w, px, xq, pb, yS, yR, deq]) rt.heap.release(p);
      });
    }
  }
});
