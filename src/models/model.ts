/**
 * The model interface: what the generator, the embedding and classification tasks, the CLI and the benchmarks see
 * of a model, and what an architecture file must provide. Three families share the blocks in blocks/:
 *
 *   CausalLM      decoder-only (gpt2.ts, llama.ts, qwen2.ts):  forward(ids) → logits, one KV cache
 *   EncoderModel  encoder-only (bert.ts, roberta.ts, distilbert.ts):  encode(batch) → hidden states [+ pooler, head]
 *   (encoder-decoder models join as a third member of `Model`)
 *
 * Each architecture file exports an `Architecture` whose `build` reads its Config from a `ModelSource`, copies its
 * tensors into wasm memory and returns the model; `loadModel` / `loadEncoder` (load.ts) pick the architecture.
 */
import type { WeightSet } from '../formats/weights.js';
import type { QuantType } from '../runtime/quant.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Tokenizer } from '../tokenizers/index.js';
import type { ConfigReader, Json } from './config.js';

/** The few hyper-parameters every decoder shares; each architecture keeps its own fuller `Config`. */
export interface DecoderConfig {
  modelType: string;
  vocabSize: number;
  /** Positions the KV cache holds: the `contextLength` option (default 4096), at most the model's maximum. */
  contextLength: number;
  hiddenSize: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

export interface CausalLM {
  readonly kind: 'causal-lm';
  readonly config: DecoderConfig;
  readonly runtime: Runtime;
  /** Positions 0..cacheLength-1 are in the KV cache. */
  readonly cacheLength: number;
  /**
   * Append `ids` after the cached tokens (prefill as a matrix: many-row kernels); returns the logits of the last
   * position, or of every new position ([ids.length × vocab], row-major) with all: true. The returned array is a
   * copy owned by the caller. Throws WeftError 'E_CONTEXT' past contextLength (naming both numbers).
   */
  forward(ids: number[], options?: { all?: boolean }): Float32Array;
  /** Forget cached positions ≥ n (keeps a shared prompt prefix between chat turns). */
  truncate(n: number): void;
  reset(): void;
  /** Frees weights and KV cache; the Runtime stays usable. */
  dispose(): void;
  /**
   * Beam search (generation/beam.ts), for models that have it: `n` beams continuing the cached sequence, each
   * with its own KV cache up to `maxLength` positions; `stepBeams` makes beam b a continuation of (the previous
   * step's) beam parents[b] by ids[b] and returns every beam's logits [n × vocab]; `endBeams` frees the beams' caches.
   */
  beginBeams?(n: number, maxLength: number): void;
  stepBeams?(parents: readonly number[], ids: readonly number[]): Float32Array;
  endBeams?(): void;
}

// ---- encoders -------------------------------------------------------------------------------------------------

/** The hyper-parameters every encoder shares; each architecture keeps its own fuller `Config`. */
export interface EncoderConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  nLayers: number;
  nHeads: number;
  headDim: number;
  /** Longest sequence (special tokens included) the position table covers. */
  maxPositions: number;
  /** Rows of the token-type table (BERT: 2); 0 when the model has none. */
  typeVocabSize: number;
  padTokenId: number;
}

/**
 * A padded batch: `ids` rows all of one length T (pad the short ones), `mask` 1 for real tokens and 0 for padding
 * (default: all 1), `tokenTypes` the segment of each token (default: all 0).
 */
export interface EncoderBatch {
  ids: number[][];
  mask?: number[][];
  tokenTypes?: number[][];
}

/** Hidden states of a batch: `data` f32 [batch × length × hiddenSize], padded positions included. */
export interface HiddenStates {
  data: Float32Array;
  batch: number;
  length: number;
  hiddenSize: number;
}

/** A classification head and how to read its logits. */
export interface HeadInfo {
  /** 'sequence': one row of logits per text; 'token': one per token. */
  kind: 'sequence' | 'token';
  /** id2label, by class index. */
  labels: string[];
  /** softmax for single-label, sigmoid for multi-label; regression logits are returned as they are. */
  problemType: 'single_label_classification' | 'multi_label_classification' | 'regression';
}

/** How sentence-transformers (modules.json, 1_Pooling/config.json, a Normalize module) pools this checkpoint. */
export interface PoolingDefaults {
  pooling: Pooling;
  normalize: boolean;
}

export type Pooling = 'mean' | 'cls' | 'max' | 'pooler' | 'none';

export interface EncoderOutput {
  hidden: HiddenStates;
  /** BERT's pooler output f32 [batch × hiddenSize] (tanh of a dense layer over the first token), when asked. */
  pooled: Float32Array | null;
  /** The head's logits, when asked: f32 [batch × labels] or, for a token head, [batch × length × labels]. */
  logits: Float32Array | null;
}

export interface EncoderModel {
  readonly kind: 'encoder';
  readonly config: EncoderConfig;
  readonly runtime: Runtime;
  /** The classification head, or null for a bare encoder. */
  readonly head: HeadInfo | null;
  readonly hasPooler: boolean;
  /** From a sentence-transformers folder; null otherwise. */
  readonly poolingDefaults: PoolingDefaults | null;
  /**
   * Runs the batch (one matrix for the linear layers; attention per text over its own unmasked keys). Throws
   * E_CONTEXT past maxPositions and E_OPTION for ragged rows, bad ids or token types.
   */
  encode(batch: EncoderBatch, outputs?: { pooler?: boolean; head?: boolean }): EncoderOutput;
  /** Frees the weights; the Runtime stays usable. */
  dispose(): void;
}

// ---- encoder-decoder -------------------------------------------------------------------------------------------

/** An encoder-decoder's hyper-parameters (the decoder's, plus what generation and the encoder need). */
export interface Seq2SeqConfig extends DecoderConfig {
  /** The decoder's first input id (T5, Marian: the pad id; BART: EOS). */
  decoderStartTokenId: number;
  /** Longest input the encoder takes. */
  maxSourcePositions: number;
}

/**
 * An encoder-decoder language model (t5.ts, bart.ts, marian.ts): `encode(ids)` runs the encoder once and computes
 * every decoder layer's cross-attention keys and values; then `forward` decodes like a CausalLM's, with its own
 * self-attention KV cache (cleared by encode). Beam search drives it through the beam methods.
 */
export interface Seq2SeqLM extends Omit<CausalLM, 'kind' | 'config'> {
  readonly kind: 'encoder-decoder';
  readonly config: Seq2SeqConfig;
  /** The encoder's last hidden state f32 [ids.length × hiddenSize]. Throws E_CONTEXT past maxSourcePositions. */
  encode(ids: number[]): Float32Array;
}

/** Any model `load.ts` can build. */
export type Model = CausalLM | EncoderModel | Seq2SeqLM;

// ---- what an architecture gets and gives --------------------------------------------------------------------

/** Everything an architecture reads to build its model. */
export interface ModelSource {
  /**
   * 'hf': config.json + safetensors. 'gguf': GGUF metadata + tensors (llama.cpp names). A llama2.c `.bin` arrives
   * as 'gguf' too: its tensors carry GGUF names and load.ts writes its header as GGUF metadata.
   */
  format: 'hf' | 'gguf';
  /** config.json, or the GGUF metadata by key ("llama.block_count", ...). */
  config: ConfigReader;
  /** generation_config.json ({} when absent or for GGUF). */
  generationConfig: Json;
  weights: WeightSet;
  /** A sentence-transformers folder's pooling (modules.json); null otherwise. */
  poolingDefaults: PoolingDefaults | null;
}

export interface BuildOptions {
  /** Cap on the KV cache (and RoPE table) length; the model's own maximum when absent or larger. */
  contextLength?: number;
  /** Quantize float weights to this type while loading (LoadModelOptions.dtype). */
  quantize?: QuantType;
}

export interface BuiltModel<M extends Model = Model> {
  model: M;
  weightBytes: number;
  nonFinite: number;
}

export interface Architecture {
  build(rt: Runtime, source: ModelSource, options: BuildOptions): Promise<BuiltModel>;
}

export interface LoadedModel<M extends Model = CausalLM> {
  model: M;
  tokenizer: Tokenizer | null;
  generationConfig: Record<string, unknown>;
  /** The path the model was loaded from. */
  source: string;
  loadMs: number;
  /** Bytes of weights copied into wasm memory. */
  weightBytes: number;
  /** Count of NaN/Inf weight values: allowed, but reported. */
  nonFinite: number;
}

export { loadModel, loadEncoder, loadSeq2Seq, loadLanguageModel, LOAD_DTYPES, type LoadDType, type LoadModelOptions } from './load.js';
