/**
 * GPT-2 (transformers models/gpt2/modeling_gpt2.py): learned absolute positions, pre-LayerNorm blocks, one fused
 * q/k/v projection (`c_attn`), a gelu_new MLP, and an lm_head tied to the token embedding.
 *
 * Hugging Face stores GPT-2's linear layers as Conv1D, weight [in, out]; they are transposed at load, in the
 * packing pass. llama.cpp's GGUF converter has transposed them already.
 */
import type { Runtime } from '../runtime/runtime.js';
import { TransformerLM } from './blocks/transformer-lm.js';
import type { TransformerLayer } from './blocks/layer.js';
import type { Activation } from '../runtime/ops.js';
import type { Norm } from './blocks/norm.js';
import { WeightLoader } from './blocks/weights.js';
import { checkDecoderConfig, contextCapacity, specialTokenIds, type ConfigReader } from './config.js';
import type { Architecture, BuildOptions, DecoderConfig, ModelSource } from './model.js';
import { WeftError } from '../errors.js';

export interface Gpt2Config extends DecoderConfig {
  /** n_positions: the learned position table's length. */
  nPositions: number;
  ffnSize: number;
  layerNormEps: number;
  activation: Activation;
}

/** transformers' `activation_function` values, by the kernel that computes them. */
const ACTIVATIONS: Record<string, Activation> = { gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', gelu: 'gelu', relu: 'relu', silu: 'silu' };

function configFromHf(c: ConfigReader, source: ModelSource, options: BuildOptions): Gpt2Config {
  const activationName = c.string('activation_function', 'gelu_new');
  const activation = ACTIVATIONS[activationName];
  if (!activation) throw new WeftError('E_UNSUPPORTED', `${c.where}: activation_function "${activationName}" is not supported`);
  if (c.bool('scale_attn_by_inverse_layer_idx', false) || !c.bool('scale_attn_weights', true)) {
    throw new WeftError('E_UNSUPPORTED', `${c.where}: only the standard attention scale 1/sqrt(head_dim) is supported (scale_attn_weights true, scale_attn_by_inverse_layer_idx false)`);
  }
  const hiddenSize = c.int('n_embd');
  const nHeads = c.int('n_head');
  const nPositions = c.int('n_positions');
  return {
    modelType: 'gpt2',
    vocabSize: c.int('vocab_size'),
    contextLength: contextCapacity(nPositions, options.contextLength),
    hiddenSize,
    nLayers: c.int('n_layer'),
    nHeads,
    nKvHeads: nHeads,
    headDim: hiddenSize / nHeads,
    ...specialTokenIds('hf', c, source.generationConfig),
    nPositions,
    ffnSize: c.int('n_inner', 4 * hiddenSize),
    layerNormEps: c.nonNegative('layer_norm_epsilon', 1e-5),
    activation,
  };
}

function configFromGguf(c: ConfigReader, source: ModelSource, options: BuildOptions): Gpt2Config {
  const hiddenSize = c.int('gpt2.embedding_length');
  const nHeads = c.int('gpt2.attention.head_count');
  const nPositions = c.int('gpt2.context_length');
  return {
    modelType: 'gpt2',
    vocabSize: source.weights.get('token_embd.weight').shape[0],
    contextLength: contextCapacity(nPositions, options.contextLength),
    hiddenSize,
    nLayers: c.int('gpt2.block_count'),
    nHeads,
    nKvHeads: nHeads,
    headDim: hiddenSize / nHeads,
    ...specialTokenIds('gguf', c, {}),
    nPositions,
    ffnSize: c.int('gpt2.feed_forward_length'),
    layerNormEps: c.nonNegative('gpt2.attention.layer_norm_epsilon', 1e-5),
    activation: 'gelu_new',
  };
}

/** Where each weight lives in a file; layer entries are prefixes, completed with `.weight` / `.bias`. */
interface Gpt2TensorNames {
  tokenEmbedding: string;
  positionEmbedding: string;
  finalNorm: string;
  /** null: tied to the token embedding. */
  lmHead: string | null;
  layer(i: number): { attentionNorm: string; qkv: string; attentionOutput: string; mlpNorm: string; fc: string; proj: string };
  /** Linear weights stored [in, out] (HF Conv1D). */
  conv1d: boolean;
}

function hfNames(source: ModelSource): Gpt2TensorNames {
  // GPT2LMHeadModel checkpoints prefix every key with "transformer."; GPT2Model ones have bare keys.
  const p = source.weights.has('transformer.wte.weight') ? 'transformer.' : '';
  return {
    tokenEmbedding: `${p}wte.weight`,
    positionEmbedding: `${p}wpe.weight`,
    finalNorm: `${p}ln_f`,
    lmHead: source.config.bool('tie_word_embeddings', true) ? null : 'lm_head.weight',
    layer: (i) => ({
      attentionNorm: `${p}h.${i}.ln_1`,
      qkv: `${p}h.${i}.attn.c_attn`,
      attentionOutput: `${p}h.${i}.attn.c_proj`,
      mlpNorm: `${p}h.${i}.ln_2`,
      fc: `${p}h.${i}.mlp.c_fc`,
      proj: `${p}h.${i}.mlp.c_proj`,
    }),
    conv1d: true,
  };
}

function ggufNames(source: ModelSource): Gpt2TensorNames {
  return {
    tokenEmbedding: 'token_embd.weight',
    positionEmbedding: 'position_embd.weight',
    finalNorm: 'output_norm',
    lmHead: source.weights.has('output.weight') ? 'output.weight' : null,
    layer: (i) => ({
      attentionNorm: `blk.${i}.attn_norm`,
      qkv: `blk.${i}.attn_qkv`,
      attentionOutput: `blk.${i}.attn_output`,
      mlpNorm: `blk.${i}.ffn_norm`,
      fc: `blk.${i}.ffn_up`,
      proj: `blk.${i}.ffn_down`,
    }),
    conv1d: false,
  };
}

async function build(rt: Runtime, source: ModelSource, options: BuildOptions) {
  const hf = source.format === 'hf';
  const config = hf ? configFromHf(source.config, source, options) : configFromGguf(source.config, source, options);
  checkDecoderConfig(config, source.config.where, null);
  const names = hf ? hfNames(source) : ggufNames(source);
  const { hiddenSize: d, ffnSize: ffn, vocabSize } = config;
  const loader = new WeightLoader(rt, source.weights, options.quantize);
  try {
    const layerNorm = async (prefix: string): Promise<Norm> => ({
      kind: 'layer',
      weight: await loader.vector([`${prefix}.weight`], [d]),
      bias: await loader.vector([`${prefix}.bias`], [d]),
      eps: config.layerNormEps,
    });
    const linear = (prefix: string, outF: number, inF: number) => loader.linear([`${prefix}.weight`], [outF], inF, names.conv1d);
    const bias = (prefix: string, n: number) => loader.vector([`${prefix}.bias`], [n]);

    const { tokenEmbedding, lmHead } = await loader.embeddingAndHead(names.tokenEmbedding, names.lmHead, vocabSize, d);
    const positionEmbedding = await loader.table(names.positionEmbedding, config.nPositions, d);
    const layers: TransformerLayer[] = [];
    for (let i = 0; i < config.nLayers; i++) {
      const n = names.layer(i);
      layers.push({
        attentionNorm: await layerNorm(n.attentionNorm),
        attention: {
          projections: { kind: 'fused', qkv: await linear(n.qkv, 3 * d, d), bias: await bias(n.qkv, 3 * d) },
          output: await linear(n.attentionOutput, d, d),
          outputBias: await bias(n.attentionOutput, d),
        },
        cross: null,
        mlpNorm: await layerNorm(n.mlpNorm),
        mlp: {
          kind: 'plain',
          fc: await linear(n.fc, ffn, d),
          fcBias: await bias(n.fc, ffn),
          proj: await linear(n.proj, d, ffn),
          projBias: await bias(n.proj, d),
          activation: config.activation,
        },
      });
    }
    const finalNorm = await layerNorm(names.finalNorm);
    const weights = { tokenEmbedding, positionEmbedding, layers, finalNorm, lmHead, allocations: loader.allocations };
    const model = new TransformerLM(rt, config, weights, null);
    return { model, weightBytes: loader.weightBytes, nonFinite: loader.nonFinite };
  } catch (e) {
    loader.freeAll();
    throw e;
  }
}

export const gpt2: Architecture = { build };
