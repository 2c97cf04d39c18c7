/**
 * Marian (transformers models/marian/modeling_marian.py): BART's post-norm encoder-decoder (bart.ts) with
 * sinusoidal positions from 0 (MarianSinusoidalPositionalEmbedding, computed, not stored), no layernorm_embedding,
 * and the pad id as decoder_start_token_id (which Marian configs give). scale_embedding and activation_function
 * default as MarianConfig's (false, "gelu"); the Helsinki-NLP opus-mt configs set true and "swish".
 */
import { buildBartFamily, type BartFamily } from './bart.js';
import type { Architecture } from './model.js';

const MARIAN: BartFamily = { modelType: 'marian', positions: 'sinusoidal', embeddingNorm: false, defaultActivation: 'gelu', defaultScaleEmbedding: false };

export const marian: Architecture = { build: (rt, source, options) => buildBartFamily(rt, source, options, MARIAN) };
