/**
 * weft's public API. Everything here runs in Node, browsers and Workers alike, except the functions that take a
 * file path (`loadModel`, `loadTokenizer`, `fileSource`, `openSafetensors`), which are Node-only and load
 * `node:fs` on demand.
 */
export { WeftError, type WeftErrorCode } from './errors.js';

// runtime: the wasm instance, its memory and tensors
export { Runtime, relaxedSimdSupported, type RuntimeOptions, type WasmSource } from './runtime/runtime.js';
export type { Tensor, DType, Layout } from './runtime/tensor.js';
export type { Kernels } from './runtime/kernels.js';

// weights
export { bytesSource, fileSource, blobSource, type ByteSource } from './formats/source.js';
export { readGguf, type GgufFile, type GgufValue } from './formats/gguf.js';
export { openSafetensors, weightsFromGguf, type WeightSet, type WeightEntry } from './formats/weights.js';

// models
export {
  loadModel,
  loadEncoder,
  loadSeq2Seq,
  loadLanguageModel,
  type CausalLM,
  type Seq2SeqLM,
  type Seq2SeqConfig,
  type DecoderConfig,
  type LoadedModel,
  type EncoderModel,
  type EncoderConfig,
  type EncoderBatch,
  type EncoderOutput,
  type HiddenStates,
  type Model,
  type Pooling,
} from './models/model.js';

// encoder tasks
export { embed, cosineSimilarity, type EmbedOptions, type TokenInput } from './tasks/embed.js';
export { classify, type Classification, type Entity, type LabelScore, type ClassifyOptions } from './tasks/classify.js';

// tokenizers
export { Tokenizer, loadTokenizer, tokenizerFromJson, tokenizerFromGguf, tokenizerFromLlama2c } from './tokenizers/index.js';

// generation
export {
  generate,
  stream,
  chat,
  chatStream,
  type GenerateOptions,
  type GenerateResult,
  type FinishReason,
  type ChatMessage,
  type LanguageModel,
  type BeamSequence,
} from './generation/generate.js';
export { type BeamOptions } from './generation/beam.js';
export { type ConstraintOptions } from './generation/processors.js';
export { Sampler, Rng, type SamplingOptions } from './generation/sampling.js';
