/**
 * `loadModel`: from a path to a running model. It works out the format (a Hugging Face folder or .safetensors
 * file, a GGUF file, a llama2.c .bin), reads the hyper-parameters, lets the architecture module copy the weights
 * into wasm memory, and finds the tokenizer. On any error every allocation made for the model is released, so the
 * Runtime stays usable for the next load.
 */
import { WeftError } from '../errors.js';
import { openGguf, type GgufValue } from '../formats/gguf.js';
import { openLlama2c, type Llama2cConfig } from '../formats/llama2c.js';
import { openSafetensors, weightsFromGguf, weightsFromLlama2c } from '../formats/weights.js';
import { Runtime } from '../runtime/runtime.js';
import type { ThreadsOption } from '../runtime/threads.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigReader, type Json } from './config.js';
import type { LoadedModel } from './model.js';
import { architectureOf, type ModelSource } from './registry.js';

export interface LoadModelOptions {
  /** The Runtime to load into (shared by several models); a new one when absent. */
  runtime?: Runtime;
  /** A tokenizer file to use instead of the one found beside (or inside) the model. */
  tokenizer?: string;
  /** Positions the KV cache holds (default 4096); the model's maximum when that is smaller or this is larger. */
  contextLength?: number;
  /** Threads of the Runtime made when `runtime` is absent (see RuntimeOptions.threads). */
  threads?: ThreadsOption;
}

/** What a path holds, before any weight is copied. */
interface OpenedModel {
  modelType: string;
  source: ModelSource;
  /** The tokenizer file to use when the caller names none, or null. */
  tokenizerPath: string | null;
}

export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const start = performance.now();
  const rt = options.runtime ?? (await Runtime.create({ threads: options.threads }));
  try {
    const opened = await openModel(path);
    let built;
    try {
      const architecture = await architectureOf(opened.modelType, path);
      built = await architecture.build(rt, opened.source, { contextLength: options.contextLength });
    } finally {
      await opened.source.weights.close(); // every weight is in wasm memory now (or the load failed)
    }
    let tokenizer: Tokenizer | null = null;
    const tokenizerPath = options.tokenizer ?? opened.tokenizerPath;
    if (tokenizerPath !== null) {
      try {
        const { loadTokenizer } = await import('../tokenizers/index.js');
        tokenizer = await loadTokenizer(tokenizerPath);
      } catch (e) {
        built.model.dispose();
        throw e;
      }
    }
    if (!options.runtime) {
      // The model owns the Runtime made for it: disposing the model also ends that Runtime's worker threads.
      const model = built.model;
      const disposeModel = model.dispose.bind(model);
      model.dispose = () => {
        disposeModel();
        rt.dispose();
      };
    }
    return {
      model: built.model,
      tokenizer,
      generationConfig: opened.source.generationConfig,
      source: path,
      loadMs: performance.now() - start,
      weightBytes: built.weightBytes,
      nonFinite: built.nonFinite,
    };
  } catch (e) {
    if (!options.runtime) rt.dispose();
    throw e;
  }
}

async function openModel(path: string): Promise<OpenedModel> {
  const fs = await import('node:fs/promises');
  const stat = await fs.stat(path).catch(() => null);
  if (!stat) throw new WeftError('E_MISSING', `no such model file or folder: ${path}`);
  if (stat.isDirectory() || path.endsWith('.safetensors') || path.endsWith('.safetensors.index.json')) return openHf(path, stat.isDirectory());
  if (path.endsWith('.gguf')) return openGgufModel(path);
  if (path.endsWith('.bin')) return openLlama2cModel(path);
  throw new WeftError('E_UNSUPPORTED', `${path}: unknown model format; give a folder (config.json + safetensors), a .safetensors, a .gguf or a llama2.c .bin file`);
}

/** A Hugging Face checkpoint: config.json (required), generation_config.json and tokenizer.json beside the weights. */
async function openHf(path: string, isFolder: boolean): Promise<OpenedModel> {
  const { join, dirname } = await import('node:path');
  const folder = isFolder ? path : dirname(path);
  const configPath = join(folder, 'config.json');
  const config = await readJson(configPath, true);
  const generationConfig = (await readJson(join(folder, 'generation_config.json'), false)) ?? {};
  const reader = new ConfigReader(config!, configPath);
  const modelType = reader.string('model_type');
  const weights = await openSafetensors(path);
  const tokenizerPath = join(folder, 'tokenizer.json');
  return { modelType, source: { format: 'hf', config: reader, generationConfig, weights }, tokenizerPath: (await exists(tokenizerPath)) ? tokenizerPath : null };
}

/** A GGUF file: hyper-parameters and (usually) the vocabulary in its metadata. */
async function openGgufModel(path: string): Promise<OpenedModel> {
  const file = await openGguf(path);
  const metadata: Json = {};
  for (const [key, value] of file.metadata) metadata[key] = toJson(value);
  const config = new ConfigReader(metadata, `${path} metadata`);
  return {
    modelType: config.string('general.architecture'),
    source: { format: 'gguf', config, generationConfig: {}, weights: weightsFromGguf(file) },
    tokenizerPath: config.has('tokenizer.ggml.model') ? path : null,
  };
}

/**
 * A llama2.c checkpoint. Its tensors carry GGUF names and the same interleaved RoPE pairs, so it loads as a GGUF
 * llama whose metadata is written here from the header. run.c's semantics: BOS is 1, and generation stops when
 * BOS is produced, so BOS is also the only stop id.
 */
async function openLlama2cModel(path: string): Promise<OpenedModel> {
  const { join, dirname } = await import('node:path');
  const file = await openLlama2c(path);
  const h: Llama2cConfig = file.config;
  const metadata: Json = {
    'general.architecture': 'llama',
    'llama.context_length': h.seqLen,
    'llama.embedding_length': h.dim,
    'llama.feed_forward_length': h.hiddenDim,
    'llama.block_count': h.nLayers,
    'llama.attention.head_count': h.nHeads,
    'llama.attention.head_count_kv': h.nKvHeads,
    'llama.rope.freq_base': 10000, // run.c: 1 / 10000^(2i / head_size)
    'llama.attention.layer_norm_rms_epsilon': 1e-5, // run.c rmsnorm
    'tokenizer.ggml.bos_token_id': 1,
    'tokenizer.ggml.eos_token_id': 1,
  };
  const config = new ConfigReader(metadata, `${path} header`);
  // run.c takes the tokenizer with -z; by default tokenizer.bin. The stories260K model ships with tok512.bin.
  let tokenizerPath: string | null = null;
  for (const name of ['tokenizer.bin', 'tok512.bin']) {
    if (await exists(join(dirname(path), name))) {
      tokenizerPath = join(dirname(path), name);
      break;
    }
  }
  return { modelType: 'llama', source: { format: 'gguf', config, generationConfig: {}, weights: weightsFromLlama2c(file) }, tokenizerPath };
}

/** Parse an opened file, closing it if the parse fails. */
/** GGUF integers above 2^53 arrive as bigint; hyper-parameters never are, so plain numbers are enough here. */
function toJson(value: GgufValue): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

async function exists(path: string): Promise<boolean> {
  const fs = await import('node:fs/promises');
  return (await fs.stat(path).catch(() => null))?.isFile() ?? false;
}

async function readJson(path: string, required: boolean): Promise<Json | null> {
  const fs = await import('node:fs/promises');
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    if (!required) return null;
    throw new WeftError('E_MISSING', `${path} is missing: a Hugging Face model folder needs its config.json`, { cause: e });
  }
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
    return json as Json;
  } catch (e) {
    throw new WeftError('E_FORMAT', `${path}: not a valid JSON object (${(e as Error).message})`, { cause: e });
  }
}
