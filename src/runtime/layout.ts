/**
 * The packed layout of linear-layer weights, and the host helpers that make and use it.
 *
 * A weight W [outF × inF] (PyTorch's order: one row per output feature) is repacked once, at load time, so that a
 * matrix-vector product reads it as one contiguous stream, 4 output rows at a time:
 *
 *   - Rows are padded with zeros to a multiple of GROUP = 8 input features, and the matrix to a multiple of
 *     BLOCK_ROWS = 4 rows. Let G = ceil(inF / 8) groups per row.
 *   - The matrix is a sequence of blocks, block i holding rows 4i..4i+3. A block is G groups in input order;
 *     group g holds the 8 weights k = 8g..8g+7 of row 4i, then those of row 4i+1, 4i+2, 4i+3 (32 elements).
 *   - Within a group, the 8 weights of one row keep their order (32 bytes of f32, 16 of f16/bf16), so a row of a
 *     group is one or two 16-byte SIMD loads.
 *
 * So element (o, k) of a packed matrix of element size s bytes is at byte
 *   ((⌊o/4⌋·G + ⌊k/8⌋)·32 + (o mod 4)·8 + (k mod 8)) · s,
 * and the total size is ceil(outF/4)·4 · G·8 · s.
 *
 * The same packed matrix serves as an embedding table (`gatherRows`): tied embeddings are stored once, packed.
 */
import { WeftError } from '../errors.js';
import { DTYPE_CODE } from './kernels.js';
import { actRowBytes, isQuantType, QUANT_TYPES, type QuantInfo, type QuantType } from './quant.js';
import type { Runtime } from './runtime.js';
import { DTYPE_BYTES, numel, type Tensor } from './tensor.js';

export type WeightDType = 'f32' | 'f16' | 'bf16';

/**
 * Packed f16 weights that hold no inf or nan (counted by `packLinearWeight`): `linear` runs them through
 * `linearF16Finite`, whose folded widening is exact for finite halves only (assembly/linear.ts).
 */
const finiteF16 = new WeakSet<Tensor>();

/** Output rows per packed block. Threads split the output features on multiples of it. */
export const PACK_BLOCK_ROWS = 4;
/** Input features per group. */
export const PACK_GROUP = 8;

/** Bytes a packed [outF × inF] weight occupies, padding included. */
export function packedLinearBytes(outF: number, inF: number, dtype: WeightDType): number {
  return Math.ceil(outF / PACK_BLOCK_ROWS) * PACK_BLOCK_ROWS * Math.ceil(inF / PACK_GROUP) * PACK_GROUP * DTYPE_BYTES[dtype];
}

/**
 * Allocates a packed weight [outF, inF] on the runtime's heap and packs `src` into it. `src` is the plain row-major
 * weight: little-endian bytes of `dtype` from the host (staged in a heap block released before returning), or a
 * plain tensor already in wasm memory (e.g. read there straight from a file; the caller frees it). `transposed`:
 * `src` holds Wᵀ, row-major [inF, outF] (GPT-2's Conv1D weights), and the packed result is the same. Only the packed
 * tensor remains allocated afterwards; on error nothing does.
 */
export function packLinearWeight(rt: Runtime, src: Uint8Array | Tensor, outF: number, inF: number, dtype: WeightDType, transposed = false): Tensor {
  if (!Number.isInteger(outF) || !Number.isInteger(inF) || outF < 1 || inF < 1) {
    throw new WeftError('E_OPTION', `packLinearWeight: invalid weight shape [${outF}, ${inF}]`);
  }
  const plainBytes = outF * inF * DTYPE_BYTES[dtype];
  if (src.byteLength !== plainBytes) {
    throw new WeftError('E_FORMAT', `packLinearWeight: a ${dtype} weight [${outF}, ${inF}] needs ${plainBytes} bytes, got ${src.byteLength}`);
  }
  if (!(src instanceof Uint8Array) && (src.layout !== 'rows' || src.dtype !== dtype)) {
    throw new WeftError('E_OPTION', `packLinearWeight: the source tensor must be plain ${dtype} rows, not ${src.layout} ${src.dtype}`);
  }
  const packed = rt.alloc(dtype, [outF, inF], 'packed', packedLinearBytes(outF, inF, dtype));
  let staging = -1;
  try {
    let srcOffset: number;
    if (src instanceof Uint8Array) {
      staging = rt.heap.alloc(plainBytes, `staging for a ${dtype} weight [${outF}, ${inF}]`);
      rt.u8.set(src, staging);
      srcOffset = staging;
    } else {
      srcOffset = src.offset;
    }
    (transposed ? rt.kernels.packLinearTransposed : rt.kernels.packLinear)(srcOffset, packed.offset, outF, inF, DTYPE_CODE[dtype]);
    if (dtype === 'f16' && rt.kernels.countNonFinite(packed.offset, DTYPE_CODE.f16, 0, packed.byteLength / 2) === 0) finiteF16.add(packed);
  } catch (e) {
    rt.free(packed);
    throw e;
  } finally {
    if (staging >= 0) rt.heap.release(staging);
  }
  return packed;
}

/**
 * y[rows, outF] = x[rows, inF] · Wᵀ (+ b): one call over all output features, split over the runtime's threads.
 * W is packed (f32/f16/bf16), or quantized blocks (`blocks`, or `parts` of different quantized types): then x is
 * first quantized to 8-bit rows in the weight type's activation format (Q8_0 or Q8_K, once per format per call), as
 * llama.cpp does.
 */
export function linear(rt: Runtime, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor): void {
  const [outF, inF] = w.shape;
  const shapes = () => `x [${x.shape.join(', ')}], weight [${w.shape.join(', ')}], bias ${b ? `[${b.shape.join(', ')}]` : 'none'}, y [${y.shape.join(', ')}]`;
  if ((w.layout !== 'packed' && w.layout !== 'blocks' && w.layout !== 'parts') || w.shape.length !== 2) {
    throw new WeftError('E_OPTION', `linear: the weight must be a packed or quantized 2-d tensor (packLinearWeight, loadQuantized), got ${w.layout} [${w.shape.join(', ')}]`);
  }
  const rows = x.shape.length > 0 ? numel(x.shape) / x.shape[x.shape.length - 1] : 0;
  const ok =
    x.dtype === 'f32' &&
    y.dtype === 'f32' &&
    x.shape.length >= 1 &&
    x.shape[x.shape.length - 1] === inF &&
    y.shape.length === x.shape.length &&
    y.shape[y.shape.length - 1] === outF &&
    numel(y.shape) === rows * outF &&
    (b === null || (b.dtype === 'f32' && b.shape.length === 1 && b.shape[0] === outF));
  if (!ok) throw new WeftError('E_OPTION', `linear: shapes do not match (want f32 x [.., ${inF}], y [.., ${outF}], bias [${outF}]): ${shapes()}`);
  if (w.layout !== 'packed') {
    linearQuantized(rt, x, w, b, y, rows);
    return;
  }
  const f16 = finiteF16.has(w) ? 'linearF16Finite' : 'linearF16'; // the folded widening needs weights without inf/nan
  const kernel = w.dtype === 'f32' ? 'linearF32' : w.dtype === 'f16' ? f16 : w.dtype === 'bf16' ? 'linearBF16' : null;
  if (!kernel) throw new WeftError('E_UNSUPPORTED', `linear: no kernel for ${w.dtype} weights`);
  // Threads take whole packed blocks of output rows: each output is summed by one thread, as with one thread.
  rt.parallel({ kernel, args: [x.offset, w.offset, b ? b.offset : 0, y.offset, rows, inF, outF], start: 0, end: outF, unit: PACK_BLOCK_ROWS, work: rows * inF * outF });
}

/**
 * A quantized weight [rows × inF] whose file bytes were just read into `t` (allocated with `quantStorageBytes`),
 * put in the layout its kernels read: the 32-element types interleaved by four rows in place (the padding rows of
 * the last group zeroed first); other types stay as read.
 */
export function arrangeQuantized(rt: Runtime, t: Tensor): void {
  if (!isQuantType(t.dtype) || t.layout !== 'blocks') throw new WeftError('E_OPTION', `arrangeQuantized: not a quantized weight: ${t.layout} ${t.dtype}`);
  const q = QUANT_TYPES[t.dtype];
  if (!q.interleaved) return;
  const [rows, inF] = t.shape;
  const nb = inF / q.blockSize;
  const rowBytes = nb * q.typeSize;
  const groups = Math.ceil(rows / 4);
  if (t.byteLength !== groups * 4 * rowBytes) throw new WeftError('E_OPTION', `arrangeQuantized: a ${t.dtype} weight [${rows}, ${inF}] needs ${groups * 4 * rowBytes} bytes (whole groups of 4 rows), has ${t.byteLength}`);
  rt.u8.fill(0, t.offset + rows * rowBytes, t.offset + t.byteLength);
  const scratch = rt.heap.alloc(4 * rowBytes, 'interleaving a quantized weight');
  try {
    rt.kernels.interleaveRows4(t.offset, groups, nb, q.id, scratch);
  } finally {
    rt.heap.release(scratch);
  }
}

/**
 * Calls `each(at, i)` with the address of row rowIds[i] of a quantized weight as the file stores it (plain blocks):
 * in place, or, for rows interleaved by four, copied out to a staging row first (`plainRowOf4`).
 */
function eachFileRow(rt: Runtime, t: Tensor, rowIds: ArrayLike<number>, each: (at: number, i: number) => void): void {
  const q = QUANT_TYPES[t.dtype as QuantType];
  const nb = t.shape[1] / q.blockSize;
  const rowBytes = nb * q.typeSize;
  if (!q.interleaved) {
    for (let i = 0; i < rowIds.length; i++) each(t.offset + rowIds[i] * rowBytes, i);
    return;
  }
  const ids = Int32Array.from(rowIds); // the staging allocation below may grow the memory (and detach a view)
  const row = rt.heap.alloc(rowBytes, 'a quantized row');
  try {
    for (let i = 0; i < ids.length; i++) {
      rt.kernels.plainRowOf4(t.offset, ids[i], nb, q.id, row);
      each(row, i);
    }
  } finally {
    rt.heap.release(row);
  }
}

/** The file's bytes of a quantized weight (rows back to back, as GGUF stores them), whatever its layout in memory. */
export function quantizedFileBytes(rt: Runtime, t: Tensor): Uint8Array {
  if (!isQuantType(t.dtype) || t.layout !== 'blocks') throw new WeftError('E_OPTION', `quantizedFileBytes: not a quantized weight: ${t.layout} ${t.dtype}`);
  const q = QUANT_TYPES[t.dtype];
  const [rows, inF] = t.shape;
  const rowBytes = (inF / q.blockSize) * q.typeSize;
  const out = new Uint8Array(rows * rowBytes);
  eachFileRow(rt, t, Array.from({ length: rows }, (_, o) => o), (at, o) => out.set(rt.u8.subarray(at, at + rowBytes), o * rowBytes));
  return out;
}

/** Per runtime, a heap block for quantized activations that grows as needed (never freed while the runtime lives). */
const activationBuffers = new WeakMap<Runtime, { offset: number; bytes: number }>();

function activationBuffer(rt: Runtime, bytes: number): number {
  const have = activationBuffers.get(rt);
  if (have && have.bytes >= bytes) return have.offset;
  if (have) rt.heap.release(have.offset);
  const offset = rt.heap.alloc(bytes, 'quantized activations');
  activationBuffers.set(rt, { offset, bytes });
  return offset;
}

/**
 * The quantized matmul: x quantized to the activation format(s) the parts need (Q8_0 rows first, then Q8_K rows,
 * then the per-thread scratch the kernels take, in one buffer), then each part's kernel over its output rows. A
 * part's kernel writes y[.., first + o] and reads b[first + o] for its own row o: y and b are given to it moved on
 * by the part's first output (the row stride of y stays outF).
 */
function linearQuantized(rt: Runtime, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, rows: number): void {
  const [outF, inF] = w.shape;
  const parts = w.layout === 'parts' ? w.parts! : [w];
  const infos = parts.map((p) => {
    if (!isQuantType(p.dtype) || p.layout !== 'blocks') throw new WeftError('E_OPTION', `linear: a part of a fused weight must be quantized blocks, got ${p.layout} ${p.dtype}`);
    return QUANT_TYPES[p.dtype];
  });
  const need = (act: QuantInfo['act']) => infos.some((q) => q.act === act);
  const q8_0Bytes = need('Q8_0') ? rows * actRowBytes('Q8_0', inF) : 0;
  const q8_KBytes = need('Q8_K') ? rows * actRowBytes('Q8_K', inF) : 0;
  // each thread's scratch on cache lines of its own
  const scratchBytes = Math.ceil(Math.max(...infos.map((q) => q.scratchBytes(inF))) / 64) * 64;
  const xq = activationBuffer(rt, q8_0Bytes + q8_KBytes + rt.threads * scratchBytes);
  const scratch = xq + q8_0Bytes + q8_KBytes;
  if (q8_0Bytes) rt.kernels.quantizeActQ8_0(x.offset, xq, inF, 0, rows);
  if (q8_KBytes) rt.kernels.quantizeActQ8_K(x.offset, xq + q8_0Bytes, inF, 0, rows);
  let first = 0;
  for (let i = 0; i < parts.length; i++) {
    const q = infos[i];
    const partRows = parts[i].shape[0];
    const args = [q.act === 'Q8_0' ? xq : xq + q8_0Bytes, parts[i].offset, b ? b.offset + 4 * first : 0, y.offset + 4 * first, rows, inF, outF];
    const takesScratch = q.scratchBytes(inF) > 0;
    if (takesScratch) args.push(scratch);
    // Threads take whole output rows (a quantized row is summed by one thread, block by block, as with one thread),
    // and whole groups of 4 rows where rows are interleaved.
    rt.parallel({
      kernel: q.linearName, args, start: 0, end: partRows, unit: q.interleaved ? 4 : 1, work: rows * inF * partRows,
      scratch: takesScratch ? { arg: args.length - 1, bytes: scratchBytes } : undefined,
    });
    first += partRows;
  }
}

/**
 * Embedding lookup: out[n, dim] f32 = rows `ids` (an i32 tensor [n]) of `table` [vocab, dim], plain or packed, of
 * f32/f16/bf16. Every id is checked against the table first.
 */
export function gatherRows(rt: Runtime, table: Tensor, ids: Tensor, out: Tensor): void {
  const [vocab, dim] = table.shape;
  const n = numel(ids.shape);
  if (table.shape.length !== 2 || ids.dtype !== 'i32' || out.dtype !== 'f32' || numel(out.shape) !== n * dim || out.shape[out.shape.length - 1] !== dim) {
    throw new WeftError('E_OPTION', `gatherRows: shapes do not match: table ${table.dtype} [${table.shape.join(', ')}], ids ${ids.dtype} [${ids.shape.join(', ')}], out ${out.dtype} [${out.shape.join(', ')}]`);
  }
  if (table.dtype === 'i32' || table.layout === 'parts') throw new WeftError('E_UNSUPPORTED', `gatherRows: a ${table.layout} ${table.dtype} table`);
  const idView = new Int32Array(rt.memory.buffer, ids.offset, n);
  for (let i = 0; i < n; i++) {
    if (!(idView[i] >= 0 && idView[i] < vocab)) throw new WeftError('E_OPTION', `gatherRows: id ${idView[i]} at position ${i} is outside the table [${vocab}, ${dim}]`);
  }
  if (isQuantType(table.dtype)) {
    // quantized: dequantize only the requested rows
    const dequant = QUANT_TYPES[table.dtype].dequantRow(rt.kernels);
    eachFileRow(rt, table, idView, (at, i) => dequant(at, out.offset + i * dim * 4, dim));
    return;
  }
  rt.kernels.gatherRows(table.offset, ids.offset, out.offset, n, dim, DTYPE_CODE[table.dtype], table.layout === 'packed' ? 1 : 0);
}
