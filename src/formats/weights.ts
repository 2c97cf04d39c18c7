import { WeftError } from '../errors.js';
import type { GgufFile } from './gguf.js';
import type { Llama2cFile } from './llama2c.js';
import { parseSafetensorsIndex, readSafetensors } from './safetensors.js';
import { fileSource, type ByteSource } from './source.js';

/**
 * The format-independent view of a checkpoint that model code loads from: every tensor's name, dtype, shape
 * (PyTorch order) and byte range in its source file. Names are the file's own (HF names for safetensors,
 * llama.cpp names for GGUF and llama2.c); each architecture maps them to its slots.
 */
export interface WeightEntry {
  name: string;
  /** 'f32' | 'f16' | 'bf16' for plain floats; ggml type names ('Q8_0', 'I32', ...) or lower-case safetensors
   *  dtypes ('i64', 'u8', ...) for everything else, which model code refuses until a kernel reads it. */
  dtype: 'f32' | 'f16' | 'bf16' | string;
  /** Outermost first: a linear weight is [outF, inF]. */
  shape: number[];
  source: ByteSource;
  /** Absolute byte offset in `source`. */
  offset: number;
  byteLength: number;
}

export interface WeightSet {
  /** The file or folder the weights came from, for messages. */
  readonly name: string;
  entries: Map<string, WeightEntry>;
  /** The entry, or WeftError 'E_MISSING' naming the tensor and the file. */
  get(name: string): WeightEntry;
  has(name: string): boolean;
  /** Close every source file. */
  close(): Promise<void>;
}

function weightSet(name: string, entries: WeightEntry[], sources: ByteSource[]): WeightSet {
  const map = new Map<string, WeightEntry>();
  for (const e of entries) {
    if (map.has(e.name)) throw new WeftError('E_FORMAT', `${name}: tensor ${e.name} appears twice (in ${map.get(e.name)!.source.name} and ${e.source.name})`);
    map.set(e.name, e);
  }
  return {
    name,
    entries: map,
    get(tensor) {
      const e = map.get(tensor);
      if (!e) throw new WeftError('E_MISSING', `tensor ${tensor} is missing from ${name}`);
      return e;
    },
    has: (tensor) => map.has(tensor),
    close: async () => {
      await Promise.all(sources.map((s) => s.close()));
    },
  };
}

/** GGUF type names → WeightEntry dtype: the plain floats in lower case, every other type by its ggml name. */
const GGUF_PLAIN: Record<string, string> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

/** GGUF dims are innermost first; entries get PyTorch order. */
export function weightsFromGguf(file: GgufFile): WeightSet {
  const entries = file.tensors.map((t) => ({
    name: t.name,
    dtype: GGUF_PLAIN[t.typeName] ?? t.typeName,
    shape: [...t.dims].reverse(),
    source: file.source,
    offset: t.offset,
    byteLength: t.byteLength,
  }));
  return weightSet(file.source.name, entries, [file.source]);
}

/** llama2.c tensors carry GGUF names and PyTorch shapes already; all are f32. */
export function weightsFromLlama2c(file: Llama2cFile): WeightSet {
  const entries = file.tensors.map((t) => ({ ...t, dtype: 'f32', source: file.source }));
  return weightSet(file.source.name, entries, [file.source]);
}

/**
 * Open a safetensors checkpoint (Node only): a `.safetensors` file, a `model.safetensors.index.json`, or a
 * folder holding either (the index wins, as in transformers). For a sharded checkpoint every tensor of the
 * weight map must be in the shard it names. On any error the files opened so far are closed.
 */
export async function openSafetensors(pathOrFolder: string): Promise<WeightSet> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const isFile = async (p: string): Promise<boolean> => (await fs.stat(p).catch(() => null))?.isFile() ?? false;
  const stat = await fs.stat(pathOrFolder).catch(() => null);
  if (!stat) throw new WeftError('E_MISSING', `no such file or folder: ${pathOrFolder}`);

  let file = pathOrFolder;
  if (stat.isDirectory()) {
    const index = path.join(pathOrFolder, 'model.safetensors.index.json');
    const single = path.join(pathOrFolder, 'model.safetensors');
    if (await isFile(index)) file = index;
    else if (await isFile(single)) file = single;
    else throw new WeftError('E_MISSING', `${pathOrFolder} holds neither model.safetensors nor model.safetensors.index.json`);
  }

  const sources: ByteSource[] = [];
  try {
    if (!file.endsWith('.index.json')) {
      const st = await readSafetensors(await openTracked(file, sources));
      return weightSet(file, st.tensors.map((t) => ({ ...t, dtype: t.dtype.toLowerCase(), source: st.source })), sources);
    }
    const index = parseSafetensorsIndex(await fs.readFile(file, 'utf8'), file);
    const folder = path.dirname(file);
    const entries: WeightEntry[] = [];
    for (const shard of new Set(index.weightMap.values())) {
      const st = await readSafetensors(await openTracked(path.join(folder, shard), sources));
      for (const t of st.tensors) {
        if (index.weightMap.get(t.name) !== shard) continue; // not this shard's per the index: transformers ignores it too
        entries.push({ ...t, dtype: t.dtype.toLowerCase(), source: st.source });
      }
    }
    const set = weightSet(file, entries, sources);
    for (const [tensor, shard] of index.weightMap) {
      if (!set.has(tensor)) throw new WeftError('E_MISSING', `${file}: the weight map puts tensor ${tensor} in ${shard}, which does not hold it`);
    }
    return set;
  } catch (e) {
    await Promise.all(sources.map((s) => s.close()));
    throw e;
  }
}

async function openTracked(path: string, opened: ByteSource[]): Promise<ByteSource> {
  const source = await fileSource(path);
  opened.push(source);
  return source;
}

/** Copy a tensor's bytes, exactly `entry.byteLength` of them, into `dst` (typically a view of wasm memory). */
export async function readTensorInto(entry: WeightEntry, dst: Uint8Array): Promise<void> {
  if (dst.length !== entry.byteLength) {
    throw new WeftError('E_OPTION', `tensor ${entry.name} is ${entry.byteLength} bytes but the destination holds ${dst.length}`);
  }
  await entry.source.readInto(entry.offset, dst);
}

/**
 * A tensor as f32, widening f16/bf16 (for small tensors: norms, biases; large ones go straight into wasm memory
 * through `readTensorInto`). Other dtypes are E_UNSUPPORTED.
 */
export async function readTensorF32(entry: WeightEntry): Promise<Float32Array> {
  const bytes = new Uint8Array(entry.byteLength);
  if (entry.dtype !== 'f32' && entry.dtype !== 'f16' && entry.dtype !== 'bf16') {
    throw new WeftError('E_UNSUPPORTED', `tensor ${entry.name} in ${entry.source.name} is ${entry.dtype}; only f32, f16 and bf16 can be read as f32`);
  }
  await readTensorInto(entry, bytes);
  // The files and wasm are little-endian, and so is every host weft runs on, so typed arrays read them directly.
  if (entry.dtype === 'f32') return new Float32Array(bytes.buffer);
  const halves = new Uint16Array(bytes.buffer);
  const out = new Float32Array(halves.length);
  const convert = entry.dtype === 'f16' ? f16ToF32 : bf16ToF32;
  for (let i = 0; i < halves.length; i++) out[i] = convert(halves[i]);
  return out;
}

/** IEEE half → float: exact (every f16 is an f32). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const bf16Scratch = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Scratch.buffer);
/** bfloat16 → float: the top half of an f32. */
export function bf16ToF32(h: number): number {
  bf16Bits[0] = h << 16;
  return bf16Scratch[0];
}
