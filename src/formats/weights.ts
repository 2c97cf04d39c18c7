import { WeftError } from '../errors.js';
import type { GgufFile } from './gguf.js';
import type { Llama2cFile } from './llama2c.js';
import { parseSafetensorsIndex, readSafetensors, type SafetensorsIndex } from './safetensors.js';
import type { ByteSource } from './source.js';

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

function weightSet(name: string, entries: WeightEntry[], closeAll: () => Promise<void>): WeightSet {
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
    close: closeAll,
  };
}

async function closeSources(sources: ByteSource[]): Promise<void> {
  await Promise.all(sources.map((s) => s.close()));
}

/** GGUF type names → WeightEntry dtype: the plain floats in lower case, every other type by its ggml name. */
const GGUF_PLAIN: Record<string, string> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

/** GGUF dims are innermost first; entries get PyTorch order. */
export function weightsFromGguf(file: GgufFile): WeightSet {
  return weightsFromGgufSplits([file]);
}

/**
 * The tensors of a model split by llama.cpp's gguf-split (`name-00001-of-00003.gguf`, ...) as one set: each split
 * is a whole GGUF file whose `split.no` / `split.count` give its place; the first also holds all the model's
 * metadata, and `split.tensors.count` the tensor total. An unsplit file is the case of one split.
 */
export function weightsFromGgufSplits(splits: GgufFile[]): WeightSet {
  const first = splits[0];
  const count = first.metadata.get('split.count') ?? 1;
  if (count !== splits.length) {
    throw new WeftError('E_FORMAT', `${first.source.name}: metadata split.count is ${String(count)} but ${splits.length} split file(s) were given`);
  }
  splits.forEach((file, i) => {
    const no = file.metadata.get('split.no') ?? 0;
    if (no !== i) throw new WeftError('E_FORMAT', `${file.source.name}: metadata split.no is ${String(no)}, expected ${i} (split files out of order, or from different models?)`);
  });
  const entries = splits.flatMap((file) =>
    file.tensors.map((t) => ({
      name: t.name,
      dtype: GGUF_PLAIN[t.typeName] ?? t.typeName,
      shape: [...t.dims].reverse(),
      source: file.source,
      offset: t.offset,
      byteLength: t.byteLength,
    })),
  );
  const expected = first.metadata.get('split.tensors.count');
  if (expected !== undefined && expected !== entries.length) {
    throw new WeftError('E_FORMAT', `${first.source.name}: metadata split.tensors.count is ${String(expected)} but the ${splits.length} splits hold ${entries.length} tensors`);
  }
  return weightSet(first.source.name, entries, () => closeSources(splits.map((f) => f.source)));
}

/** llama2.c tensors carry GGUF names and PyTorch shapes already; all are f32. */
export function weightsFromLlama2c(file: Llama2cFile): WeightSet {
  const entries = file.tensors.map((t) => ({ ...t, dtype: 'f32', source: file.source }));
  return weightSet(file.source.name, entries, () => file.source.close());
}

/**
 * Named files as a format needs them: `open` returns a file's source (size known, nothing read yet) or null when
 * absent; `where` names it in messages. Formats never learn whether a name is a path, a URL or a Blob.
 */
export interface FileOpener {
  open(file: string): Promise<ByteSource | null>;
  where(file: string): string;
}

/** A safetensors checkpoint's files, opened (sizes known) but not parsed: one file, or an index and its shards. */
export interface SafetensorsFiles {
  /** The .safetensors file or the index, for messages. */
  name: string;
  index: SafetensorsIndex | null;
  shards: Array<{ file: string; source: ByteSource }>;
  close(): Promise<void>;
}

/**
 * Open a safetensors checkpoint among `files`: `file` is a `.safetensors` file or a `model.safetensors.index.json`;
 * null looks for either (the index wins, as in transformers). Every shard is opened, which learns its size, and
 * none is parsed, so a caller can sum the sizes before reading a weight byte (`readSafetensorsWeights` next).
 */
export async function openSafetensorsFiles(files: FileOpener, file: string | null): Promise<SafetensorsFiles> {
  const sources: ByteSource[] = [];
  const close = () => closeSources(sources);
  const open = async (name: string): Promise<ByteSource | null> => {
    const source = await files.open(name);
    if (source) sources.push(source);
    return source;
  };
  try {
    let main: ByteSource | null = null;
    if (file === null) {
      file = 'model.safetensors.index.json';
      main = await open(file);
      if (!main) {
        file = 'model.safetensors';
        main = await open(file);
      }
      if (!main) throw new WeftError('E_MISSING', `${files.where('')} holds neither model.safetensors nor model.safetensors.index.json`);
    } else {
      main = await open(file);
      if (!main) throw new WeftError('E_MISSING', `no such file: ${files.where(file)}`);
    }
    const name = files.where(file);
    // A safetensors file starts with its 8-byte header length; an index is JSON.
    const isIndex = main.size > 0 && (await main.read(0, 1))[0] === 0x7b; // '{'
    if (!isIndex) return { name, index: null, shards: [{ file, source: main }], close };
    const index = parseSafetensorsIndex(await main.read(0, main.size), name);
    const folder = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
    const shards: SafetensorsFiles['shards'] = [];
    for (const shard of new Set(index.weightMap.values())) {
      const source = await open(folder + shard);
      if (!source) throw new WeftError('E_MISSING', `${name}: the weight map names the shard ${shard}, but ${files.where(folder + shard)} does not exist`);
      shards.push({ file: shard, source });
    }
    return { name, index, shards, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Parse the opened checkpoint's headers into a WeightSet. For a sharded checkpoint every tensor of the weight map
 * must be in the shard it names. On any error every file is closed.
 */
export async function readSafetensorsWeights(opened: SafetensorsFiles): Promise<WeightSet> {
  try {
    const entries: WeightEntry[] = [];
    for (const { file, source } of opened.shards) {
      const st = await readSafetensors(source);
      for (const t of st.tensors) {
        if (opened.index && opened.index.weightMap.get(t.name) !== file) continue; // not this shard's per the index: transformers ignores it too
        entries.push({ ...t, dtype: t.dtype.toLowerCase(), source: st.source });
      }
    }
    const set = weightSet(opened.name, entries, opened.close);
    for (const [tensor, shard] of opened.index?.weightMap ?? []) {
      if (!set.has(tensor)) throw new WeftError('E_MISSING', `${opened.name}: the weight map puts tensor ${tensor} in ${shard}, which does not hold it`);
    }
    return set;
  } catch (e) {
    await opened.close();
    throw e;
  }
}

/** `openSafetensorsFiles` then `readSafetensorsWeights`. */
export async function openSafetensorsWeights(files: FileOpener, file: string | null): Promise<WeightSet> {
  return readSafetensorsWeights(await openSafetensorsFiles(files, file));
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
