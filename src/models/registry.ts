/**
 * Which module runs which architecture. The map is static but each module is imported on demand, so a bundle that
 * loads one model type does not carry the others.
 */
import { WeftError } from '../errors.js';
import type { QuantType } from '../runtime/quant.js';
import type { WeightSet } from '../formats/weights.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Decoder } from './blocks/decoder.js';
import type { ConfigReader, Json } from './config.js';

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
}

export interface BuildOptions {
  /** Cap on the KV cache (and RoPE table) length; the model's own maximum when absent or larger. */
  contextLength?: number;
  /** Quantize float weights to this type while loading (LoadModelOptions.dtype). */
  quantize?: QuantType;
}

export interface BuiltModel {
  model: Decoder;
  weightBytes: number;
  nonFinite: number;
}

export interface Architecture {
  build(rt: Runtime, source: ModelSource, options: BuildOptions): Promise<BuiltModel>;
}

/** HF `model_type` (and GGUF `general.architecture`) → the module that runs it. */
const ARCHITECTURES: Record<string, () => Promise<Architecture>> = {
  gpt2: async () => (await import('./gpt2.js')).gpt2,
  llama: async () => (await import('./llama.js')).llama,
  mistral: async () => (await import('./llama.js')).mistral,
  qwen2: async () => (await import('./qwen2.js')).qwen2,
};

export const KNOWN_MODEL_TYPES: readonly string[] = Object.keys(ARCHITECTURES);

/** The architecture of `modelType`; E_UNSUPPORTED naming it and the known ones. `where`: the file it came from. */
export async function architectureOf(modelType: string, where: string): Promise<Architecture> {
  const load = Object.hasOwn(ARCHITECTURES, modelType) ? ARCHITECTURES[modelType] : undefined;
  if (!load) {
    throw new WeftError('E_UNSUPPORTED', `${where}: model type "${modelType}" is not supported; weft runs ${KNOWN_MODEL_TYPES.join(', ')}`);
  }
  return load();
}
