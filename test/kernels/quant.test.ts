// Dequantization of every quantized type against ggml's own (dequant-reference.gguf, bit for bit). For the
// 32-element types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL; the K-quants' kernels are in kquants.test.ts):
// quantization against ggml's bytes (quant-vectors.gguf), the activation quantizer against the scalar quantizer, and every integer matmul against its _ref on awkward sizes (bit for bit:
// the integer dots are exact and the SIMD kernels add the per-block f32 terms in the _ref's order), plus the _ref
// against an independent float64 evaluation of the same quantized numbers.
import { beforeAll, describe, expect, it } from 'vitest';
import { openGguf } from '../../src/files/local.js';
import type { GgufFile } from '../../src/formats/gguf.js';
import { f16ToF32 } from '../../src/formats/weights.js';
import { arrangeQuantized } from '../../src/runtime/layout.js';
import { actRowBytes, QUANT_TYPES, quantStorageBytes, type QuantType } from '../../src/runtime/quant.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { dataPath, describeData } from '../helpers/data.js';
import { ggufTensorBytes, putBytes, seededRandom } from './util.js';

const TYPES32: QuantType[] = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'IQ4_NL'];
const IQ4_LEVELS = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});


describeData('ggml quant vectors (every quantized type weft runs)', () => {
  let vectors: GgufFile;
  let reference: GgufFile;
  beforeAll(async () => {
    vectors = await openGguf(dataPath('ggml-quant-vectors/quant-vectors.gguf'));
    reference = await openGguf(dataPath('ggml-quant-vectors/dequant-reference.gguf'));
  });

  for (const type of Object.keys(QUANT_TYPES) as QuantType[]) {
    it(`dequantizes ${type} bit for bit as ggml's to_float`, async () => {
      const name = type.toLowerCase();
      const src = putBytes(rt, await ggufTensorBytes(vectors, name));
      const dst = rt.heap.alloc(4096 * 4);
      QUANT_TYPES[type].dequantRow(rt.kernels)(src, dst, 4096);
      const got = new Uint32Array(rt.memory.buffer.slice(dst, dst + 4096 * 4));
      const want = new Uint32Array((await ggufTensorBytes(reference, name)).slice().buffer);
      let mismatches = 0;
      let first = -1;
      for (let i = 0; i < 4096; i++) {
        if (got[i] !== want[i]) {
          mismatches++;
          if (first < 0) first = i;
        }
      }
      expect(mismatches, `${type}: ${mismatches} of 4096 differ, first at ${first}`).toBe(0);
      rt.heap.release(src);
      rt.heap.release(dst);
    });
  }

  for (const type of ['Q8_0', 'Q4_0', 'Q4_K'] as const) {
    it(`quantizes source_f32 to the file's own ${type} bytes`, async () => {
      const src = putBytes(rt, await ggufTensorBytes(vectors, 'source_f32'));
      const want = await ggufTensorBytes(vectors, type.toLowerCase());
      const dst = rt.heap.alloc(want.length);
      QUANT_TYPES[type].quantizeRow!(rt.kernels)(src, dst, 4096);
      const got = rt.u8.slice(dst, dst + want.length);
      const firstDiff = got.findIndex((v, i) => v !== want[i]);
      expect(firstDiff, `${type}: first differing byte`).toBe(-1);
      rt.heap.release(src);
      rt.heap.release(dst);
    });
  }
});

/** Random f32 rows with varied magnitudes per block, zeros, ties at .5 and an all-zero block. */
function randomRows(rows: number, inF: number, next: () => number): Float32Array {
  const x = new Float32Array(rows * inF);
  for (let i = 0; i < x.length; i++) {
    const block = Math.floor(i / 32);
    const scale = 2 ** ((block % 7) - 3);
    x[i] = block % 11 === 5 ? 0 : (next() * 2 - 1) * scale;
  }
  // exact halves after scaling by 127/amax: a block of 127 and k + 0.5
  if (x.length >= 64) {
    x[32] = 127;
    for (let k = 1; k < 32; k++) x[32 + k] = (k % 2 ? -1 : 1) * (k + 0.5);
  }
  return x;
}

/** Activation rows of x quantized by quantizeActQ8_0, read back: qs, d, sum per block. */
function quantizeAct(x: Float32Array, rows: number, inF: number): { at: number; qs: Int16Array; d: Float32Array; sum: Int32Array } {
  const xAt = putBytes(rt, new Uint8Array(x.buffer));
  const stride = actRowBytes('Q8_0', inF);
  const at = rt.heap.alloc(stride * rows);
  rt.kernels.quantizeActQ8_0(xAt, at, inF, 0, rows);
  rt.heap.release(xAt);
  const nb = inF / 32;
  const qs = new Int16Array(rows * inF);
  const d = new Float32Array(rows * nb);
  const sum = new Int32Array(rows * nb);
  for (let r = 0; r < rows; r++) {
    const row = at + r * stride;
    qs.set(new Int16Array(rt.memory.buffer, row, inF), r * inF);
    d.set(new Float32Array(rt.memory.buffer, row + nb * 64, nb), r * nb);
    sum.set(new Int32Array(rt.memory.buffer, row + nb * 68, nb), r * nb);
  }
  return { at, qs, d, sum };
}

describe('Q8_0 activation quantization', () => {
  it('gives the numbers of the scalar ggml quantizer (quantizeRowQ8_0_ref), and Σq per block', () => {
    const rows = 3, inF = 320;
    const x = randomRows(rows, inF, seededRandom(7));
    const act = quantizeAct(x, rows, inF);
    const src = putBytes(rt, new Uint8Array(x.buffer));
    const blocks = rt.heap.alloc(rows * inF / 32 * 34);
    rt.kernels.quantizeRowQ8_0_ref(src, blocks, rows * inF);
    const ref = rt.u8.slice(blocks, blocks + rows * inF / 32 * 34);
    for (let b = 0; b < rows * inF / 32; b++) {
      const d = f16ToF32(ref[b * 34] | (ref[b * 34 + 1] << 8));
      expect(act.d[b], `block ${b} d`).toBe(d);
      const qs = new Int8Array(ref.buffer, b * 34 + 2, 32);
      expect([...act.qs.subarray(b * 32, b * 32 + 32)], `block ${b} qs`).toEqual([...qs]);
      expect(act.sum[b], `block ${b} sum`).toBe(qs.reduce((a, v) => a + v, 0));
    }
    // the tie block: 127/127 scale 1, k + 0.5 rounds away from zero
    expect(act.qs[33]).toBe(-2);
    expect(act.qs[34]).toBe(3);
    rt.heap.release(src);
    rt.heap.release(blocks);
    rt.heap.release(act.at);
  });
});

// ---- matmul ------------------------------------------------------------------------------------------------------

const BLOCK_BYTES: Record<string, number> = { Q8_0: 34, Q4_0: 18, Q4_1: 20, Q5_0: 22, Q5_1: 24, IQ4_NL: 18 };

/** f16 bits of a random scale: mostly normal 2^-10..2^-2 of both signs, some zeros and subnormals. */
function randomHalf(next: () => number): number {
  const u = next();
  if (u < 0.03) return 0;
  if (u < 0.08) return Math.floor(next() * 1024) | (next() < 0.5 ? 0x8000 : 0); // subnormal
  return ((5 + Math.floor(next() * 9)) << 10) | Math.floor(next() * 1024) | (next() < 0.5 ? 0x8000 : 0);
}

/** Random blocks of a type: random scale/min halves and random quant bytes. */
function randomBlocks(type: QuantType, nBlocks: number, next: () => number): Uint8Array {
  const size = BLOCK_BYTES[type];
  const out = new Uint8Array(nBlocks * size);
  for (let b = 0; b < nBlocks; b++) {
    for (let i = 0; i < size; i++) out[b * size + i] = Math.floor(next() * 256);
    const d = randomHalf(next);
    out[b * size] = d & 0xff;
    out[b * size + 1] = d >> 8;
    if (type === 'Q4_1' || type === 'Q5_1') {
      const m = randomHalf(next);
      out[b * size + 2] = m & 0xff;
      out[b * size + 3] = m >> 8;
    }
  }
  return out;
}

/** Block value k of a type as (d, integer q, m): value = d·q + m. Written from ggml's block definitions. */
function decodeBlock(type: QuantType, blk: Uint8Array): { d: number; m: number; q: number[] } {
  const d = f16ToF32(blk[0] | (blk[1] << 8));
  const hasMin = type === 'Q4_1' || type === 'Q5_1';
  const m = hasMin ? f16ToF32(blk[2] | (blk[3] << 8)) : 0;
  if (type === 'Q8_0') return { d, m, q: [...new Int8Array(blk.buffer, blk.byteOffset + 2, 32)] };
  const qsAt = { Q4_0: 2, Q4_1: 4, Q5_0: 6, Q5_1: 8, IQ4_NL: 2 }[type as string]!;
  const qh = type === 'Q5_0' ? blk[2] | (blk[3] << 8) | (blk[4] << 16) | (blk[5] << 24) : type === 'Q5_1' ? blk[4] | (blk[5] << 8) | (blk[6] << 16) | (blk[7] << 24) : 0;
  const q: number[] = [];
  for (let k = 0; k < 32; k++) {
    let v = k < 16 ? blk[qsAt + k] & 15 : blk[qsAt + k - 16] >> 4;
    if (type === 'Q5_0' || type === 'Q5_1') v |= ((qh >>> k) & 1) << 4;
    if (type === 'IQ4_NL') v = IQ4_LEVELS[v];
    if (type === 'Q4_0') v -= 8;
    if (type === 'Q5_0') v -= 16;
    q.push(v);
  }
  return { d, m, q };
}

describe('32-element quant matmuls', () => {
  // rows: decode (1), the 4-row prefill path and its leftovers; outF not a multiple of 4; inF = 32 (one block) to
  // 736 (23 blocks, not a multiple of 256); sub-ranges [start, end) not aligned to 4.
  const shapes = [
    { rows: 1, inF: 32, outF: 1 },
    { rows: 1, inF: 736, outF: 13 },
    { rows: 3, inF: 96, outF: 7 },
    { rows: 4, inF: 64, outF: 4 },
    { rows: 17, inF: 160, outF: 9 },
  ];
  for (const type of TYPES32) {
    it(`linear${type} equals linear${type}_ref bit for bit, and the _ref the float64 sum of the quantized numbers`, () => {
      const next = seededRandom(1000 + QUANT_TYPES[type].id);
      const info = QUANT_TYPES[type];
      for (const { rows, inF, outF } of shapes) {
        const nb = inF / 32;
        const wBytes = randomBlocks(type, outF * nb, next);
        // the kernels read the rows interleaved by four, as loading arranges them
        const weight = rt.alloc(type, [outF, inF], 'blocks', quantStorageBytes(type, outF, inF));
        rt.u8.set(wBytes, weight.offset);
        arrangeQuantized(rt, weight);
        const w = weight.offset;
        const scratch = rt.heap.alloc(info.scratchBytes(inF));
        const x = randomRows(rows, inF, next);
        const act = quantizeAct(x, rows, inF);
        const bias = Float32Array.from({ length: outF }, () => next() - 0.5);
        const b = putBytes(rt, new Uint8Array(bias.buffer));
        const y = rt.heap.alloc(rows * outF * 4);
        const yRef = rt.heap.alloc(rows * outF * 4);
        for (const withBias of [true, false]) {
          for (const [start, end] of [[0, outF], [1, outF], [Math.floor(outF / 2), outF], [1, Math.max(1, outF - 1)]]) {
            rt.f32.fill(NaN, y / 4, y / 4 + rows * outF);
            rt.f32.fill(NaN, yRef / 4, yRef / 4 + rows * outF);
            info.linear(rt.kernels)(act.at, w, withBias ? b : 0, y, rows, inF, outF, scratch, start, end);
            info.linearRef(rt.kernels)(act.at, w, withBias ? b : 0, yRef, rows, inF, outF, scratch, start, end);
            const got = new Uint32Array(rt.memory.buffer.slice(y, y + rows * outF * 4));
            const want = new Uint32Array(rt.memory.buffer.slice(yRef, yRef + rows * outF * 4));
            for (let r = 0; r < rows; r++) {
              for (let o = 0; o < outF; o++) {
                const i = r * outF + o;
                if (o < start || o >= end) {
                  expect(Number.isNaN(new Float32Array(got.buffer)[i]), `${type} [${rows},${inF},${outF}] wrote outside [${start},${end}) at ${r},${o}`).toBe(true);
                  continue;
                }
                expect(got[i], `${type} [${rows},${inF},${outF}] range [${start},${end}) bias ${withBias} y[${r},${o}]`).toBe(want[i]);
              }
            }
          }
        }
        // the _ref against float64: Σ blocks dw·dx·Σ q·qx + m·dx·Σqx (+ b); tolerance: f32 rounding of each
        // block's term (up to 4 roundings) and of the running sum: 2^-24·(4·nb + 1) of Σ|terms|.
        info.linearRef(rt.kernels)(act.at, w, b, yRef, rows, inF, outF, scratch, 0, outF);
        const ref = new Float32Array(rt.memory.buffer.slice(yRef, yRef + rows * outF * 4));
        for (let r = 0; r < rows; r++) {
          for (let o = 0; o < outF; o++) {
            let sum = bias[o];
            let magnitude = Math.abs(bias[o]);
            for (let j = 0; j < nb; j++) {
              const blk = decodeBlock(type, wBytes.subarray((o * nb + j) * BLOCK_BYTES[type], (o * nb + j + 1) * BLOCK_BYTES[type]));
              let dot = 0;
              let sx = 0;
              for (let k = 0; k < 32; k++) {
                dot += blk.q[k] * act.qs[r * inF + j * 32 + k];
                sx += act.qs[r * inF + j * 32 + k];
              }
              const dx = act.d[r * nb + j];
              const term = blk.d * dx * dot + blk.m * dx * sx;
              sum += term;
              magnitude += Math.abs(term);
            }
            expect(Math.abs(ref[r * outF + o] - sum), `${type} ref y[${r},${o}]`).toBeLessThanOrEqual(2 ** -24 * (4 * nb + 1) * magnitude);
          }
        }
        // every row read back from the interleaved weight is the file's row
        const rowBytes = nb * BLOCK_BYTES[type];
        const plain = rt.heap.alloc(rowBytes);
        for (let o = 0; o < outF; o++) {
          rt.kernels.plainRowOf4(w, o, nb, QUANT_TYPES[type].id, plain);
          expect(rt.u8.slice(plain, plain + rowBytes), `${type} [${outF}, ${inF}] row ${o} read back from the interleaved weight`).toEqual(wBytes.slice(o * rowBytes, (o + 1) * rowBytes));
        }
        rt.free(weight);
        for (const p of [b, y, yRef, act.at, scratch, plain]) rt.heap.release(p);
      }
    });
  }
});
