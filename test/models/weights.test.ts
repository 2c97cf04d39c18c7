/**
 * WeightLoader on hand-made weight sets: stacked and transposed linear weights pack to the bytes of packing the
 * plain stacked matrix, and NaN/Inf values are counted in every kind of tensor.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/source.js';
import type { WeightEntry, WeightSet } from '../../src/formats/weights.js';
import { WeightLoader } from '../../src/models/blocks/weights.js';
import { packLinearWeight } from '../../src/runtime/layout.js';
import { Runtime } from '../../src/runtime/runtime.js';
import type { Tensor } from '../../src/runtime/tensor.js';

interface Part {
  name: string;
  dtype: 'f32' | 'f16';
  shape: number[];
  bytes: Uint8Array;
}

/** A WeightSet over one in-memory source holding the parts one after the other. */
function weightSet(parts: Part[]): WeightSet {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.bytes.length, 0));
  const source = bytesSource(all, 'test.safetensors');
  const entries = new Map<string, WeightEntry>();
  let at = 0;
  for (const p of parts) {
    all.set(p.bytes, at);
    entries.set(p.name, { name: p.name, dtype: p.dtype, shape: p.shape, source, offset: at, byteLength: p.bytes.length });
    at += p.bytes.length;
  }
  return { name: 'test', entries, get: (n) => entries.get(n)!, has: (n) => entries.has(n), close: async () => {} };
}

/** f32 values [rows×cols] = row·100 + col + offset (exact in f16 too for the small sizes used). */
function matrix(rows: number, cols: number, offset: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, i) => Math.floor(i / cols) * 100 + (i % cols) + offset);
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
  return t;
}

/** f32 → f16 bits for the integers below 2048 that `matrix` makes, and the specials. */
function toF16(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  if (v === Infinity) return 0x7c00;
  if (v === 0) return 0;
  const e = Math.floor(Math.log2(v));
  return ((e + 15) << 10) | Math.round((v / 2 ** e - 1) * 1024);
}

const f32Bytes = (a: Float32Array) => new Uint8Array(a.buffer.slice(0));
const f16Bytes = (a: Float32Array) => new Uint8Array(Uint16Array.from(a, toF16).buffer);

describe('WeightLoader', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await Runtime.create();
  });
  const bytesOf = (t: Tensor) => rt.u8.slice(t.offset, t.offset + t.byteLength);

  it('stacked transposed (Conv1D) parts pack like the plain stacked matrix, in f32 and widened from mixed dtypes', async () => {
    const inF = 9;
    const outs = [5, 3, 6];
    const plain = outs.map((o, i) => matrix(o, inF, i * 1000));
    const stacked = new Float32Array(plain.reduce((n, p) => n + p.length, 0));
    plain.reduce((at, p) => (stacked.set(p, at), at + p.length), 0);
    const outF = outs.reduce((a, b) => a + b, 0);
    const want = packLinearWeight(rt, f32Bytes(stacked), outF, inF, 'f32');
    for (const mixed of [false, true]) {
      const parts: Part[] = plain.map((p, i) => {
        const t = transpose(p, outs[i], inF);
        const f16 = mixed && i === 1;
        return { name: `w${i}`, dtype: f16 ? 'f16' : 'f32', shape: [inF, outs[i]], bytes: f16 ? f16Bytes(t) : f32Bytes(t) };
      });
      const loader = new WeightLoader(rt, weightSet(parts));
      const got = await loader.linear(['w0', 'w1', 'w2'], outs, inF, true);
      expect(got.dtype).toBe('f32');
      expect(bytesOf(got), mixed ? 'mixed' : 'f32').toEqual(bytesOf(want));
      expect(loader.nonFinite).toBe(0);
      loader.freeAll();
    }
    rt.free(want);
  });

  it('a single transposed f16 part is read straight and packed like its transpose', async () => {
    const [outF, inF] = [7, 17];
    const w = matrix(outF, inF, 1);
    const want = packLinearWeight(rt, f16Bytes(w), outF, inF, 'f16');
    const loader = new WeightLoader(rt, weightSet([{ name: 'w', dtype: 'f16', shape: [inF, outF], bytes: f16Bytes(transpose(w, outF, inF)) }]));
    const got = await loader.linear(['w'], [outF], inF, true);
    expect(bytesOf(got)).toEqual(bytesOf(want));
    loader.freeAll();
    rt.free(want);
  });

  it('counts NaN/Inf in linear weights, vectors and tables', async () => {
    const lin = matrix(5, 3, 0);
    lin[4] = NaN;
    lin[14] = -Infinity;
    const vec = Float32Array.from([1, Infinity, 2]);
    const table = matrix(3, 4, 0);
    table[0] = NaN;
    const loader = new WeightLoader(
      rt,
      weightSet([
        { name: 'lin', dtype: 'f32', shape: [3, 5], bytes: f32Bytes(lin) },
        { name: 'vec', dtype: 'f16', shape: [3], bytes: f16Bytes(vec) },
        { name: 'table', dtype: 'f16', shape: [3, 4], bytes: f16Bytes(table) },
      ]),
    );
    await loader.linear(['lin'], [5], 3, true);
    expect(loader.nonFinite).toBe(2);
    await loader.vector(['vec'], [3]);
    expect(loader.nonFinite).toBe(3);
    await loader.table('table', 3, 4);
    expect(loader.nonFinite).toBe(4);
    loader.freeAll();
  });
});
