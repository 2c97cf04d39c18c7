/**
 * BART (transformers models/bart/modeling_bart.py), run by the shared encoder-decoder (blocks/encoder-decoder.ts).
 * Marian (marian.ts) is the same graph with other positions and defaults, so both are built here from a
 * `BartFamily` that says what differs:
 *
 *   - post-norm blocks with LayerNorm: h = LN(h + attn(h)); [h = LN(h + cross(h));] h = LN(h + fc2(act(fc1(h))));
 *   - biases on every projection; scores scaled by 1/√head_dim;
 *   - embeddings multiplied by √d_model when `scale_embedding`; positions added to them: BART's learned table is
 *     read at position + 2 (BartLearnedPositionalEmbedding's offset), Marian's is sinusoidal from position 0;
 *   - BART normalises the embeddings once more (`layernorm_embedding`); neither has a final stack norm;
 *   - logits = lm_head(h) + final_logits_bias; the lm_head is the shared embedding when tied.
 *
 * Tensor names: `model.shared.weight`, `model.{encoder,decoder}.layers.N.{self_attn,encoder_attn}.{q,k,v,out}_proj`,
 * `…self_attn_layer_norm`, `…encoder_attn_layer_norm`, `…fc1`, `…fc2`, `…final_layer_norm`,
 * `model.{encoder,decoder}.embed_positions.weight` (BART), `…layernorm_embedding` (BART), `final_logits_bias`
 * [1 × vocab], `lm_head.weight` (absent when tied). The `model.` prefix is optional.
 */
import { WeftError } from '../errors.js';
import { readTensorF32 } from '../formats/weights.js';
import type { Activation } from '../runtime/ops.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Tensor } from '../runtime/tensor.js';
import { EncoderDecoderLM, type StackWeights } from './blocks/encoder-decoder.js';
import type { TransformerLayer } from './blocks/layer.js';
import type { Norm } from './blocks/norm.js';
import { WeightLoader } from './blocks/weights.js';
import { checkDecoderConfig, contextCapacity, decoderStartTokenId, specialTokenIds, type ConfigReader } from './config.js';
import type { Architecture, BuildOptions, ModelSource, Seq2SeqConfig } from './model.js';

export interface BartConfig extends Seq2SeqConfig {
  nEncoderLayers: number;
  encoderFfnSize: number;
  decoderFfnSize: number;
  activation: Activation;
  maxPositions: number;
  scaleEmbedding: boolean;
  tied: boolean;
}

/** What tells BART and Marian apart. */
export interface BartFamily {
  modelType: string;
  /** 'learned': BART's tables, read at position + 2. 'sinusoidal': Marian's, computed here. */
  positions: 'learned' | 'sinusoidal';
  /** BART's layernorm_embedding after the embeddings. */
  embeddingNorm: boolean;
  defaultActivation: string;
  defaultScaleEmbedding: boolean;
}

const ACTIVATIONS: Record<string, Activation | undefined> = { gelu: 'gelu', gelu_new: 'gelu_new', relu: 'relu', silu: 'silu', swish: 'silu' };

function configFromHf(c: ConfigReader, family: BartFamily, source: ModelSource, options: BuildOptions): BartConfig {
  const nHeads = c.int('decoder_attention_heads');
  if (c.int('encoder_attention_heads') !== nHeads) {
    throw new WeftError('E_UNSUPPORTED', `${c.where}: encoder_attention_heads ${c.int('encoder_attention_heads')} ≠ decoder_attention_heads ${nHeads} is not supported`);
  }
  if (c.bool('normalize_before', false)) throw new WeftError('E_UNSUPPORTED', `${c.where}: normalize_before true (mBART's pre-norm) is not supported`);
  if (!c.bool('share_encoder_decoder_embeddings', true)) throw new WeftError('E_UNSUPPORTED', `${c.where}: separate encoder and decoder embeddings are not supported`);
  const actName = c.string('activation_function', family.defaultActivation);
  const activation = ACTIVATIONS[actName];
  if (!activation) throw new WeftError('E_UNSUPPORTED', `${c.where}: activation_function "${actName}" is not supported`);
  const d = c.int('d_model');
  const maxPositions = c.int('max_position_embeddings');
  const contextLength = contextCapacity(maxPositions, options.contextLength);
  return {
    modelType: family.modelType,
    vocabSize: c.int('vocab_size'),
    contextLength,
    maxSourcePositions: maxPositions,
    hiddenSize: d,
    nLayers: c.int('decoder_layers'),
    nEncoderLayers: c.int('encoder_layers'),
    nHeads,
    nKvHeads: nHeads,
    headDim: d / nHeads,
    ...specialTokenIds('hf', c, source.generationConfig),
    decoderStartTokenId: decoderStartTokenId(c, source.generationConfig),
    encoderFfnSize: c.int('encoder_ffn_dim'),
    decoderFfnSize: c.int('decoder_ffn_dim'),
    activation,
    maxPositions,
    scaleEmbedding: c.bool('scale_embedding', family.defaultScaleEmbedding),
    tied: c.bool('tie_word_embeddings', true),
  };
}

/**
 * Marian's sinusoidal table [nPositions × dim] (MarianSinusoidalPositionalEmbedding._init_weight): column j < dim/2
 * is sin(pos / 10000^(2j/dim)), column dim/2 + j its cosine; computed in float64, stored as f32.
 */
export function sinusoidalTable(nPositions: number, dim: number): Float32Array {
  const out = new Float32Array(nPositions * dim);
  const half = Math.ceil(dim / 2);
  for (let pos = 0; pos < nPositions; pos++) {
    for (let j = 0; j < dim; j++) {
      const angle = pos / 10000 ** ((2 * Math.floor(j / 2)) / dim);
      // even j fill the sine half in order, odd j the cosine half
      if (j % 2 === 0) out[pos * dim + j / 2] = Math.sin(angle);
      else out[pos * dim + half + (j - 1) / 2] = Math.cos(angle);
    }
  }
  return out;
}

export async function buildBartFamily(rt: Runtime, source: ModelSource, options: BuildOptions, family: BartFamily) {
  const config = configFromHf(source.config, family, source, options);
  checkDecoderConfig(config, source.config.where, null);
  const { hiddenSize: d, vocabSize } = config;
  const w = source.weights;
  const prefix = w.has('model.shared.weight') || w.has('model.encoder.embed_tokens.weight') ? 'model.' : '';
  const loader = new WeightLoader(rt, w);
  try {
    const layerNorm = async (p: string): Promise<Norm> => ({ kind: 'layer', weight: await loader.vector([`${p}.weight`], [d]), bias: await loader.vector([`${p}.bias`], [d]), eps: 1e-5 });
    const proj = async (p: string, out: number, inF: number) => ({ w: await loader.linear([`${p}.weight`], [out], inF), b: await loader.vector([`${p}.bias`], [out]) });
    const attention = async (p: string, fused: boolean) => {
      const out = await proj(`${p}.out_proj`, d, d);
      if (fused) {
        const names = ['q', 'k', 'v'].map((x) => `${p}.${x}_proj`);
        return {
          projections: { kind: 'fused' as const, qkv: await loader.linear(names.map((n) => `${n}.weight`), [d, d, d], d), bias: await loader.vector(names.map((n) => `${n}.bias`), [d, d, d]) },
          output: out.w,
          outputBias: out.b,
        };
      }
      const [q, k, v] = [await proj(`${p}.q_proj`, d, d), await proj(`${p}.k_proj`, d, d), await proj(`${p}.v_proj`, d, d)];
      return { projections: { kind: 'separate' as const, q: q.w, qBias: q.b, k: k.w, kBias: k.b, v: v.w, vBias: v.b }, output: out.w, outputBias: out.b };
    };
    const stack = async (which: 'encoder' | 'decoder', nLayers: number, ffn: number): Promise<StackWeights> => {
      const layers: TransformerLayer[] = [];
      for (let i = 0; i < nLayers; i++) {
        const p = `${prefix}${which}.layers.${i}`;
        const fc1 = await proj(`${p}.fc1`, ffn, d);
        const fc2 = await proj(`${p}.fc2`, d, ffn);
        layers.push({
          attentionNorm: await layerNorm(`${p}.self_attn_layer_norm`),
          attention: await attention(`${p}.self_attn`, true),
          cross: which === 'decoder' ? { norm: await layerNorm(`${p}.encoder_attn_layer_norm`), attention: await attention(`${p}.encoder_attn`, false) } : null,
          mlpNorm: await layerNorm(`${p}.final_layer_norm`),
          mlp: { kind: 'plain', fc: fc1.w, fcBias: fc1.b, proj: fc2.w, projBias: fc2.b, activation: config.activation },
        });
      }
      return { layers, embedNorm: family.embeddingNorm ? await layerNorm(`${prefix}${which}.layernorm_embedding`) : null, finalNorm: null };
    };
    const embeddingName = w.has(`${prefix}shared.weight`) ? `${prefix}shared.weight` : `${prefix}decoder.embed_tokens.weight`;
    const { tokenEmbedding, lmHead } = await loader.embeddingAndHead(embeddingName, config.tied ? null : 'lm_head.weight', vocabSize, d);
    const encoder = await stack('encoder', config.nEncoderLayers, config.encoderFfnSize);
    const decoder = await stack('decoder', config.nLayers, config.decoderFfnSize);
    let encoderPositions: Tensor;
    let decoderPositions: Tensor;
    if (family.positions === 'learned') {
      encoderPositions = await loader.table(`${prefix}encoder.embed_positions.weight`, config.maxPositions + 2, d);
      decoderPositions = await loader.table(`${prefix}decoder.embed_positions.weight`, config.maxPositions + 2, d);
    } else {
      encoderPositions = rt.alloc('f32', [config.maxPositions, d]);
      loader.allocations.push(encoderPositions);
      rt.write(encoderPositions, sinusoidalTable(config.maxPositions, d));
      decoderPositions = encoderPositions; // the same function of the position in both stacks
    }
    // final_logits_bias is a [1 × vocab] buffer (all zeros in most checkpoints; some leave it out).
    let finalLogitsBias: Tensor | null = null;
    if (w.has('final_logits_bias')) {
      const e = w.get('final_logits_bias');
      if (e.shape.reduce((a, b) => a * b, 1) !== vocabSize) throw new WeftError('E_FORMAT', `${e.source.name}: "final_logits_bias" has shape [${e.shape.join(', ')}], want [1, ${vocabSize}]`);
      finalLogitsBias = rt.alloc('f32', [vocabSize]);
      loader.allocations.push(finalLogitsBias);
      rt.write(finalLogitsBias, await readTensorF32(e));
    }
    const weights = { tokenEmbedding, encoder, decoder, lmHead, finalLogitsBias, allocations: loader.allocations };
    const model = new EncoderDecoderLM(rt, config, weights, {
      placement: 'post',
      attentionScale: 1 / Math.sqrt(config.headDim),
      embedScale: config.scaleEmbedding ? Math.sqrt(d) : 1,
      lmHeadScale: 1,
      positions: { kind: 'absolute', encoder: encoderPositions, decoder: decoderPositions, offset: family.positions === 'learned' ? 2 : 0 },
    });
    return { model, weightBytes: loader.weightBytes, nonFinite: loader.nonFinite };
  } catch (e) {
    loader.freeAll();
    throw e;
  }
}

const BART: BartFamily = { modelType: 'bart', positions: 'learned', embeddingNorm: true, defaultActivation: 'gelu', defaultScaleEmbedding: false };

export const bart: Architecture = { build: (rt, source, options) => buildBartFamily(rt, source, options, BART) };
