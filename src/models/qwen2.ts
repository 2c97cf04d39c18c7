/**
 * Qwen2 (transformers models/qwen2/modeling_qwen2.py): the Llama graph with biases on the q, k and v projections
 * (none on the output projection) and a large RoPE base (1e6). Its vocabulary is padded past the tokenizer's size;
 * the padding rows are real rows of the lm_head and are not masked, as Hugging Face does not mask them either.
 */
import { buildLlamaFamily, type LlamaFamily } from './llama.js';
import type { Architecture } from './model.js';

const QWEN2: LlamaFamily = { modelType: 'qwen2', defaultRopeTheta: 1e6, qkvBias: true, slidingWindowSwitch: 'use_sliding_window' };

export const qwen2: Architecture = { build: (rt, source, options) => buildLlamaFamily(rt, source, options, QWEN2) };
