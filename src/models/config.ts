/**
 * Reading hyper-parameters from a Hugging Face `config.json` (or any JSON-like record): every read names the
 * field and the file when the value is missing or has the wrong type, so a user can fix the file.
 */
import { WeftError } from '../errors.js';
import type { DecoderConfig } from './model.js';

export type Json = Record<string, unknown>;

export class ConfigReader {
  constructor(
    readonly json: Json,
    /** What error messages call the source: a file path, or "<file> metadata" for GGUF. */
    readonly where: string,
  ) {}

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  /** A non-negative integer field; `fallback` when absent, an E_MISSING error when absent without one. */
  int(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw this.wrong(key, v, 'a non-negative integer');
    return v;
  }

  number(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.wrong(key, v, 'a number');
    return v;
  }

  /** A finite number > 0 (RoPE base, scaling factors): 0 or less gives NaN or infinite activations, not a model. */
  positive(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (!(v > 0)) throw this.wrong(key, v, 'a number > 0');
    return v;
  }

  /** A finite number ≥ 0 (a norm's epsilon). */
  nonNegative(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    if (!(v >= 0)) throw this.wrong(key, v, 'a number ≥ 0');
    return v;
  }

  string(key: string, fallback?: string): string {
    const v = this.value(key, fallback);
    if (typeof v !== 'string') throw this.wrong(key, v, 'a string');
    return v;
  }

  bool(key: string, fallback?: boolean): boolean {
    const v = this.value(key, fallback);
    if (typeof v !== 'boolean') throw this.wrong(key, v, 'true or false');
    return v;
  }

  /** Token ids given as one integer or a list of integers (HF `eos_token_id`); [] when absent. */
  ids(key: string): number[] {
    const v = this.json[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) throw this.wrong(key, v, 'a token id or a list of token ids');
    return list as number[];
  }

  private value(key: string, fallback: unknown): unknown {
    const v = this.json[key];
    if (v !== undefined && v !== null) return v;
    if (fallback !== undefined) return fallback;
    throw new WeftError('E_MISSING', `${this.where}: the field "${key}" is missing`);
  }

  private wrong(key: string, v: unknown, what: string): WeftError {
    return new WeftError('E_FORMAT', `${this.where}: the field "${key}" should be ${what}, not ${JSON.stringify(v)}`);
  }
}

/**
 * Positions the KV cache holds when the caller does not say: a preallocated f32 cache for a model's full context
 * (128k positions for Llama 3.x) would not fit in wasm32's 4 GiB, and few prompts need it.
 */
export const DEFAULT_CONTEXT_LENGTH = 4096;

/** The KV cache length: the `contextLength` option (default 4096), at most the model's maximum. */
export function contextCapacity(modelMaximum: number, option: number | undefined): number {
  if (option === undefined) return Math.min(modelMaximum, DEFAULT_CONTEXT_LENGTH);
  if (!Number.isInteger(option) || option <= 0) throw new WeftError('E_OPTION', `contextLength ${option} is not a positive integer`);
  return Math.min(option, modelMaximum);
}

/**
 * BOS and EOS ids: generation_config.json wins over config.json (as transformers' generate does); GGUF files
 * name them in `tokenizer.ggml.*` metadata.
 */
export function specialTokenIds(format: 'hf' | 'gguf', config: ConfigReader, generationConfig: Json): { bosTokenId: number | null; eosTokenIds: number[] } {
  if (format === 'gguf') {
    const bos = config.ids('tokenizer.ggml.bos_token_id');
    return { bosTokenId: bos[0] ?? null, eosTokenIds: config.ids('tokenizer.ggml.eos_token_id') };
  }
  const generation = new ConfigReader(generationConfig, 'generation_config.json');
  const pick = (key: string) => (generation.has(key) ? generation.ids(key) : config.ids(key));
  return { bosTokenId: pick('bos_token_id')[0] ?? null, eosTokenIds: pick('eos_token_id') };
}

/** The consistency checks every decoder config must pass before any weight is read. */
export function checkDecoderConfig(config: DecoderConfig, where: string, rotaryDim: number | null): void {
  const sizes = { vocabSize: config.vocabSize, contextLength: config.contextLength, hiddenSize: config.hiddenSize, nLayers: config.nLayers, nHeads: config.nHeads, nKvHeads: config.nKvHeads, headDim: config.headDim };
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v <= 0) throw new WeftError('E_FORMAT', `${where}: ${name} works out as ${v}, not a positive integer`);
  }
  for (const id of [config.bosTokenId, ...config.eosTokenIds]) {
    if (id !== null && id >= config.vocabSize) throw new WeftError('E_FORMAT', `${where}: the BOS/EOS token id ${id} is outside the vocabulary of ${config.vocabSize}`);
  }
  if (config.nHeads % config.nKvHeads !== 0) {
    throw new WeftError('E_FORMAT', `${where}: ${config.nHeads} attention heads cannot be shared evenly by ${config.nKvHeads} key/value heads`);
  }
  if (rotaryDim !== null && !(rotaryDim > 0 && rotaryDim % 2 === 0 && rotaryDim <= config.headDim)) {
    throw new WeftError('E_FORMAT', `${where}: the rotary dimension ${rotaryDim} should be even and at most the head dimension ${config.headDim}`);
  }
}

/**
 * The decoder's first id for an encoder-decoder model, as HF's `_get_decoder_start_token_id`: decoder_start_token_id
 * from generation_config.json, then config.json, then bos_token_id; with none of them, an E_MISSING error.
 */
export function decoderStartTokenId(config: ConfigReader, generationConfig: Json): number {
  const generation = new ConfigReader(generationConfig, 'generation_config.json');
  for (const reader of [generation, config]) if (reader.has('decoder_start_token_id')) return reader.int('decoder_start_token_id');
  for (const reader of [generation, config]) if (reader.has('bos_token_id')) return reader.int('bos_token_id');
  throw new WeftError('E_MISSING', `${config.where}: an encoder-decoder model needs "decoder_start_token_id" (or "bos_token_id") to start the decoder; neither it nor generation_config.json gives one`);
}
