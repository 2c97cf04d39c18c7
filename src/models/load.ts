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
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigReader, type Json } from './config.js';
import type { CausalLM, EncoderModel, LoadedModel, Model, ModelSource, Pooling, PoolingDefaults, Seq2SeqLM } from './model.js';
import { architectureOf } from './registry.js';

export interface LoadModelOptions {
  /** The Runtime to load into (shared by several models); a new one when absent. */
  runtime?: Runtime;
  /** A tokenizer file to use instead of the one found beside (or inside) the model. */
  tokenizer?: string;
  /** Positions the KV cache holds (default 4096); the model's maximum when that is smaller or this is larger. */
  contextLength?: number;
}

/** What a path holds, before any weight is copied. */
interface OpenedModel {
  modelType: string;
  source: ModelSource;
  /** The tokenizer file to use when the caller names none, or null. */
  tokenizerPath: string | null;
}

/** A decoder-only language model (for `generate`, `stream`, `chat`); another kind is an E_UNSUPPORTED error. */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<LoadedModel<CausalLM>> {
  return loadOfKind(path, options, 'causal-lm', 'a decoder-only language model; load encoders with loadEncoder, encoder-decoders (T5, BART, Marian) with loadSeq2Seq');
}

/** An encoder-decoder language model (T5, BART, Marian; for `generate` and `stream`). */
export async function loadSeq2Seq(path: string, options: LoadModelOptions = {}): Promise<LoadedModel<Seq2SeqLM>> {
  return loadOfKind(path, options, 'encoder-decoder', 'an encoder-decoder; load it with loadModel (decoder-only) or loadEncoder');
}

/** Either kind of language model, for callers that generate from whatever they are given (the CLI). */
export async function loadLanguageModel(path: string, options: LoadModelOptions = {}): Promise<LoadedModel<CausalLM | Seq2SeqLM>> {
  return loadOfKind(path, options, ['causal-lm', 'encoder-decoder'], 'a language model for generation; load it with loadEncoder and use embed or classify');
}

/** An encoder (BERT, RoBERTa, XLM-RoBERTa, DistilBERT; for `embed` and `classify`). */
export async function loadEncoder(path: string, options: LoadModelOptions = {}): Promise<LoadedModel<EncoderModel>> {
  return loadOfKind(path, options, 'encoder', 'an encoder; load it with loadModel and use generate');
}

async function loadOfKind<K extends Model['kind']>(path: string, options: LoadModelOptions, kind: K | K[], isNot: string): Promise<LoadedModel<Extract<Model, { kind: K }>>> {
  const lm = await loadAny(path, options);
  if (!(Array.isArray(kind) ? (kind as string[]).includes(lm.model.kind) : lm.model.kind === kind)) {
    const what = lm.model.config.modelType;
    lm.model.dispose();
    if (!options.runtime) lm.model.runtime.dispose();
    throw new WeftError('E_UNSUPPORTED', `${path}: a ${what} model is not ${isNot}`);
  }
  return lm as LoadedModel<Extract<Model, { kind: K }>>;
}

/** Any model the registry knows, whatever its family. */
export async function loadAny(path: string, options: LoadModelOptions = {}): Promise<LoadedModel<Model>> {
  const start = performance.now();
  const rt = options.runtime ?? (await Runtime.create());
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
  const poolingDefaults = await readSentenceTransformers(folder);
  const weights = await openSafetensors(path);
  const tokenizerPath = join(folder, 'tokenizer.json');
  return { modelType, source: { format: 'hf', config: reader, generationConfig, weights, poolingDefaults }, tokenizerPath: (await exists(tokenizerPath)) ? tokenizerPath : null };
}

/**
 * A sentence-transformers folder: modules.json lists a Pooling module (its config.json names one mode) and maybe a
 * Normalize module. Null when there is no modules.json.
 */
async function readSentenceTransformers(folder: string): Promise<PoolingDefaults | null> {
  const { join } = await import('node:path');
  const modulesPath = join(folder, 'modules.json');
  const modules = (await readJsonValue(modulesPath, false)) as Array<{ type?: unknown; path?: unknown }> | null;
  if (modules === null) return null;
  if (!Array.isArray(modules)) throw new WeftError('E_FORMAT', `${modulesPath}: should be a list of modules`);
  const types = modules.map((m) => String(m?.type ?? ''));
  const normalize = types.some((t) => t.endsWith('.Normalize'));
  const poolingModule = modules.find((m) => String(m?.type ?? '').endsWith('.Pooling'));
  if (!poolingModule) return { pooling: 'none', normalize };
  const configPath = join(folder, String(poolingModule.path ?? '1_Pooling'), 'config.json');
  const c = (await readJson(configPath, true))!;
  const modes: Record<string, Pooling> = { pooling_mode_cls_token: 'cls', pooling_mode_mean_tokens: 'mean', pooling_mode_max_tokens: 'max' };
  const on = Object.keys(c).filter((k) => k.startsWith('pooling_mode_') && c[k] === true);
  if (on.length !== 1 || !(on[0] in modes)) {
    throw new WeftError('E_UNSUPPORTED', `${configPath}: pooling ${on.length ? on.join(' + ') : '(none set)'} is not supported; weft pools with exactly one of ${Object.keys(modes).join(', ')}`);
  }
  return { pooling: modes[on[0]], normalize };
}

/** A GGUF file: hyper-parameters and (usually) the vocabulary in its metadata. */
async function openGgufModel(path: string): Promise<OpenedModel> {
  const file = await openGguf(path);
  const metadata: Json = {};
  for (const [key, value] of file.metadata) metadata[key] = toJson(value);
  const config = new ConfigReader(metadata, `${path} metadata`);
  return {
    modelType: config.string('general.architecture'),
    source: { format: 'gguf', config, generationConfig: {}, weights: weightsFromGguf(file), poolingDefaults: ggufPooling(config) },
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
  return { modelType: 'llama', source: { format: 'gguf', config, generationConfig: {}, weights: weightsFromLlama2c(file), poolingDefaults: null }, tokenizerPath };
}

/** llama.cpp's `<arch>.pooling_type` (enum llama_pooling_type: 0 none, 1 mean, 2 cls, 3 last, 4 rank), for encoders. */
function ggufPooling(config: ConfigReader): PoolingDefaults | null {
  const arch = config.string('general.architecture');
  const key = `${arch}.pooling_type`;
  if (!config.has(key)) return null;
  const pooling = ({ 0: 'none', 1: 'mean', 2: 'cls' } as Record<number, Pooling>)[config.int(key)];
  // llama.cpp's embedding example L2-normalises by default (embd_normalize 2).
  return pooling ? { pooling, normalize: true } : null;
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
  const json = await readJsonValue(path, required);
  if (json !== null && (typeof json !== 'object' || Array.isArray(json))) throw new WeftError('E_FORMAT', `${path}: not a valid JSON object`);
  return json as Json | null;
}

async function readJsonValue(path: string, required: boolean): Promise<unknown> {
  const fs = await import('node:fs/promises');
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    if (!required) return null;
    throw new WeftError('E_MISSING', `${path} is missing${path.endsWith('config.json') ? ': a Hugging Face model folder needs it' : ''}`, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new WeftError('E_FORMAT', `${path}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
}
