/**
 * What the generator, the CLI and the benchmark see of a decoder-only language model. Each architecture file
 * (gpt2.ts, llama.ts, qwen2.ts) builds a `CausalLM`; `loadModel` (load.ts) picks the architecture from the source.
 */
import type { Runtime } from '../runtime/runtime.js';
import type { Tokenizer } from '../tokenizers/index.js';

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
}

export interface LoadedModel {
  model: CausalLM;
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

export { loadModel, LOAD_DTYPES, type LoadDType, type LoadModelOptions } from './load.js';
