/**
 * weft's tokenizers: the Hugging Face tokenizer.json pipeline (normalizer → pre-tokenizer → model → post-processor,
 * and decoder), built from tokenizer.json, GGUF vocabulary metadata or a llama2.c tokenizer.bin.
 */
export { Tokenizer, type TokenizerParts, type EncodeOptions, type BatchEncodeOptions, type DecodeOptions } from './tokenizer.js';
export type { ChatMessage } from './chat-template.js';
export { tokenizerFromJson } from './from-json.js';
export { tokenizerFromGguf } from './from-gguf.js';
export { tokenizerFromLlama2c } from './llama2c.js';
export { loadTokenizer, tokenizerFromFiles } from './load.js';
