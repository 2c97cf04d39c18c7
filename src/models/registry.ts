/**
 * Which module runs which architecture. The map is static but each module is imported on demand, so a bundle that
 * loads one model type does not carry the others.
 */
import { WeftError } from '../errors.js';
import type { Architecture } from './model.js';

/** HF `model_type` (and GGUF `general.architecture`) → the module that runs it. */
const ARCHITECTURES: Record<string, () => Promise<Architecture>> = {
  gpt2: async () => (await import('./gpt2.js')).gpt2,
  llama: async () => (await import('./llama.js')).llama,
  mistral: async () => (await import('./llama.js')).mistral,
  qwen2: async () => (await import('./qwen2.js')).qwen2,
  bert: async () => (await import('./bert.js')).bert,
  roberta: async () => (await import('./roberta.js')).roberta,
  'xlm-roberta': async () => (await import('./roberta.js')).xlmRoberta,
  distilbert: async () => (await import('./distilbert.js')).distilbert,
  t5: async () => (await import('./t5.js')).t5,
  bart: async () => (await import('./bart.js')).bart,
  marian: async () => (await import('./marian.js')).marian,
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
