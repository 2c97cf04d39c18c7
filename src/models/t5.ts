/**
 * T5 (transformers models/t5/modeling_t5.py @ 6b8b757dfcb582379a64f013cdce46c43629f2b0), v1.0 and v1.1 styles, run by
 * the shared encoder-decoder (blocks/encoder-decoder.ts):
 *
 *   - pre-norm blocks with T5's RMS norm (no mean, no bias), no bias anywhere, no score scaling (1, not 1/√d_kv);
 *   - positions only as a learned bias over buckets of key − query distance, held by block 0 of each stack and
 *     shared by all its layers: bidirectional buckets in the encoder, causal ones in the decoder; none in
 *     cross-attention;
 *   - feed-forward `feed_forward_proj`: "relu" (wi → relu → wo) or "gated-gelu" / "gated-<act>" (wo(act(wi_0 x) ·
 *     wi_1 x); "gated-gelu" means gelu_new, as HF's T5Config maps it);
 *   - tied embeddings (v1.0): the decoder output is multiplied by d_model^-0.5 before the shared lm_head;
 *   - generation starts the decoder with decoder_start_token_id (generation_config.json, then config.json); when
 *     both lack it, bos_token_id, else a clear error — as HF's `_get_decoder_start_token_id`.
 */
import { WeftError } from '../errors.js';
import { readTensorF32 } from '../formats/weights.js';
import type { Activation } from '../runtime/ops.js';
import type { Runtime } from '../runtime/runtime.js';
import { EncoderDecoderLM, type StackWeights } from './blocks/encoder-decoder.js';
import type { TransformerLayer } from './blocks/layer.js';
import type { Mlp } from './blocks/mlp.js';
import type { Norm } from './blocks/norm.js';
import { WeightLoader } from './blocks/weights.js';
import { checkDecoderConfig, contextCapacity, decoderStartTokenId, specialTokenIds, type ConfigReader } from './config.js';
import type { Architecture, BuildOptions, ModelSource, Seq2SeqConfig } from './model.js';

export interface T5Config extends Seq2SeqConfig {
  ffnSize: number;
  nEncoderLayers: number;
  /** The inner width of attention: nHeads · d_kv (may differ from d_model: t5-b has 72 vs 48). */
  innerSize: number;
  numBuckets: number;
  maxDistance: number;
  eps: number;
  /** 'relu' MLP or a gated one with this activation. */
  ffn: { gated: boolean; activation: Activation };
  tied: boolean;
}

function configFromHf(c: ConfigReader, source: ModelSource, options: BuildOptions): T5Config {
  const proj = c.string('feed_forward_proj', 'relu');
  const parts = proj.split('-');
  const gated = parts[0] === 'gated' && parts.length === 2;
  if (!gated && parts.length !== 1) throw new WeftError('E_UNSUPPORTED', `${c.where}: feed_forward_proj "${proj}" is not a T5 form ("relu", "gated-gelu", ...)`);
  const actName = proj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  const activation = ({ relu: 'relu', gelu: 'gelu', gelu_new: 'gelu_new', silu: 'silu', swish: 'silu' } as Record<string, Activation | undefined>)[actName];
  if (!activation) throw new WeftError('E_UNSUPPORTED', `${c.where}: the activation "${actName}" of feed_forward_proj "${proj}" is not supported`);
  const nHeads = c.int('num_heads');
  const headDim = c.int('d_kv');
  const nLayers = c.int('num_layers');
  // Relative positions have no hard maximum; n_positions (512) is what T5 was trained to, and the default here.
  const contextLength = contextCapacity(options.contextLength ?? c.int('n_positions', 512), options.contextLength);
  return {
    modelType: 't5',
    vocabSize: c.int('vocab_size'),
    contextLength,
    maxSourcePositions: contextLength,
    hiddenSize: c.int('d_model'),
    nLayers: c.int('num_decoder_layers', nLayers),
    nEncoderLayers: nLayers,
    nHeads,
    nKvHeads: nHeads,
    headDim,
    innerSize: nHeads * headDim,
    ...specialTokenIds('hf', c, source.generationConfig),
    decoderStartTokenId: decoderStartTokenId(c, source.generationConfig),
    ffnSize: c.int('d_ff'),
    numBuckets: c.int('relative_attention_num_buckets', 32),
    maxDistance: c.int('relative_attention_max_distance', 128),
    eps: c.number('layer_norm_epsilon', 1e-6),
    ffn: { gated, activation },
    tied: c.bool('tie_word_embeddings', true),
  };
}

async function build(rt: Runtime, source: ModelSource, options: BuildOptions) {
  const config = configFromHf(source.config, source, options);
  checkDecoderConfig(config, source.config.where, null);
  const { hiddenSize: d, innerSize: inner, ffnSize: ffn, vocabSize, nHeads } = config;
  const loader = new WeightLoader(rt, source.weights);
  try {
    const norm = async (name: string): Promise<Norm> => ({ kind: 'rms', weight: await loader.vector([name], [d]), bias: null, eps: config.eps });
    const mlp = async (p: string): Promise<Mlp> =>
      config.ffn.gated
        ? { kind: 'gated', gate: await loader.linear([`${p}.wi_0.weight`], [ffn], d), up: await loader.linear([`${p}.wi_1.weight`], [ffn], d), down: await loader.linear([`${p}.wo.weight`], [d], ffn), activation: config.ffn.activation as 'gelu_new' }
        : { kind: 'plain', fc: await loader.linear([`${p}.wi.weight`], [ffn], d), fcBias: null, proj: await loader.linear([`${p}.wo.weight`], [d], ffn), projBias: null, activation: config.ffn.activation };
    const selfAttention = async (p: string) => ({
      projections: { kind: 'fused' as const, qkv: await loader.linear(['q', 'k', 'v'].map((x) => `${p}.${x}.weight`), [inner, inner, inner], d), bias: null },
      output: await loader.linear([`${p}.o.weight`], [d], inner),
      outputBias: null,
    });
    const crossAttention = async (p: string) => ({
      projections: {
        kind: 'separate' as const,
        q: await loader.linear([`${p}.q.weight`], [inner], d),
        qBias: null,
        k: await loader.linear([`${p}.k.weight`], [inner], d),
        kBias: null,
        v: await loader.linear([`${p}.v.weight`], [inner], d),
        vBias: null,
      },
      output: await loader.linear([`${p}.o.weight`], [d], inner),
      outputBias: null,
    });
    // The MLP sub-layer is layer.1 in an encoder block and layer.2 in a decoder block (after EncDecAttention).
    const stack = async (which: 'encoder' | 'decoder', nLayers: number): Promise<StackWeights> => {
      const layers: TransformerLayer[] = [];
      for (let i = 0; i < nLayers; i++) {
        const b = `${which}.block.${i}.layer`;
        const mlpIndex = which === 'encoder' ? 1 : 2;
        layers.push({
          attentionNorm: await norm(`${b}.0.layer_norm.weight`),
          attention: await selfAttention(`${b}.0.SelfAttention`),
          cross: which === 'decoder' ? { norm: await norm(`${b}.1.layer_norm.weight`), attention: await crossAttention(`${b}.1.EncDecAttention`) } : null,
          mlpNorm: await norm(`${b}.${mlpIndex}.layer_norm.weight`),
          mlp: await mlp(`${b}.${mlpIndex}.DenseReluDense`), // HF's attribute name, gated or not
        });
      }
      return { layers, embedNorm: null, finalNorm: await norm(`${which}.final_layer_norm.weight`) };
    };
    const { tokenEmbedding, lmHead } = await loader.embeddingAndHead('shared.weight', config.tied ? null : 'lm_head.weight', vocabSize, d);
    const encoder = await stack('encoder', config.nEncoderLayers);
    const decoder = await stack('decoder', config.nLayers);
    // The bias tables [buckets × heads] are read on the host: the bias is built there per forward (a few KB).
    const biasTable = async (which: string) => {
      const e = source.weights.get(`${which}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`);
      if (e.shape.length !== 2 || e.shape[0] !== config.numBuckets || e.shape[1] !== nHeads) {
        throw new WeftError('E_FORMAT', `${e.source.name}: "${e.name}" has shape [${e.shape.join(', ')}], want [${config.numBuckets}, ${nHeads}]`);
      }
      return readTensorF32(e);
    };
    const positions = { kind: 'relative' as const, encoderBias: await biasTable('encoder'), decoderBias: await biasTable('decoder'), numBuckets: config.numBuckets, maxDistance: config.maxDistance };
    const weights = { tokenEmbedding, encoder, decoder, lmHead, finalLogitsBias: null, allocations: loader.allocations };
    const model = new EncoderDecoderLM(rt, config, weights, {
      placement: 'pre',
      attentionScale: 1,
      embedScale: 1,
      lmHeadScale: config.tied ? d ** -0.5 : 1,
      positions,
    });
    return { model, weightBytes: loader.weightBytes, nonFinite: loader.nonFinite };
  } catch (e) {
    loader.freeAll();
    throw e;
  }
}

export const t5: Architecture = { build };
