/**
 * weft's public API. Everything here runs in Node, browsers and Workers alike: `loadModel` takes a path (Node), a
 * URL, a hub id, a File/Blob, bytes or a map of files. The functions that take a file path (`loadTokenizer`,
 * `fileSource`, `openSafetensors`, `openGguf`) are Node-only and load `node:fs` on demand; no module here imports a
 * `node:` module at its top level, so the package bundles for browsers and Workers.
 */
export { WeftError, type WeftErrorCode } from './errors.js';

// runtime: the wasm instance, its memory and tensors
export { Runtime, relaxedSimdSupported, type RuntimeOptions, type WasmBuilds, type WasmSource } from './runtime/runtime.js';
export { AUTO_MAX_THREADS, type ThreadsOption } from './runtime/threads.js';
export type { Tensor, DType, Layout } from './runtime/tensor.js';
export type { Kernels } from './runtime/kernels.js';

// weights
export { bytesSource, blobSource, type ByteSource } from './formats/source.js';
export { readGguf, type GgufFile, type GgufValue } from './formats/gguf.js';
export { weightsFromGguf, type WeightSet, type WeightEntry } from './formats/weights.js';
export { fileSource, openGguf, openSafetensors } from './files/local.js';

// model sources: paths, URLs, hub ids, Files/Blobs, bytes; progress; the download cache
export type { ModelInput, FileInput, SourceOptions } from './files/resolve.js';
export type { LoadProgress } from './files/model-files.js';
export { clearCache, listCache, type CacheEntry, type CacheOptions } from './files/cache.js';

// models
export {
  loadModel,
  loadEncoder,
  loadSeq2Seq,
  loadLanguageModel,
  LOAD_DTYPES,
  type LoadDType,
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
export type { LoadModelOptions } from './models/load.js';

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
