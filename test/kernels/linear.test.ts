import { beforeAll, describe, expect, it } from 'vitest';
import { WeftError } from '../../src/errors.js';
import { DTYPE_CODE } from '../../src/runtime/kernels.js';
import { gatherRows, linear, packedLinearBytes, packLinearWeight, type WeightDType } from '../../src/runtime/layout.js';
import { Runtime } from '../../src/runtime/runtime.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import { seededRandom } from './util.js';

// ---- independent decoders and data ---------------------------------------------------------------------------

/** f16 bits → number, from the IEEE 754 definition (the oracle for the kernels' integer-op conversion). */
function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bf16 bits → number: the high half of an f32. */
function decodeBF16(h: number): number {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0];
}

/** A weight [outF×inF] of dtype: its plain little-endian bytes and its values as numbers. */
interface Weight {
  bytes: Uint8Array;
  values: Float64Array;
}

/**
 * Random weights of magnitude ~2^-6..2 with both signs; the 16-bit ones are random bit patterns in that range, and
 * for f16 one in 16 is a subnormal, so the streamed conversion is exercised on them too.
 */
function randomWeight(n: number, dtype: WeightDType, next: () => number): Weight {
  const values = new Float64Array(n);
  if (dtype === 'f32') {
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      f[i] = next() * 2 - 1;
      values[i] = f[i];
    }
    return { bytes: new Uint8Array(f.buffer), values };
  }
  const bits = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const sign = next() < 0.5 ? 0x8000 : 0;
    if (dtype === 'f16') {
      const exponent = next() < 1 / 16 ? 0 : 9 + Math.floor(next() * 7); // 2^-6 .. 2^0 × (1.m)
      bits[i] = sign | (exponent << 10) | Math.floor(next() * 1024);
      values[i] = decodeF16(bits[i]);
    } else {
      bits[i] = sign | ((121 + Math.floor(next() * 7)) << 7) | Math.floor(next() * 128);
      values[i] = decodeBF16(bits[i]);
    }
  }
  return { bytes: new Uint8Array(bits.buffer), values };
}

function randomF32(n: number, next: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = next() * 2 - 1;
  return a;
}

/**
 * y = x·Wᵀ + b in float64, with the bound on the f32 error of any summation order: each output is a sum of inF
 * products plus the bias, and for n = inF + 1 terms every f32 evaluation order (sequential, blocked, pairwise,
 * with or without fused multiply-add) stays within γ_n · (Σ|x·w| + |b|), γ_n = n·u/(1−n·u), u = 2^-24
 * (Higham, Accuracy and Stability of Numerical Algorithms, §3.1). The kernels and the reference sum in different
 * orders, so each is held to that bound against float64 and the two to twice it against each other.
 */
function expected(x: Float32Array, w: Float64Array, b: Float32Array | null, rows: number, inF: number, outF: number) {
  const value = new Float64Array(rows * outF);
  const bound = new Float64Array(rows * outF);
  const n = inF + 1;
  const gamma = (n * 2 ** -24) / (1 - n * 2 ** -24);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let sum = b ? b[o] : 0;
      let magnitude = b ? Math.abs(b[o]) : 0;
      for (let k = 0; k < inF; k++) {
        const p = x[r * inF + k] * w[o * inF + k];
        sum += p;
        magnitude += Math.abs(p);
      }
      value[r * outF + o] = sum;
      bound[r * outF + o] = gamma * magnitude;
    }
  }
  return { value, bound };
}

function expectWithin(actual: Float32Array, want: Float64Array, bound: Float64Array, scale: number, what: string) {
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(actual[i] - want[i]);
    if (!(err <= scale * bound[i])) throw new Error(`${what}: element ${i} is ${actual[i]}, want ${want[i]} ± ${scale * bound[i]}`);
  }
}

// ---- the tests -------------------------------------------------------------------------------------------------

const DTYPES: WeightDType[] = ['f32', 'f16', 'bf16'];
const PACKED = { f32: 'linearF32', f16: 'linearF16', bf16: 'linearBF16' } as const;
const REFERENCE = { f32: 'linearF32_ref', f16: 'linearF16_ref', bf16: 'linearBF16_ref' } as const;

describe('linear kernels', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });

  function f32Tensor(data: Float32Array, shape: number[]): Tensor {
    const t = rt.alloc('f32', shape);
    rt.write(t, data);
    return t;
  }

  /** Runs the packed kernel (through `linear`) and the reference on the same data; checks both against float64. */
  function checkShape(dtype: WeightDType, rows: number, inF: number, outF: number, withBias: boolean, seed: number) {
    const next = seededRandom(seed);
    const xData = randomF32(rows * inF, next);
    const weight = randomWeight(outF * inF, dtype, next);
    const bData = withBias ? randomF32(outF, next) : null;
    const x = f32Tensor(xData, [rows, inF]);
    const b = bData ? f32Tensor(bData, [outF]) : null;
    const packed = packLinearWeight(rt, weight.bytes, outF, inF, dtype);
    const plain = rt.alloc(dtype, [outF, inF]);
    rt.write(plain, weight.bytes);
    const y = rt.alloc('f32', [rows, outF]);
    const yRef = rt.alloc('f32', [rows, outF]);

    linear(rt, x, packed, b, y);
    rt.kernels[REFERENCE[dtype]](x.offset, plain.offset, b ? b.offset : 0, yRef.offset, rows, inF, outF, 0, outF);

    const { value, bound } = expected(xData, weight.values, bData, rows, inF, outF);
    const what = `${dtype} ${rows}×${inF}×${outF}${withBias ? ' + bias' : ''}`;
    const got = rt.readF32(y);
    const gotRef = rt.readF32(yRef);
    expectWithin(got, value, bound, 1, `${what} packed vs float64`);
    expectWithin(gotRef, value, bound, 1, `${what} reference vs float64`);
    expectWithin(got, Float64Array.from(gotRef), bound, 2, `${what} packed vs reference`);
    for (const t of [x, packed, plain, y, yRef, ...(b ? [b] : [])]) rt.free(t);
  }

  for (const dtype of DTYPES) {
    it(`${dtype}: packed and reference agree with float64 on awkward shapes, with and without bias`, () => {
      let seed = 1;
      for (const rows of [1, 2, 3, 5, 7, 13])
        for (const inF of [1, 3, 5, 8, 17, 33, 67])
          for (const outF of [1, 3, 5, 17, 67]) checkShape(dtype, rows, inF, outF, (rows + inF + outF) % 2 === 0, seed++);
    });

    it(`${dtype}: a prefill-like shape (64 rows × 576 in × 36 out) and a matvec over 1000 inputs`, () => {
      checkShape(dtype, 64, 576, 36, true, 101);
      checkShape(dtype, 1, 1000, 37, false, 102);
    });

    it(`${dtype}: a range [start, end) writes exactly its outputs, the same bits as the whole call`, () => {
      const [rows, inF, outF] = [3, 19, 67];
      const next = seededRandom(7);
      const x = f32Tensor(randomF32(rows * inF, next), [rows, inF]);
      const b = f32Tensor(randomF32(outF, next), [outF]);
      const w = packLinearWeight(rt, randomWeight(outF * inF, dtype, next).bytes, outF, inF, dtype);
      const whole = rt.alloc('f32', [rows, outF]);
      linear(rt, x, w, b, whole);
      const wholeValues = rt.readF32(whole);
      const part = rt.alloc('f32', [rows, outF]);
      // 1, 8, 9, 1, 0, 6 and 7 blocks: every mix of the four-block matvec, the leftover pair and the single block
      for (const [start, end] of [[0, 4], [4, 33], [32, 67], [64, 67], [8, 8], [0, 24], [12, 40]]) {
        const sentinel = 1234.5;
        rt.f32View(part).fill(sentinel);
        rt.kernels[PACKED[dtype]](x.offset, w.offset, b.offset, part.offset, rows, inF, outF, start, end);
        const got = rt.readF32(part);
        for (let r = 0; r < rows; r++)
          for (let o = 0; o < outF; o++) {
            const i = r * outF + o;
            expect(got[i], `[${start}, ${end}) row ${r} out ${o}`).toBe(o >= start && o < end ? wholeValues[i] : sentinel);
          }
      }
      for (const t of [x, b, w, whole, part]) rt.free(t);
    });
  }

  it('reference kernels honour a range too', () => {
    const [rows, inF, outF] = [2, 5, 9];
    const next = seededRandom(9);
    const x = f32Tensor(randomF32(rows * inF, next), [rows, inF]);
    const w = f32Tensor(randomF32(outF * inF, next), [outF, inF]);
    const y = f32Tensor(new Float32Array(rows * outF).fill(-7), [rows, outF]);
    rt.kernels.linearF32_ref(x.offset, w.offset, 0, y.offset, rows, inF, outF, 3, 6);
    const got = rt.readF32(y);
    for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) expect(got[r * outF + o] === -7).toBe(o < 3 || o >= 6);
    for (const t of [x, w, y]) rt.free(t);
  });

  it('packs into the documented byte positions (layout.ts) with zero padding', () => {
    // f32 [5 × 10]: 2 blocks (8 rows) × 2 groups (16 columns) × 4 bytes
    expect(packedLinearBytes(5, 10, 'f32')).toBe(8 * 16 * 4);
    expect(packedLinearBytes(4, 8, 'bf16')).toBe(4 * 8 * 2);
    expect(packedLinearBytes(1, 1, 'f16')).toBe(4 * 8 * 2);
    for (const dtype of DTYPES) {
      const [outF, inF] = [6, 11];
      const size = dtype === 'f32' ? 4 : 2;
      // element (o, k) holds the code o·16 + k + 1, so every position is identifiable and no weight is 0
      const codes = new Uint32Array(outF * inF).map((_, i) => Math.floor(i / inF) * 16 + (i % inF) + 1);
      const plain = size === 4 ? new Uint8Array(codes.buffer) : new Uint8Array(Uint16Array.from(codes).buffer);
      const w = packLinearWeight(rt, plain, outF, inF, dtype);
      expect(w.layout).toBe('packed');
      expect(w.shape).toEqual([outF, inF]);
      const bytes = packedLinearBytes(outF, inF, dtype);
      const stored = size === 4 ? new Uint32Array(rt.memory.buffer, w.offset, bytes / 4) : new Uint16Array(rt.memory.buffer, w.offset, bytes / 2);
      const groups = Math.ceil(inF / 8);
      const want = new Uint32Array(bytes / size); // zeros where the padding goes
      for (let o = 0; o < outF; o++)
        for (let k = 0; k < inF; k++) {
          want[(Math.floor(o / 4) * groups + Math.floor(k / 8)) * 32 + (o % 4) * 8 + (k % 8)] = o * 16 + k + 1;
        }
      expect(Array.from(stored), dtype).toEqual(Array.from(want));
      rt.free(w);
    }
  });

  it('converts every f16 bit pattern exactly (subnormals, ±0, ±inf, nan payloads), packed and plain', () => {
    checkAllPatterns('f16', (h) => new Float32Array([decodeF16(h)])[0], 0x7c00);
  });

  it('converts every bf16 bit pattern exactly, packed and plain', () => {
    checkAllPatterns('bf16', decodeBF16, 0x7f80);
  });

  /**
   * A table [4096 × 16] holding all 65536 patterns, gathered through the packed and plain paths: each output must
   * carry exactly the f32 bits of the definition (a nan must stay a nan with its payload: f32 bits = f16 payload
   * << 13, bf16 payload << 16).
   */
  function checkAllPatterns(dtype: 'f16' | 'bf16', decode: (h: number) => number, expMask: number) {
    const [vocab, dim] = [4096, 16];
    const bits = new Uint16Array(vocab * dim).map((_, i) => i);
    const want = new Uint32Array(bits.length);
    for (let i = 0; i < bits.length; i++) {
      const h = bits[i];
      if ((h & expMask) === expMask && (h & ~expMask & 0x7fff) !== 0) {
        want[i] = dtype === 'bf16' ? h << 16 : ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
      } else {
        want[i] = new Uint32Array(new Float32Array([decode(h)]).buffer)[0];
      }
    }
    const ids = rt.alloc('i32', [vocab]);
    new Int32Array(rt.memory.buffer, ids.offset, vocab).set(Int32Array.from({ length: vocab }, (_, i) => i));
    const packed = packLinearWeight(rt, new Uint8Array(bits.buffer), vocab, dim, dtype);
    const plain = rt.alloc(dtype, [vocab, dim]);
    rt.write(plain, bits);
    const out = rt.alloc('f32', [vocab, dim]);
    for (const table of [packed, plain]) {
      gatherRows(rt, table, ids, out);
      const got = new Uint32Array(rt.memory.buffer, out.offset, vocab * dim);
      for (let i = 0; i < want.length; i++) {
        if (got[i] !== want[i]) throw new Error(`${dtype} ${table.layout}: pattern 0x${i.toString(16)} gave 0x${got[i].toString(16)}, want 0x${want[i].toString(16)}`);
      }
    }
    for (const t of [ids, packed, plain, out]) rt.free(t);
  }

  it('propagates f16 inf and nan weights and treats -0 and subnormals as numbers in the linear kernels', () => {
    // 8 outputs, 3 inputs, every row of x = [1, 2, 0.5]; weight row o puts one special value at input 1
    const specials = [0x7c00, 0xfc00, 0x7e00, 0x7c01, 0x8000, 0x0001, 0x83ff, 0x0400];
    const inF = 3;
    const w = new Uint16Array(specials.length * inF);
    specials.forEach((h, o) => w.set([0x3c00, h, 0x3c00], o * inF)); // 1, special, 1
    const rows = 5; // the 4-row prefill tile and the matvec for the fifth row
    const x = f32Tensor(new Float32Array(rows * inF).map((_, i) => [1, 2, 0.5][i % inF]), [rows, inF]);
    const want = specials.map((h) => 1 + 2 * decodeF16(h) + 0.5);
    for (const [name, weight, kernel] of [
      ['packed', packLinearWeight(rt, new Uint8Array(w.buffer), specials.length, inF, 'f16'), 'linearF16'],
      ['plain', (() => { const t = rt.alloc('f16', [specials.length, inF]); rt.write(t, w); return t; })(), 'linearF16_ref'],
    ] as const) {
      const y = rt.alloc('f32', [rows, specials.length]);
      rt.kernels[kernel](x.offset, weight.offset, 0, y.offset, rows, inF, specials.length, 0, specials.length);
      const got = rt.readF32(y);
      // finite sums of three exact terms at these magnitudes are exact in f32; inf and nan must come through
      for (let r = 0; r < rows; r++) expect(Array.from(got.subarray(r * 8, r * 8 + 8)), name).toEqual(want.map(Math.fround));
      rt.free(weight);
      rt.free(y);
    }
    rt.free(x);
  });

  // ---- the folded f16 widening (linearF16Finite, assembly/linear.ts): x·2^112 times the f16 bits moved into f32
  // position. Its claim is exactness: the same products, the same sums, so the same bits as linearF16's exact
  // conversion, for every finite half, whenever every |x| < 2^16 (and the exact path otherwise).

  /** Every finite f16 pattern (63 490 of them: ±0, subnormals, normals), in a seeded random order. */
  function finiteF16Patterns(seed: number): Uint16Array {
    const all: number[] = [];
    for (let h = 0; h < 65536; h++) if ((h & 0x7c00) !== 0x7c00) all.push(h);
    const next = seededRandom(seed);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [all[i], all[j]] = [all[j], all[i]];
    }
    return Uint16Array.from(all);
  }

  /** linearF16Finite and linearF16 on the same packed weights and x: the outputs must be the same bits. */
  function expectFoldedSameBits(xData: Float32Array, bits: Uint16Array, rows: number, inF: number, outF: number, what: string) {
    const x = f32Tensor(xData, [rows, inF]);
    const w = packLinearWeight(rt, new Uint8Array(bits.buffer, bits.byteOffset, outF * inF * 2), outF, inF, 'f16');
    const [folded, exact] = [rt.alloc('f32', [rows, outF]), rt.alloc('f32', [rows, outF])];
    rt.kernels.linearF16Finite(x.offset, w.offset, 0, folded.offset, rows, inF, outF, 0, outF);
    rt.kernels.linearF16(x.offset, w.offset, 0, exact.offset, rows, inF, outF, 0, outF);
    const a = new Uint32Array(rt.memory.buffer, folded.offset, rows * outF);
    const b = new Uint32Array(rt.memory.buffer, exact.offset, rows * outF);
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) throw new Error(`${what}: output ${i} is 0x${a[i].toString(16)} folded, 0x${b[i].toString(16)} exact`);
    }
    for (const t of [x, w, folded, exact]) rt.free(t);
  }

  it('f16 folded widening: every finite pattern, one at a time, comes out as its exact value (x = identity rows)', () => {
    // Y = I·Wᵀ: y[r][o] = 1·W[o][r] + Σ 0·W[o][j], which is W[o][r] exactly (−0 becomes +0: the sums start at +0,
    // in the reference too). 17 rows: four prefill tiles and one matvec row; W [3735 × 17] holds all the patterns.
    const patterns = finiteF16Patterns(1);
    const [rows, inF] = [17, 17];
    const outF = Math.ceil(patterns.length / inF);
    const bits = new Uint16Array(outF * inF);
    bits.set(patterns);
    const x = f32Tensor(Float32Array.from({ length: rows * inF }, (_, i) => (Math.floor(i / inF) === i % inF ? 1 : 0)), [rows, inF]);
    const w = packLinearWeight(rt, new Uint8Array(bits.buffer), outF, inF, 'f16');
    const y = rt.alloc('f32', [rows, outF]);
    rt.kernels.linearF16Finite(x.offset, w.offset, 0, y.offset, rows, inF, outF, 0, outF);
    const got = rt.readF32(y);
    for (let o = 0; o < outF; o++)
      for (let r = 0; r < rows; r++) {
        const want = decodeF16(bits[o * inF + r]) + 0; // + 0 turns −0 into +0
        if (!Object.is(got[r * outF + o], want)) throw new Error(`pattern 0x${bits[o * inF + r].toString(16)}: got ${got[r * outF + o]}, want ${want}`);
      }
    for (const t of [x, w, y]) rt.free(t);
  });

  it('f16 folded widening: the same bits as the exact conversion on random sums over every finite pattern', () => {
    const patterns = finiteF16Patterns(2);
    const next = seededRandom(3);
    let seed = 0;
    // x of every magnitude the fold must keep exact: up to just below 2^16, down to f32 subnormals
    const magnitudes = [1, 60000, 1e-3, 1e-40, 65535.99609375];
    for (const [rows, inF, outF] of [[1, 1000, 67], [5, 576, 37], [13, 67, 17], [4, 8, 5]]) {
      const bits = Uint16Array.from({ length: outF * inF }, (_, i) => patterns[(i + 7919 * seed++) % patterns.length]);
      const xData = Float32Array.from({ length: rows * inF }, () => (next() * 2 - 1) * magnitudes[Math.floor(next() * magnitudes.length)]);
      expectFoldedSameBits(xData, bits, rows, inF, outF, `${rows}×${inF}×${outF}`);
    }
  });

  it('f16 folded widening: x with |x| ≥ 2^16, inf or nan takes the exact path (the same bits again)', () => {
    const patterns = finiteF16Patterns(4);
    const next = seededRandom(5);
    const [rows, inF, outF] = [6, 33, 19];
    const bits = patterns.slice(0, outF * inF);
    for (const special of [65536, -1e30, Infinity, NaN]) {
      const xData = Float32Array.from({ length: rows * inF }, () => next() * 2 - 1);
      xData[rows * inF - 3] = special; // one value, in the last (matvec) row
      expectFoldedSameBits(xData, bits, rows, inF, outF, `x holding ${special}`);
    }
  });

  it('linear() takes the folded path for finite f16 weights and the exact one for weights with inf or nan', () => {
    const inF = 3;
    const rows = 5;
    const x = f32Tensor(new Float32Array(rows * inF).map((_, i) => [1, 2, 0.5][i % inF]), [rows, inF]);
    // row 0 holds +inf: the whole matrix must go the exact way, or the inf would come out as 2 · 65536
    const w = packLinearWeight(rt, new Uint8Array(Uint16Array.from([0x3c00, 0x7c00, 0x3c00, 0x3c00, 0x4000, 0x3c00]).buffer), 2, inF, 'f16');
    const y = rt.alloc('f32', [rows, 2]);
    linear(rt, x, w, null, y);
    for (let r = 0; r < rows; r++) expect(Array.from(rt.readF32(y).subarray(2 * r, 2 * r + 2))).toEqual([Infinity, 5.5]);
    for (const t of [x, w, y]) rt.free(t);
  });

  it('gathers rows of f32/f16/bf16 tables, packed and plain, at awkward widths', () => {
    const next = seededRandom(11);
    for (const dtype of DTYPES)
      for (const [vocab, dim] of [[7, 3], [13, 67], [5, 8]]) {
        const table = randomWeight(vocab * dim, dtype, next);
        const idList = [vocab - 1, 0, 2, vocab - 1, 1];
        const ids = rt.alloc('i32', [idList.length]);
        new Int32Array(rt.memory.buffer, ids.offset, idList.length).set(idList);
        const packed = packLinearWeight(rt, table.bytes, vocab, dim, dtype);
        const plain = rt.alloc(dtype, [vocab, dim]);
        rt.write(plain, table.bytes);
        const out = rt.alloc('f32', [idList.length, dim]);
        for (const t of [packed, plain]) {
          rt.f32View(out).fill(NaN);
          gatherRows(rt, t, ids, out);
          const want = idList.flatMap((id) => Array.from(table.values.subarray(id * dim, (id + 1) * dim)));
          expect(Array.from(rt.readF32(out)), `${dtype} ${t.layout} [${vocab}×${dim}]`).toEqual(want);
        }
        for (const t of [ids, packed, plain, out]) rt.free(t);
      }
  });

  for (const dtype of DTYPES) {
    it(`${dtype}: packing from a transposed source [inF×outF] gives the bytes of packing the plain matrix`, () => {
      const next = seededRandom(300 + DTYPE_CODE[dtype]);
      const bytesOf = (t: Tensor) => rt.u8.slice(t.offset, t.offset + t.byteLength);
      for (const outF of [1, 3, 4, 5, 8, 17, 67])
        for (const inF of [1, 3, 5, 8, 16, 17, 67]) {
          // raw random bit patterns: NaN payloads, ±Inf, subnormals and -0 must move bit for bit
          const n = outF * inF;
          const plain = dtype === 'f32' ? new Uint32Array(n) : new Uint16Array(n);
          const range = dtype === 'f32' ? 2 ** 32 : 2 ** 16;
          for (let i = 0; i < n; i++) plain[i] = Math.floor(next() * range);
          const transposed = dtype === 'f32' ? new Uint32Array(n) : new Uint16Array(n);
          for (let o = 0; o < outF; o++) for (let k = 0; k < inF; k++) transposed[k * outF + o] = plain[o * inF + k];
          const u8 = (a: Uint32Array | Uint16Array) => new Uint8Array(a.buffer);
          const want = packLinearWeight(rt, u8(plain), outF, inF, dtype);
          const fromHost = packLinearWeight(rt, u8(transposed), outF, inF, dtype, true);
          // the same from a tensor already in wasm memory, as the loader passes it
          const src = rt.alloc(dtype, [inF, outF]);
          rt.u8.set(u8(transposed), src.offset);
          const fromTensor = packLinearWeight(rt, src, outF, inF, dtype, true);
          const what = `${dtype} [${outF}×${inF}]`;
          expect(fromHost.byteLength, what).toBe(packedLinearBytes(outF, inF, dtype));
          expect(bytesOf(fromHost), `${what} from host bytes`).toEqual(bytesOf(want));
          expect(bytesOf(fromTensor), `${what} from a tensor`).toEqual(bytesOf(want));
          for (const t of [want, fromHost, src, fromTensor]) rt.free(t);
        }
    });
  }

  it('the raw packLinearTransposed kernel writes zeros into the padding, whatever dst held', () => {
    // W [3×5] = 1..15 row-major; its transpose [5×3] is the source
    const w = Float32Array.from({ length: 15 }, (_, i) => i + 1);
    const wt = new Float32Array(15);
    for (let o = 0; o < 3; o++) for (let k = 0; k < 5; k++) wt[k * 3 + o] = w[o * 5 + k];
    const src = rt.alloc('f32', [5, 3]);
    rt.write(src, wt);
    const dst = rt.alloc('f32', [4, 8]);
    rt.f32View(dst).fill(NaN);
    rt.kernels.packLinearTransposed(src.offset, dst.offset, 3, 5, DTYPE_CODE.f32);
    const row = (o: number) => (o < 3 ? [...Array.from(w.subarray(o * 5, o * 5 + 5)), 0, 0, 0] : new Array(8).fill(0));
    expect(Array.from(rt.readF32(dst))).toEqual([...row(0), ...row(1), ...row(2), ...row(3)]);
    for (const t of [src, dst]) rt.free(t);
  });

  it('the raw gatherRows kernel takes the dtype code and packed flag of kernels.ts', () => {
    const w = packLinearWeight(rt, new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer), 3, 2, 'f32');
    const ids = rt.alloc('i32', [1]);
    new Int32Array(rt.memory.buffer, ids.offset, 1)[0] = 2;
    const out = rt.alloc('f32', [1, 2]);
    rt.kernels.gatherRows(w.offset, ids.offset, out.offset, 1, 2, DTYPE_CODE.f32, 1);
    expect(Array.from(rt.readF32(out))).toEqual([5, 6]);
    for (const t of [w, ids, out]) rt.free(t);
  });

  it('rejects mismatched shapes with a WeftError naming them, and stays usable', () => {
    const w = packLinearWeight(rt, new Uint8Array(4 * 3 * 4), 4, 3, 'f32');
    const x = rt.alloc('f32', [2, 5]);
    const y = rt.alloc('f32', [2, 4]);
    const b = rt.alloc('f32', [3]);
    const shapeError = (f: () => void) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(WeftError);
        return (e as WeftError).message;
      }
      throw new Error('no error');
    };
    expect(shapeError(() => linear(rt, x, w, null, y))).toMatch(/x \[2, 5\], weight \[4, 3\], bias none, y \[2, 4\]/);
    const x3 = rt.alloc('f32', [2, 3]);
    expect(shapeError(() => linear(rt, x3, w, b, y))).toMatch(/bias \[3\]/);
    const plain = rt.alloc('f32', [4, 3]);
    expect(shapeError(() => linear(rt, x3, plain, null, y))).toMatch(/packed/);
    expect(shapeError(() => packLinearWeight(rt, new Uint8Array(10), 4, 3, 'f32'))).toMatch(/needs 48 bytes, got 10/);
    const ids = rt.alloc('i32', [1]);
    new Int32Array(rt.memory.buffer, ids.offset, 1)[0] = 4;
    expect(shapeError(() => gatherRows(rt, w, ids, rt.alloc('f32', [1, 3])))).toMatch(/id 4 at position 0 is outside the table \[4, 3\]/);
    const used = rt.heap.usedBytes;
    linear(rt, x3, w, null, y); // still usable
    expect(rt.heap.usedBytes).toBe(used);
    expect(Array.from(rt.readF32(y))).toEqual(new Array(8).fill(0));
  });

  it('packLinearWeight keeps only the packed copy (the staging block is released)', () => {
    const before = rt.heap.usedBytes;
    const w = packLinearWeight(rt, new Uint8Array(33 * 17 * 2), 33, 17, 'bf16');
    expect(rt.heap.usedBytes - before).toBe(Math.ceil(packedLinearBytes(33, 17, 'bf16') / 64) * 64);
    rt.free(w);
    expect(rt.heap.usedBytes).toBe(before);
  });
});
