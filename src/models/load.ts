/**
 * `loadModel`: from any source to a running model.
 *
 *   source ─ resolveModelFiles ─→ ModelFiles (+ the file named, if one)        files/resolve.ts
 *     └─ openModel: the format by magic bytes; every file opened (sizes → progress total) before a weight byte:
 *          config.json + safetensors (one file or an index and its shards)  → 'hf'
 *          GGUF (one file, or gguf-split parts)                            → 'gguf', tokenizer from the same header
 *          llama2.c .bin (+ tokenizer.bin / tok512.bin beside it)          → 'gguf' (GGUF names, metadata written here)
 *       └─ architecture.build: weights streamed into wasm memory          registry.ts, blocks/weights.ts
 *          └─ tokenizer (checked against the model's vocabulary)
 *
 * On any error (or abort) every allocation made for the model is released and every file closed, so the Runtime
 * stays usable for the next load.
 */
import { WeftError } from '../errors.js';
import { abortError, LoadSession, type LoadProgress, type ModelFiles } from '../files/model-files.js';
import { resolveModelFiles, type ModelInput, type SourceOptions } from '../files/resolve.js';
import { readGguf, type GgufFile, type GgufValue } from '../formats/gguf.js';
import { readLlama2c, type Llama2cConfig } from '../formats/llama2c.js';
import { parseJsonBytes } from '../formats/json.js';
import { parseWith, type ByteSource } from '../formats/source.js';
import { openSafetensorsFiles, readSafetensorsWeights, weightsFromGgufSplits, weightsFromLlama2c } from '../formats/weights.js';
import type { QuantType } from '../runtime/quant.js';
import { Runtime } from '../runtime/runtime.js';
import type { ThreadsOption } from '../runtime/threads.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigReader, type Json } from './config.js';
import type { CausalLM, EncoderModel, LoadedModel, Model, ModelSource, Pooling, PoolingDefaults, Seq2SeqLM } from './model.js';
import { architectureOf } from './registry.js';

export interface LoadModelOptions extends SourceOptions {
  /** The Runtime to load into (shared by several models); a new one when absent. */
  runtime?: Runtime;
  /** A tokenizer to use instead of the one found beside (or inside) the model: any source loadModel takes. */
  tokenizer?: ModelInput;
  /** Positions the KV cache holds (default 4096); the model's maximum when that is smaller or this is larger. */
  contextLength?: number;
  /** Threads of the Runtime made when `runtime` is absent (see RuntimeOptions.threads). */
  threads?: ThreadsOption;
  /** Called as bytes arrive; `total` (every file's size) is final from the first call. */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * Quantize the float (f32/f16/bf16) linear weights and embedding tables while loading, with ggml's quantizer:
   * 'q8_0' and 'q4_0' give the same bytes as ggml's quantize_row_q8_0/q4_0; 'q4_k' (K-quants need rows that are
   * a multiple of 256). Tensors whose rows are not whole blocks stay as they are, and so do tensors a GGUF file
   * already stores quantized. Norms and biases stay f32.
   */
  dtype?: LoadDType;
}

/** The quantize-on-load choices of `LoadModelOptions.dtype`. */
export const LOAD_DTYPES = { q8_0: 'Q8_0', q4_0: 'Q4_0', q4_k: 'Q4_K' } as const;
export type LoadDType = keyof typeof LOAD_DTYPES;

function quantizeOption(dtype: string | undefined): QuantType | undefined {
  if (dtype === undefined) return undefined;
  if (!Object.prototype.hasOwnProperty.call(LOAD_DTYPES, dtype)) {
    throw new WeftError('E_OPTION', `dtype "${dtype}" is not one weft quantizes to on load (${Object.keys(LOAD_DTYPES).join(', ')})`);
  }
  return LOAD_DTYPES[dtype as LoadDType];
}

/** What the files hold, every file opened, before any weight is copied. */
interface OpenedModel {
  modelType: string;
  source: ModelSource;
  /** Builds the tokenizer found with the model, or null when there is none. */
  tokenizer: ((modelVocab: number) => Promise<Tokenizer>) | null;
}

/** A decoder-only language model (for `generate`, `stream`, `chat`); another kind is an E_UNSUPPORTED error. */
export async function loadModel(input: ModelInput, options: LoadModelOptions = {}): Promise<LoadedModel<CausalLM>> {
  return loadOfKind(input, options, 'causal-lm', 'a decoder-only language model; load encoders with loadEncoder, encoder-decoders (T5, BART, Marian) with loadSeq2Seq');
}

/** An encoder-decoder language model (T5, BART, Marian; for `generate` and `stream`). */
export async function loadSeq2Seq(input: ModelInput, options: LoadModelOptions = {}): Promise<LoadedModel<Seq2SeqLM>> {
  return loadOfKind(input, options, 'encoder-decoder', 'an encoder-decoder; load it with loadModel (decoder-only) or loadEncoder');
}

/** Either kind of language model, for callers that generate from whatever they are given (the CLI). */
export async function loadLanguageModel(input: ModelInput, options: LoadModelOptions = {}): Promise<LoadedModel<CausalLM | Seq2SeqLM>> {
  return loadOfKind(input, options, ['causal-lm', 'encoder-decoder'], 'a language model for generation; load it with loadEncoder and use embed or classify');
}

/** An encoder (BERT, RoBERTa, XLM-RoBERTa, DistilBERT; for `embed` and `classify`). */
export async function loadEncoder(input: ModelInput, options: LoadModelOptions = {}): Promise<LoadedModel<EncoderModel>> {
  return loadOfKind(input, options, 'encoder', 'an encoder; load it with loadModel and use generate');
}

async function loadOfKind<K extends Model['kind']>(input: ModelInput, options: LoadModelOptions, kind: K | K[], isNot: string): Promise<LoadedModel<Extract<Model, { kind: K }>>> {
  const lm = await loadAny(input, options);
  if (!(Array.isArray(kind) ? (kind as string[]).includes(lm.model.kind) : lm.model.kind === kind)) {
    const what = lm.model.config.modelType;
    lm.model.dispose();
    if (!options.runtime) lm.model.runtime.dispose();
    throw new WeftError('E_UNSUPPORTED', `${lm.source}: a ${what} model is not ${isNot}`);
  }
  return lm as LoadedModel<Extract<Model, { kind: K }>>;
}

/** Any model the registry knows, whatever its family. */
export async function loadAny(input: ModelInput, options: LoadModelOptions = {}): Promise<LoadedModel<Model>> {
  const start = performance.now();
  checkOptions(options);
  const session = new LoadSession(options.onProgress, options.signal);
  const onDownload = (where: string, bytes: number) => session.downloaded(where, bytes);
  const rt = options.runtime ?? (await Runtime.create({ threads: options.threads }));
  let dispose: (() => void) | null = null;
  try {
    const { files, main } = await resolveModelFiles(input, options, onDownload);
    let ownTokenizer: ((modelVocab: number) => Promise<Tokenizer>) | null = null;
    if (options.tokenizer !== undefined) {
      const given = await resolveModelFiles(options.tokenizer, options, onDownload);
      const tokenizerFiles = session.opener(given.files);
      await tokenizerFiles.open(given.main ?? 'tokenizer.json'); // opened now, so its size is in the total
      ownTokenizer = (vocab) => tokenizerFrom(tokenizerFiles, given.main, vocab);
    }
    const opened = await openModel(files, session.opener(files), main, session);
    let built;
    try {
      const architecture = await architectureOf(opened.modelType, opened.source.weights.name);
      built = await architecture.build(rt, opened.source, { contextLength: options.contextLength, quantize: quantizeOption(options.dtype) });
    } finally {
      await opened.source.weights.close(); // every weight is in wasm memory now (or the load failed)
    }
    const model = built.model;
    dispose = () => model.dispose();
    const makeTokenizer = ownTokenizer ?? opened.tokenizer;
    const tokenizer = makeTokenizer ? await makeTokenizer(model.config.vocabSize) : null;
    if (tokenizer) checkVocabulary(tokenizer, model.config.vocabSize, opened.source.weights.name);
    await session.finish();
    if (!options.runtime) {
      // The model owns the Runtime made for it: disposing the model also ends that Runtime's worker threads.
      const disposeModel = model.dispose.bind(model);
      model.dispose = () => {
        disposeModel();
        rt.dispose();
      };
    }
    return {
      model,
      tokenizer,
      generationConfig: opened.source.generationConfig,
      source: main === null ? files.name : files.where(main),
      loadMs: performance.now() - start,
      weightBytes: built.weightBytes,
      nonFinite: built.nonFinite,
    };
  } catch (e) {
    dispose?.();
    await session.close();
    if (!options.runtime) rt.dispose();
    throw e;
  }
}

/** The options as a caller wrote them: each mistake an E_OPTION saying what was expected. */
function checkOptions(options: LoadModelOptions): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new WeftError('E_OPTION', `loadModel: options must be an object (or left out), got ${String(options)}`);
  if (options.runtime !== undefined && !(options.runtime instanceof Runtime)) throw new WeftError('E_OPTION', 'loadModel: option runtime must be a Runtime (from Runtime.create())');
  if (options.signal !== undefined && !(typeof AbortSignal !== 'undefined' && options.signal instanceof AbortSignal)) {
    throw new WeftError('E_OPTION', 'option signal must be an AbortSignal');
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new WeftError('E_OPTION', 'option onProgress must be a function');
  if (options.retries !== undefined && !(Number.isInteger(options.retries) && options.retries >= 0)) throw new WeftError('E_OPTION', `option retries must be an integer ≥ 0, got ${options.retries}`);
  if (options.signal?.aborted) throw abortError(options.signal);
}

/**
 * A tokenizer whose ids reach past the model's vocabulary would fail only at generation ("token id 7454 outside the
 * vocabulary"): refuse the pair at load, naming both files. A smaller tokenizer is fine (embedding rows are often
 * padded to a multiple of 64 or 128).
 */
function checkVocabulary(tokenizer: Tokenizer, modelVocab: number, modelName: string): void {
  if (tokenizer.vocabSize > modelVocab) {
    throw new WeftError(
      'E_FORMAT',
      `the tokenizer ${tokenizer.name} has ids up to ${tokenizer.vocabSize - 1} but the model ${modelName} has a vocabulary of ${modelVocab}: they do not belong together (give the model's own tokenizer)`,
    );
  }
}

/** `modelVocab`: a llama2.c tokenizer.bin is read to exactly the model's vocabulary size, as run.c does. */
async function tokenizerFrom(files: ModelFiles, file: string | null, modelVocab: number): Promise<Tokenizer> {
  const { tokenizerFromFiles } = await import('../tokenizers/index.js');
  return tokenizerFromFiles(files, file, { vocabSize: modelVocab });
}

const SPLIT_GGUF = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/**
 * Which format `main` (or, for a folder, the set) holds, by content: "GGUF" magic; a JSON object (a safetensors
 * index, or config.json); a safetensors file (an 8-byte header length, then '{'); else a llama2.c checkpoint,
 * whose header readLlama2c validates. A folder is Hugging Face when it has config.json, else the one GGUF model
 * among its files (a set of gguf-split parts counts as one).
 */
async function openModel(raw: ModelFiles, files: ModelFiles, main: string | null, session: LoadSession): Promise<OpenedModel> {
  if (main === null) {
    if (await files.open('config.json')) return openHf(files, '', null, session);
    if ((await raw.list()) === null) {
      throw new WeftError('E_MISSING', `${files.where('config.json')} is missing: a Hugging Face model needs its config.json (for a GGUF file of a repository, name it: org/name/file.gguf)`);
    }
    const gguf = await findGguf(raw);
    if (gguf) return openGgufModel(files, gguf, session);
    throw new WeftError('E_MISSING', `${files.name}: no config.json (a Hugging Face model) and no single GGUF model among the files; name the model file`);
  }
  const source = await files.open(main);
  if (!source) throw new WeftError('E_MISSING', `no such model file: ${files.where(main)}`);
  const head = await source.read(0, Math.min(28, source.size));
  const dir = main.includes('/') ? main.slice(0, main.lastIndexOf('/') + 1) : '';
  if (String.fromCharCode(...head.subarray(0, 4)) === 'GGUF') return openGgufModel(files, main, session);
  if (head[0] === 0x7b /* '{' */) return openHf(files, dir, main.endsWith('config.json') ? null : main, session);
  if (head.length >= 9 && head[8] === 0x7b && head[4] === 0 && head[5] === 0 && head[6] === 0 && head[7] === 0) return openHf(files, dir, main, session);
  if (looksLikeLlama2c(head)) return openLlama2cModel(files, main, session);
  throw new WeftError(
    'E_UNSUPPORTED',
    `${files.where(main)}: unknown model format (not GGUF, safetensors, a safetensors index, config.json or a llama2.c checkpoint); give a Hugging Face folder, a .safetensors, a .gguf or a llama2.c .bin file`,
  );
}

/** llama2.c's header: 7 int32 (dim, hidden, layers, heads, kv heads, vocab — negative when unshared —, seq len), all plausible. */
function looksLikeLlama2c(head: Uint8Array): boolean {
  if (head.length < 28) return false;
  const view = new DataView(head.buffer, head.byteOffset, 28);
  const fields = Array.from({ length: 7 }, (_, i) => view.getInt32(4 * i, true));
  fields[5] = Math.abs(fields[5]);
  return fields.every((v) => v > 0 && v < 1 << 24);
}

/** The one GGUF model of a listable set (the first part of a split one), or null. Sniffs without tracking. */
async function findGguf(files: ModelFiles): Promise<string | null> {
  const found: string[] = [];
  for (const name of (await files.list()) ?? []) {
    const split = SPLIT_GGUF.exec(name);
    if (split && Number(split[2]) !== 1) continue;
    const source = await files.open(name);
    if (!source) continue;
    try {
      if (source.size >= 4 && String.fromCharCode(...(await source.read(0, 4))) === 'GGUF') found.push(name);
    } finally {
      await source.close();
    }
  }
  if (found.length > 1) throw new WeftError('E_OPTION', `${files.name} holds several GGUF models (${found.join(', ')}); name the one to load`);
  return found[0] ?? null;
}

/**
 * A Hugging Face checkpoint: config.json (required), generation_config.json and tokenizer.json beside the weights.
 * `weights`: the .safetensors file or index named by the caller, or null to find it.
 */
async function openHf(files: ModelFiles, dir: string, weights: string | null, session: LoadSession): Promise<OpenedModel> {
  const configName = `${dir}config.json`;
  const config = await readJson(files, configName, 'a Hugging Face model needs its config.json beside the weights');
  const generationConfig = (await readJson(files, `${dir}generation_config.json`, null)) ?? {};
  const reader = new ConfigReader(config!, files.where(configName));
  const modelType = reader.string('model_type');
  const hasTokenizer = (await files.open(`${dir}tokenizer.json`)) !== null;
  if (hasTokenizer) await files.open(`${dir}tokenizer_config.json`); // counted in the total now, read with the tokenizer
  const opened = await openSafetensorsFiles(files, weights ?? (dir ? `${dir}model.safetensors` : null));
  const poolingDefaults = await readSentenceTransformers(files, dir);
  session.begin();
  const set = await readSafetensorsWeights(opened);
  return {
    modelType,
    source: { format: 'hf', config: reader, generationConfig, weights: set, poolingDefaults },
    tokenizer: hasTokenizer ? (vocab) => tokenizerFrom(files, `${dir}tokenizer.json`, vocab) : null,
  };
}

/** A GGUF model, one file or every part of a gguf-split set: hyper-parameters and (usually) the vocabulary inside. */
async function openGgufModel(files: ModelFiles, main: string, session: LoadSession): Promise<OpenedModel> {
  const split = SPLIT_GGUF.exec(main);
  const names = split ? Array.from({ length: Number(split[3]) }, (_, i) => `${split[1]}-${String(i + 1).padStart(5, '0')}-of-${split[3]}.gguf`) : [main];
  const sources: ByteSource[] = [];
  for (const name of names) {
    const source = await files.open(name);
    if (!source) throw new WeftError('E_MISSING', `${files.where(name)} is missing: ${files.where(main)} is part ${Number(split![2])} of a model split in ${names.length} files`);
    sources.push(source);
  }
  session.begin();
  const parts: GgufFile[] = [];
  for (const source of sources) parts.push(await parseWith(source, readGguf));
  const weights = weightsFromGgufSplits(parts);
  const first = parts[0];
  const metadata: Json = {};
  for (const [key, value] of first.metadata) metadata[key] = toJson(value);
  const config = new ConfigReader(metadata, `${first.source.name} metadata`);
  const tokenizer = config.has('tokenizer.ggml.model')
    ? async () => {
        const { tokenizerFromGguf } = await import('../tokenizers/index.js');
        return tokenizerFromGguf(first); // the header already read: the file is not opened again
      }
    : null;
  return { modelType: config.string('general.architecture'), source: { format: 'gguf', config, generationConfig: {}, weights, poolingDefaults: ggufPooling(config) }, tokenizer };
}

/**
 * A llama2.c checkpoint. Its tensors carry GGUF names and the same interleaved RoPE pairs, so it loads as a GGUF
 * llama whose metadata is written here from the header. run.c's semantics: BOS is 1, and generation stops when
 * BOS is produced, so BOS is also the only stop id.
 */
async function openLlama2cModel(files: ModelFiles, main: string, session: LoadSession): Promise<OpenedModel> {
  const dir = main.includes('/') ? main.slice(0, main.lastIndexOf('/') + 1) : '';
  // run.c takes the tokenizer with -z; by default tokenizer.bin. The stories260K model ships with tok512.bin.
  let tokenizerName: string | null = null;
  for (const name of [`${dir}tokenizer.bin`, `${dir}tok512.bin`]) {
    if (await files.open(name)) {
      tokenizerName = name;
      break;
    }
  }
  session.begin();
  const file = await parseWith((await files.open(main))!, readLlama2c);
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
  const config = new ConfigReader(metadata, `${files.where(main)} header`);
  return {
    modelType: 'llama',
    source: { format: 'gguf', config, generationConfig: {}, weights: weightsFromLlama2c(file), poolingDefaults: null },
    tokenizer: tokenizerName === null ? null : (vocab) => tokenizerFrom(files, tokenizerName, vocab),
  };
}

/** GGUF integers above 2^53 arrive as bigint; hyper-parameters never are, so plain numbers are enough here. */
function toJson(value: GgufValue): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

/** A JSON object file of the set (any JSON value with `object: false`); null when absent and `requiredWhy` is null. */
async function readJson(files: ModelFiles, name: string, requiredWhy: string | null, object = true): Promise<Json | null> {
  const source = await files.open(name);
  if (!source) {
    if (requiredWhy === null) return null;
    throw new WeftError('E_MISSING', `${files.where(name)} is missing: ${requiredWhy}`);
  }
  return parseJsonBytes(await source.read(0, source.size), files.where(name), 'E_FORMAT', { object }) as Json;
}

/**
 * A sentence-transformers folder: modules.json lists a Pooling module (its config.json names one mode) and maybe a
 * Normalize module. Null when there is no modules.json.
 */
async function readSentenceTransformers(files: ModelFiles, dir: string): Promise<PoolingDefaults | null> {
  const modulesName = `${dir}modules.json`;
  const modules = (await readJson(files, modulesName, null, false)) as unknown as Array<{ type?: unknown; path?: unknown }> | null;
  if (modules === null) return null;
  if (!Array.isArray(modules)) throw new WeftError('E_FORMAT', `${files.where(modulesName)}: should be a list of modules`);
  const types = modules.map((m) => String(m?.type ?? ''));
  const normalize = types.some((t) => t.endsWith('.Normalize'));
  const poolingModule = modules.find((m) => String(m?.type ?? '').endsWith('.Pooling'));
  if (!poolingModule) return { pooling: 'none', normalize };
  const configName = `${dir}${String(poolingModule.path ?? '1_Pooling')}/config.json`;
  const c = (await readJson(files, configName, 'modules.json names this Pooling module'))!;
  const modes: Record<string, Pooling> = { pooling_mode_cls_token: 'cls', pooling_mode_mean_tokens: 'mean', pooling_mode_max_tokens: 'max' };
  const on = Object.keys(c).filter((k) => k.startsWith('pooling_mode_') && c[k] === true);
  if (on.length !== 1 || !(on[0] in modes)) {
    throw new WeftError('E_UNSUPPORTED', `${files.where(configName)}: pooling ${on.length ? on.join(' + ') : '(none set)'} is not supported; weft pools with exactly one of ${Object.keys(modes).join(', ')}`);
  }
  return { pooling: modes[on[0]!]!, normalize };
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
