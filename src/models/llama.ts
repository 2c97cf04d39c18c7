/**
 * Llama (transformers models/llama/modeling_llama.py) and the checkpoints that share its graph: Mistral, SmolLM
 * (model_type "llama"), Qwen2 (qwen2.ts sets its defaults), llama2.c `.bin` files and GGUF llama.
 *
 * Pre-RMSNorm blocks, RoPE (optionally scaled: llama3, linear; optionally partial), grouped-query attention, and a
 * SwiGLU MLP. The RoPE pairing is a property of the source: Hugging Face weights rotate halves; GGUF llama and
 * llama2.c weights rotate interleaved pairs (convert_hf_to_gguf permutes the Q/K rows so that this is right).
 */
import { WeftError } from '../errors.js';
import { readTensorF32 } from '../formats/weights.js';
import type { Runtime } from '../runtime/runtime.js';
import { TransformerLM } from './blocks/transformer-lm.js';
import type { TransformerLayer } from './blocks/layer.js';
import type { Norm } from './blocks/norm.js';
import { ropeScalingFromHf, type RopeConfig, type RopeScaling } from './blocks/rope.js';
import { WeightLoader } from './blocks/weights.js';
import { checkDecoderConfig, contextCapacity, specialTokenIds, type ConfigReader } from './config.js';
import type { Architecture, BuildOptions, BuiltModel, DecoderConfig, ModelSource } from './model.js';

export interface LlamaConfig extends DecoderConfig {
  ffnSize: number;
  rmsNormEps: number;
  rope: RopeConfig;
  /** Biases on the q, k and v projections (Qwen2; Llama with attention_bias). */
  qkvBias: boolean;
  /** A bias on the attention output projection (Llama with attention_bias; not Qwen2). */
  outputBias: boolean;
}

/** What distinguishes the members of the family when their config leaves a field out. */
export interface LlamaFamily {
  modelType: string;
  defaultRopeTheta: number;
  /** q/k/v biases without an `attention_bias` field (Qwen2 always has them). */
  qkvBias: boolean;
  /** The config field that turns a sliding attention window on, or 'always' when `sliding_window` alone does. */
  slidingWindowSwitch: 'always' | 'use_sliding_window';
}

function configFromHf(c: ConfigReader, family: LlamaFamily, source: ModelSource, options: BuildOptions): LlamaConfig {
  const act = c.string('hidden_act', 'silu');
  if (act !== 'silu') throw new WeftError('E_UNSUPPORTED', `${c.where}: hidden_act "${act}" is not supported (SwiGLU needs "silu")`);
  if (c.bool('mlp_bias', false)) throw new WeftError('E_UNSUPPORTED', `${c.where}: mlp_bias true is not supported`);
  const hiddenSize = c.int('hidden_size');
  const nHeads = c.int('num_attention_heads');
  const headDim = c.int('head_dim', hiddenSize / nHeads);
  let maxPositions = c.int('max_position_embeddings');
  // The attention kernel has no sliding window: cap the context at the window, where full attention is identical.
  const windowed = family.slidingWindowSwitch === 'always' || c.bool('use_sliding_window', false);
  if (windowed && c.has('sliding_window')) maxPositions = Math.min(maxPositions, c.int('sliding_window'));
  const attentionBias = c.bool('attention_bias', false);
  return {
    modelType: family.modelType,
    vocabSize: c.int('vocab_size'),
    contextLength: contextCapacity(maxPositions, options.contextLength),
    hiddenSize,
    nLayers: c.int('num_hidden_layers'),
    nHeads,
    nKvHeads: c.int('num_key_value_heads', nHeads),
    headDim,
    ...specialTokenIds('hf', c, source.generationConfig),
    ffnSize: c.int('intermediate_size'),
    rmsNormEps: c.nonNegative('rms_norm_eps', 1e-6),
    rope: {
      theta: c.positive('rope_theta', family.defaultRopeTheta),
      rotaryDim: Math.floor(headDim * c.positive('partial_rotary_factor', 1)),
      scaling: ropeScalingFromHf(c.json.rope_scaling, c.where),
      freqFactors: null,
      interleaved: false, // Hugging Face: rotate-half
    },
    qkvBias: family.qkvBias || attentionBias,
    outputBias: attentionBias,
  };
}

async function configFromGguf(c: ConfigReader, family: LlamaFamily, source: ModelSource, options: BuildOptions): Promise<LlamaConfig> {
  const arch = family.modelType; // GGUF's general.architecture: "llama" (also for Mistral) or "qwen2"
  const key = (k: string) => `${arch}.${k}`;
  const hiddenSize = c.int(key('embedding_length'));
  const nHeads = c.int(key('attention.head_count'));
  const headDim = c.int(key('attention.key_length'), hiddenSize / nHeads);
  const scalingType = c.string(key('rope.scaling.type'), 'none');
  let scaling: RopeScaling;
  if (scalingType === 'none') scaling = { type: 'none' };
  else if (scalingType === 'linear') scaling = { type: 'linear', factor: c.positive(key('rope.scaling.factor')) };
  else throw new WeftError('E_UNSUPPORTED', `${c.where}: ${key('rope.scaling.type')} "${scalingType}" is not supported (weft knows "none" and "linear")`);
  const w = source.weights;
  // Llama 3 scaling arrives as per-frequency divisors (convert_hf_to_gguf writes them as rope_freqs.weight).
  const freqFactors = w.has('rope_freqs.weight') ? await readTensorF32(w.get('rope_freqs.weight')) : null;
  return {
    modelType: family.modelType,
    vocabSize: w.get('token_embd.weight').shape[0],
    contextLength: contextCapacity(c.int(key('context_length')), options.contextLength),
    hiddenSize,
    nLayers: c.int(key('block_count')),
    nHeads,
    nKvHeads: c.int(key('attention.head_count_kv'), nHeads),
    headDim,
    ...specialTokenIds('gguf', c, {}),
    ffnSize: c.int(key('feed_forward_length')),
    rmsNormEps: c.nonNegative(key('attention.layer_norm_rms_epsilon'), 1e-5),
    rope: {
      theta: c.positive(key('rope.freq_base'), family.defaultRopeTheta),
      rotaryDim: c.int(key('rope.dimension_count'), headDim),
      scaling,
      freqFactors,
      interleaved: arch === 'llama', // ggml's normal RoPE for llama; NEOX (rotate-half) for qwen2
    },
    qkvBias: w.has('blk.0.attn_q.bias'),
    outputBias: w.has('blk.0.attn_output.bias'),
  };
}

interface LlamaTensorNames {
  tokenEmbedding: string;
  finalNorm: string;
  /** null: tied to the token embedding. */
  lmHead: string | null;
  layer(i: number): { attentionNorm: string; q: string; k: string; v: string; o: string; mlpNorm: string; gate: string; up: string; down: string };
}

function hfNames(source: ModelSource): LlamaTensorNames {
  return {
    tokenEmbedding: 'model.embed_tokens.weight',
    finalNorm: 'model.norm.weight',
    lmHead: source.config.bool('tie_word_embeddings', false) ? null : 'lm_head.weight',
    layer: (i) => {
      const p = `model.layers.${i}`;
      return {
        attentionNorm: `${p}.input_layernorm.weight`,
        q: `${p}.self_attn.q_proj`,
        k: `${p}.self_attn.k_proj`,
        v: `${p}.self_attn.v_proj`,
        o: `${p}.self_attn.o_proj`,
        mlpNorm: `${p}.post_attention_layernorm.weight`,
        gate: `${p}.mlp.gate_proj.weight`,
        up: `${p}.mlp.up_proj.weight`,
        down: `${p}.mlp.down_proj.weight`,
      };
    },
  };
}

function ggufNames(source: ModelSource): LlamaTensorNames {
  return {
    tokenEmbedding: 'token_embd.weight',
    finalNorm: 'output_norm.weight',
    lmHead: source.weights.has('output.weight') ? 'output.weight' : null,
    layer: (i) => {
      const p = `blk.${i}`;
      return {
        attentionNorm: `${p}.attn_norm.weight`,
        q: `${p}.attn_q`,
        k: `${p}.attn_k`,
        v: `${p}.attn_v`,
        o: `${p}.attn_output`,
        mlpNorm: `${p}.ffn_norm.weight`,
        gate: `${p}.ffn_gate.weight`,
        up: `${p}.ffn_up.weight`,
        down: `${p}.ffn_down.weight`,
      };
    },
  };
}

/** Build any member of the Llama family from a Hugging Face or GGUF source. */
export async function buildLlamaFamily(rt: Runtime, source: ModelSource, options: BuildOptions, family: LlamaFamily): Promise<BuiltModel> {
  const hf = source.format === 'hf';
  const config = hf ? configFromHf(source.config, family, source, options) : await configFromGguf(source.config, family, source, options);
  checkDecoderConfig(config, source.config.where, config.rope.rotaryDim);
  const names = hf ? hfNames(source) : ggufNames(source);
  const { hiddenSize: d, ffnSize: ffn, vocabSize, nHeads, nKvHeads, headDim } = config;
  const qkvRows = [nHeads * headDim, nKvHeads * headDim, nKvHeads * headDim];
  const loader = new WeightLoader(rt, source.weights, options.quantize);
  try {
    const rmsNorm = async (name: string): Promise<Norm> => ({ kind: 'rms', weight: await loader.vector([name], [d]), bias: null, eps: config.rmsNormEps });
    const { tokenEmbedding, lmHead } = await loader.embeddingAndHead(names.tokenEmbedding, names.lmHead, vocabSize, d);
    const layers: TransformerLayer[] = [];
    for (let i = 0; i < config.nLayers; i++) {
      const n = names.layer(i);
      const qkv = [n.q, n.k, n.v];
      layers.push({
        attentionNorm: await rmsNorm(n.attentionNorm),
        attention: {
          projections: {
            kind: 'fused',
            qkv: await loader.linear(qkv.map((p) => `${p}.weight`), qkvRows, d),
            bias: config.qkvBias ? await loader.vector(qkv.map((p) => `${p}.bias`), qkvRows) : null,
          },
          output: await loader.linear([`${n.o}.weight`], [d], nHeads * headDim),
          outputBias: config.outputBias ? await loader.vector([`${n.o}.bias`], [d]) : null,
        },
        cross: null,
        mlpNorm: await rmsNorm(n.mlpNorm),
        mlp: {
          kind: 'gated',
          activation: 'silu',
          gate: await loader.linear([n.gate], [ffn], d),
          up: await loader.linear([n.up], [ffn], d),
          down: await loader.linear([n.down], [d], ffn),
        },
      });
    }
    const finalNorm = await rmsNorm(names.finalNorm);
    const weights = { tokenEmbedding, positionEmbedding: null, layers, finalNorm, lmHead, allocations: loader.allocations };
    const model = new TransformerLM(rt, config, weights, config.rope);
    return { model, weightBytes: loader.weightBytes, nonFinite: loader.nonFinite };
  } catch (e) {
    loader.freeAll();
    throw e;
  }
}

const LLAMA: LlamaFamily = { modelType: 'llama', defaultRopeTheta: 10000, qkvBias: false, slidingWindowSwitch: 'use_sliding_window' };
const MISTRAL: LlamaFamily = { modelType: 'mistral', defaultRopeTheta: 10000, qkvBias: false, slidingWindowSwitch: 'always' };

export const llama: Architecture = { build: (rt, source, options) => buildLlamaFamily(rt, source, options, LLAMA) };
export const mistral: Architecture = { build: (rt, source, options) => buildLlamaFamily(rt, source, options, MISTRAL) };
