import { WeftError } from '../errors.js';
import { formatError, type ByteSource } from './source.js';

/**
 * GGUF, llama.cpp's single-file format (spec: ggml/docs/gguf.md). Little-endian:
 *
 *   magic "GGUF" · u32 version · u64 n_tensors · u64 n_kv
 *   n_kv × (string key · u32 value type · value)
 *   n_tensors × (string name · u32 n_dims · n_dims × u64 ne (innermost first) · u32 ggml type · u64 offset)
 *   padding to `general.alignment` (default 32) · tensor data, each tensor at data start + its offset
 *
 * A string is u64 byte length + UTF-8 bytes; an array is u32 element type · u64 count · elements.
 * v1 had u32 counts and lengths and is refused; v2 and v3 share one layout (v3 only allowed big-endian files).
 * This file reads the header, metadata and tensor descriptions; tensor data is read later, straight into wasm
 * memory, through the same `ByteSource`.
 */

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** GGUF order: innermost (contiguous) dimension first, the reverse of PyTorch's shape. */
  dims: number[];
  /** ggml type id (see GGML_TYPES). */
  type: number;
  /** ggml type name: 'F32', 'F16', 'BF16', 'Q8_0', ... */
  typeName: string;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

export interface GgufFile {
  source: ByteSource;
  version: number;
  alignment: number;
  /** Absolute byte offset where the tensor data section starts. */
  dataOffset: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
}

export interface GgmlType {
  name: string;
  /** Elements per block (1 for plain types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/**
 * Every ggml tensor type by id, with its block geometry (ggml.c `type_traits`, llama.cpp v0.4.0). Ids 4, 5,
 * 31–33 and 36–38 belonged to removed types and are not valid in a file.
 */
export const GGML_TYPES: ReadonlyMap<number, GgmlType> = new Map<number, GgmlType>([
  [0, { name: 'F32', blockSize: 1, typeSize: 4 }],
  [1, { name: 'F16', blockSize: 1, typeSize: 2 }],
  [2, { name: 'Q4_0', blockSize: 32, typeSize: 18 }], // f16 d · 16 B of nibbles
  [3, { name: 'Q4_1', blockSize: 32, typeSize: 20 }], // f16 d, m · 16 B
  [6, { name: 'Q5_0', blockSize: 32, typeSize: 22 }], // f16 d · u32 high bits · 16 B
  [7, { name: 'Q5_1', blockSize: 32, typeSize: 24 }],
  [8, { name: 'Q8_0', blockSize: 32, typeSize: 34 }], // f16 d · 32 × i8
  [9, { name: 'Q8_1', blockSize: 32, typeSize: 36 }], // f16 d, s · 32 × i8
  [10, { name: 'Q2_K', blockSize: 256, typeSize: 84 }],
  [11, { name: 'Q3_K', blockSize: 256, typeSize: 110 }],
  [12, { name: 'Q4_K', blockSize: 256, typeSize: 144 }],
  [13, { name: 'Q5_K', blockSize: 256, typeSize: 176 }],
  [14, { name: 'Q6_K', blockSize: 256, typeSize: 210 }],
  [15, { name: 'Q8_K', blockSize: 256, typeSize: 292 }], // f32 d · 256 × i8 · 16 × i16 sums
  [16, { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 }],
  [17, { name: 'IQ2_XS', blockSize: 256, typeSize: 74 }],
  [18, { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 }],
  [19, { name: 'IQ1_S', blockSize: 256, typeSize: 50 }],
  [20, { name: 'IQ4_NL', blockSize: 32, typeSize: 18 }],
  [21, { name: 'IQ3_S', blockSize: 256, typeSize: 110 }],
  [22, { name: 'IQ2_S', blockSize: 256, typeSize: 82 }],
  [23, { name: 'IQ4_XS', blockSize: 256, typeSize: 136 }],
  [24, { name: 'I8', blockSize: 1, typeSize: 1 }],
  [25, { name: 'I16', blockSize: 1, typeSize: 2 }],
  [26, { name: 'I32', blockSize: 1, typeSize: 4 }],
  [27, { name: 'I64', blockSize: 1, typeSize: 8 }],
  [28, { name: 'F64', blockSize: 1, typeSize: 8 }],
  [29, { name: 'IQ1_M', blockSize: 256, typeSize: 56 }],
  [30, { name: 'BF16', blockSize: 1, typeSize: 2 }],
  [34, { name: 'TQ1_0', blockSize: 256, typeSize: 54 }],
  [35, { name: 'TQ2_0', blockSize: 256, typeSize: 66 }],
  [39, { name: 'MXFP4', blockSize: 32, typeSize: 17 }],
  [40, { name: 'NVFP4', blockSize: 64, typeSize: 36 }],
  [41, { name: 'Q1_0', blockSize: 128, typeSize: 18 }],
  [42, { name: 'Q2_0', blockSize: 64, typeSize: 18 }],
]);

/** Metadata value types (gguf_type). */
const enum ValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Bytes of one value of each fixed-size type; STRING and ARRAY are the sizes of their smallest encoding. */
const MIN_VALUE_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

const DEFAULT_ALIGNMENT = 32;
const GGML_MAX_DIMS = 4;
/** Smallest tensor description: empty name (8) · n_dims (4) · type (4) · offset (8). */
const MIN_TENSOR_INFO_BYTES = 24;
/** Smallest key/value pair: empty key (8) · type (4) · one byte. */
const MIN_KV_BYTES = 13;
/** Header bytes are fetched in chunks of this size (a big vocabulary makes a header tens of MB). */
const CHUNK_BYTES = 1 << 20;

/**
 * Reads the header sequentially through a window of the file. Callers `need(n)` before reading n bytes, which
 * both checks the file is long enough (else E_FORMAT naming `what` and the offset) and fetches more bytes.
 */
class HeaderReader {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;
  private readonly text = new TextDecoder('utf-8');

  constructor(readonly source: ByteSource) {}

  fail(message: string, offset = this.pos): WeftError {
    return formatError(this.source.name, offset, message);
  }

  async need(n: number, what: string): Promise<void> {
    if (this.pos + n > this.source.size) {
      throw this.fail(`truncated file: ${what} needs ${n} bytes but the file is ${this.source.size} bytes long`);
    }
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return;
    const length = Math.min(Math.max(n, CHUNK_BYTES), this.source.size - this.pos);
    this.buf = await this.source.read(this.pos, length);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.bufStart = this.pos;
  }

  private at(size: number): number {
    const i = this.pos - this.bufStart;
    this.pos += size;
    return i;
  }

  // Fixed-size reads: the caller has called need() for them.
  u8(): number {
    return this.view.getUint8(this.at(1));
  }
  i8(): number {
    return this.view.getInt8(this.at(1));
  }
  u16(): number {
    return this.view.getUint16(this.at(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.at(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.at(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.at(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.at(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.at(8), true);
  }
  /** u64/i64 as a number when it is a safe integer, else as a bigint. */
  u64(): number | bigint {
    const v = this.view.getBigUint64(this.at(8), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(): number | bigint {
    const v = this.view.getBigInt64(this.at(8), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }

  /**
   * A u64 count of items of at least `minItemBytes` each that must still fit in the file: checked before
   * anything is allocated for them.
   */
  async count(what: string, minItemBytes: number): Promise<number> {
    const at = this.pos;
    await this.need(8, what);
    const n = this.u64();
    const room = Math.floor((this.source.size - this.pos) / minItemBytes);
    if (typeof n === 'bigint' || n > room) {
      throw this.fail(`${what} is ${n}, more than the ${this.source.size - this.pos} bytes left in the file can hold: truncated or corrupt file`, at);
    }
    return n;
  }

  async string(what: string): Promise<string> {
    const buffered = this.bufferedString();
    if (buffered !== undefined) return buffered;
    const length = await this.count(`length of ${what}`, 1);
    await this.need(length, what);
    return this.decode(length);
  }

  /**
   * The next string when it lies wholly in the window, read without awaiting (a vocabulary is 10⁵ strings and
   * an await each would dominate the parse); undefined otherwise, and then `string` fetches and checks.
   */
  bufferedString(): string | undefined {
    const i = this.pos - this.bufStart;
    if (i < 0 || i + 8 > this.buf.length) return undefined;
    const length = this.view.getBigUint64(i, true);
    if (length > BigInt(this.buf.length - i - 8)) return undefined;
    this.pos += 8;
    return this.decode(Number(length));
  }

  private decode(length: number): string {
    const i = this.at(length);
    const bytes = this.buf.subarray(i, i + length);
    // Most tokens are short ASCII, for which TextDecoder's call cost dominates.
    if (length <= 16) {
      let ascii = true;
      for (let k = 0; k < length; k++) if (bytes[k] >= 0x80) ascii = false;
      if (ascii) return String.fromCharCode(...bytes);
    }
    return this.text.decode(bytes);
  }
}

async function readValue(r: HeaderReader, type: number, key: string): Promise<GgufValue> {
  switch (type) {
    case ValueType.STRING:
      return r.string(`the value of ${key}`);
    case ValueType.ARRAY: {
      await r.need(4, `the element type of ${key}`);
      const at = r.pos;
      const elementType = r.u32();
      if (elementType > ValueType.FLOAT64) throw r.fail(`metadata ${key}: unknown array element type ${elementType}`, at);
      const n = await r.count(`element count of ${key}`, MIN_VALUE_BYTES[elementType]);
      const out: GgufValue[] = new Array(n);
      if (elementType === ValueType.STRING) {
        for (let i = 0; i < n; i++) out[i] = r.bufferedString() ?? (await r.string(`${key}[${i}]`));
      } else if (elementType === ValueType.ARRAY) {
        for (let i = 0; i < n; i++) out[i] = await readValue(r, elementType, `${key}[${i}]`);
      } else {
        // fixed-size elements: their total size was checked by count(), so fetch them in one go
        await r.need(n * MIN_VALUE_BYTES[elementType], `the elements of ${key}`);
        for (let i = 0; i < n; i++) out[i] = readFixed(r, elementType);
      }
      return out;
    }
    default:
      if (type > ValueType.FLOAT64) throw r.fail(`metadata ${key}: unknown value type ${type}`, r.pos - 4);
      await r.need(MIN_VALUE_BYTES[type], `the value of ${key}`);
      return readFixed(r, type);
  }
}

function readFixed(r: HeaderReader, type: ValueType): number | bigint | boolean {
  switch (type) {
    case ValueType.UINT8:
      return r.u8();
    case ValueType.INT8:
      return r.i8();
    case ValueType.UINT16:
      return r.u16();
    case ValueType.INT16:
      return r.i16();
    case ValueType.UINT32:
      return r.u32();
    case ValueType.INT32:
      return r.i32();
    case ValueType.FLOAT32:
      return r.f32();
    case ValueType.BOOL:
      return r.u8() !== 0;
    case ValueType.UINT64:
      return r.u64();
    case ValueType.INT64:
      return r.i64();
    case ValueType.FLOAT64:
      return r.f64();
    default:
      throw new Error(`unreachable: value type ${type} is not fixed-size`);
  }
}

/**
 * Parse a GGUF header, its metadata and its tensor descriptions, validating every count, length and offset
 * against the file size. Reads only the header, in 1 MiB chunks, never the tensor data.
 */
export async function readGguf(source: ByteSource): Promise<GgufFile> {
  const r = new HeaderReader(source);
  await r.need(8, 'the GGUF magic and version');
  const magic = r.u32();
  if (magic !== 0x46554747 /* "GGUF" little-endian */) {
    throw r.fail(`not a GGUF file: the first 4 bytes are 0x${magic.toString(16).padStart(8, '0')}, not "GGUF"`, 0);
  }
  const version = r.u32();
  if (version === 1) {
    throw new WeftError('E_UNSUPPORTED', `${source.name}: GGUF version 1 (32-bit counts, 2023) is not supported; re-convert the model with a current llama.cpp (GGUF v2 or v3)`);
  }
  if (version !== 2 && version !== 3) {
    const hint = (version & 0xffff) === 0 ? ' (a big-endian GGUF? weft reads little-endian files only)' : '';
    throw new WeftError('E_UNSUPPORTED', `${source.name}: GGUF version ${version} is not supported (weft reads v2 and v3)${hint}`);
  }
  const nTensors = await r.count('the tensor count', MIN_TENSOR_INFO_BYTES);
  const nKv = await r.count('the metadata key/value count', MIN_KV_BYTES);

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const at = r.pos;
    const key = await r.string(`metadata key ${i}`);
    if (metadata.has(key)) throw r.fail(`duplicate metadata key ${key}`, at);
    await r.need(4, `the value type of ${key}`);
    const type = r.u32();
    metadata.set(key, await readValue(r, type, key));
  }

  let alignment = DEFAULT_ALIGNMENT;
  const alignmentValue = metadata.get('general.alignment');
  if (alignmentValue !== undefined) {
    if (typeof alignmentValue !== 'number' || !Number.isInteger(alignmentValue) || alignmentValue <= 0 || (alignmentValue & (alignmentValue - 1)) !== 0) {
      throw r.fail(`general.alignment is ${String(alignmentValue)}, not a positive power of two`, 0);
    }
    alignment = alignmentValue;
  }

  // Tensor descriptions; offsets are relative to the data section, whose start is known only after them.
  const infos: Array<{ at: number; name: string; dims: number[]; type: number; ggml: GgmlType; relOffset: number; byteLength: number }> = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const at = r.pos;
    const name = await r.string(`the name of tensor ${i}`);
    if (names.has(name)) throw r.fail(`duplicate tensor name ${name}`, at);
    names.add(name);
    await r.need(4, `the dimension count of tensor ${name}`);
    const nDims = r.u32();
    if (nDims > GGML_MAX_DIMS) throw r.fail(`tensor ${name} has ${nDims} dimensions, more than ggml's ${GGML_MAX_DIMS}`, r.pos - 4);
    await r.need(8 * nDims + 4 + 8, `the shape, type and offset of tensor ${name}`);
    const dims: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const ne = r.u64();
      elements *= Number(ne);
      if (typeof ne === 'bigint' || !Number.isSafeInteger(elements)) {
        throw r.fail(`tensor ${name}: dimension ${d} is ${ne}, too large for any file`, r.pos - 8);
      }
      dims.push(ne);
    }
    const type = r.u32();
    const ggml = GGML_TYPES.get(type);
    if (!ggml) throw r.fail(`tensor ${name} has unknown ggml type ${type}`, r.pos - 4);
    const relOffset = r.u64();
    if (typeof relOffset === 'bigint' || relOffset % alignment !== 0) {
      throw r.fail(`tensor ${name}: data offset ${relOffset} is not a multiple of the alignment ${alignment}`, r.pos - 8);
    }
    const rowLength = dims.length > 0 ? dims[0] : 1;
    if (rowLength % ggml.blockSize !== 0) {
      throw r.fail(`tensor ${name}: row length ${rowLength} is not a multiple of the ${ggml.name} block size ${ggml.blockSize}`, at);
    }
    const byteLength = (elements / ggml.blockSize) * ggml.typeSize;
    infos.push({ at, name, dims, type, ggml, relOffset, byteLength });
  }

  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = infos.map((t) => ({
    name: t.name,
    dims: t.dims,
    type: t.type,
    typeName: t.ggml.name,
    offset: dataOffset + t.relOffset,
    byteLength: t.byteLength,
  }));

  // Every data range inside the file, and no two overlapping.
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < byOffset.length; i++) {
    const t = byOffset[i];
    if (t.offset + t.byteLength > source.size) {
      throw r.fail(`tensor ${t.name} (${t.typeName} [${t.dims.join(', ')}], ${t.byteLength} bytes) ends past the end of the file (${source.size} bytes): truncated data?`, t.offset);
    }
    const prev = byOffset[i - 1];
    if (prev && t.offset < prev.offset + prev.byteLength) {
      throw r.fail(`tensor ${t.name} overlaps tensor ${prev.name}, which ends at byte offset ${prev.offset + prev.byteLength}`, t.offset);
    }
  }
  return { source, version, alignment, dataOffset, metadata, tensors };
}
