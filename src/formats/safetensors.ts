import { WeftError } from '../errors.js';
import { parseJsonBytes } from './json.js';
import { formatError, type ByteSource } from './source.js';

/**
 * safetensors (huggingface/safetensors): u64 little-endian header length N · N bytes of JSON · the data.
 * The JSON maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }`, offsets relative to the
 * first byte after the header; the optional `__metadata__` entry is a string → string map. Shapes are in
 * PyTorch order (outermost first) and data is row-major little-endian.
 */

export interface SafetensorsTensorInfo {
  name: string;
  /** The file's dtype string: 'F32', 'F16', 'BF16', 'I64', ... */
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsFile {
  source: ByteSource;
  /** Absolute byte offset where the data section starts (8 + header length). */
  dataOffset: number;
  metadata: Record<string, string>;
  tensors: SafetensorsTensorInfo[];
}

/** Bytes per element of every dtype the format defines. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The reference implementation's limit: a larger header is a corrupt length, not a real model. */
const MAX_HEADER_BYTES = 100_000_000;

/** Parse and validate a safetensors header: reads only the 8-byte length and the JSON, never the data. */
export async function readSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  const name = source.name;
  if (source.size < 8) throw formatError(name, 0, `truncated safetensors file: ${source.size} bytes, less than the 8-byte header length`);
  const headerLength = new DataView((await source.read(0, 8)).buffer).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(source.size - 8, MAX_HEADER_BYTES))) {
    throw formatError(
      name,
      0,
      `safetensors header length ${headerLength} is past the end of the file (${source.size} bytes) or over the 100 MB limit: truncated or not a safetensors file`,
    );
  }
  const dataOffset = 8 + Number(headerLength);
  const headerBytes = await source.read(8, Number(headerLength));
  const header = parseJsonBytes(headerBytes, `${name}: the safetensors header (bytes 8..${dataOffset})`, 'E_FORMAT', { baseOffset: 8 });
  if (!isObject(header)) throw formatError(name, 8, 'the safetensors header is not a JSON object');

  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [key, value] of Object.entries(header)) {
    if (key === '__metadata__') {
      if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw formatError(name, 8, '__metadata__ must be an object of strings');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    tensors.push(tensorInfo(name, key, value, dataOffset, source.size));
  }

  // The data section is covered exactly, as the format requires (and the reference implementation checks): in
  // offset order each tensor starts where the previous one ended, and the last ends at the end of the file. A
  // header whose length is off by a byte then fails here instead of shifting every tensor by a byte.
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  let covered = dataOffset;
  for (const t of byOffset) {
    if (t.offset < covered) throw formatError(name, t.offset, `tensor ${t.name} overlaps the tensor before it, which ends at byte offset ${covered}`);
    if (t.offset > covered) throw formatError(name, covered, `bytes ${covered}..${t.offset} belong to no tensor (the next, ${t.name}, starts at ${t.offset}): a wrong header length or data_offsets`);
    covered = t.offset + t.byteLength;
  }
  if (covered !== source.size) {
    throw formatError(name, covered, `the tensors end at byte ${covered} but the file has ${source.size} bytes: a wrong header length or data_offsets, or trailing bytes`);
  }
  return { source, dataOffset, metadata, tensors };
}

function tensorInfo(file: string, name: string, value: unknown, dataOffset: number, fileSize: number): SafetensorsTensorInfo {
  const where = `tensor ${name}`;
  if (!isObject(value)) throw formatError(file, 8, `${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_BYTES)) {
    throw formatError(file, 8, `${where}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw formatError(file, 8, `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw formatError(file, 8, `${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 ≤ begin ≤ end`);
  }
  const [begin, end] = offsets as [number, number];
  const elements = shape.reduce((n: number, d: number) => n * d, 1);
  const byteLength = elements * SAFETENSORS_DTYPE_BYTES[dtype];
  if (byteLength !== end - begin) {
    throw formatError(
      file,
      dataOffset + begin,
      `${where}: shape [${shape.join(', ')}] of ${dtype} needs ${byteLength} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  if (dataOffset + end > fileSize) {
    throw formatError(file, dataOffset + begin, `${where} ends at byte ${dataOffset + end}, past the end of the file (${fileSize} bytes): truncated data?`);
  }
  return { name, dtype, shape: shape as number[], offset: dataOffset + begin, byteLength };
}

export interface SafetensorsIndex {
  metadata: Record<string, unknown>;
  /** Tensor name → shard file name (relative to the index's folder). */
  weightMap: Map<string, string>;
}

/** Parse `model.safetensors.index.json` (sharded checkpoints): `{ metadata?, weight_map: { tensor: shard } }`. */
export function parseSafetensorsIndex(bytes: Uint8Array, name: string): SafetensorsIndex {
  const index = parseJsonBytes(bytes, name);
  if (!isObject(index) || !isObject(index.weight_map)) throw new WeftError('E_FORMAT', `${name}: no "weight_map" object`);
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(index.weight_map)) {
    // A shard is a file name beside the index: refuse paths that would leave the folder.
    if (typeof shard !== 'string' || shard === '' || shard.includes('..') || shard.startsWith('/') || shard.includes('\\')) {
      throw new WeftError('E_FORMAT', `${name}: weight_map entry ${tensor} names ${JSON.stringify(shard)}, not a shard file in the same folder`);
    }
    weightMap.set(tensor, shard);
  }
  return { metadata: isObject(index.metadata) ? index.metadata : {}, weightMap };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
