/**
 * DistilBERT (transformers models/distilbert/modeling_distilbert.py): BERT's post-LayerNorm encoder with six
 * layers, no token types and no pooler, under its own names (`dim`, `n_heads`, `q_lin`, `sa_layer_norm`, …). The
 * sequence head reads the first token through `pre_classifier` + ReLU, then `classifier`.
 */
import { WeftError } from '../errors.js';
import { absolutePositions, buildEncoderFamily, taskOf, type BertConfig, type EncoderFamily } from './bert.js';
import type { Architecture } from './model.js';

const DISTILBERT: EncoderFamily = {
  config: (source): BertConfig => {
    const c = source.config;
    const act = c.string('activation', 'gelu');
    if (act !== 'gelu' && act !== 'relu') throw new WeftError('E_UNSUPPORTED', `${c.where}: activation "${act}" is not supported (gelu or relu)`);
    const hiddenSize = c.int('dim');
    const nHeads = c.int('n_heads');
    const maxPositions = c.int('max_position_embeddings');
    return {
      modelType: 'distilbert',
      vocabSize: c.int('vocab_size'),
      hiddenSize,
      nLayers: c.int('n_layers'),
      nHeads,
      headDim: hiddenSize / nHeads,
      maxPositions,
      positionRows: maxPositions,
      typeVocabSize: 0,
      padTokenId: c.int('pad_token_id', 0),
      ffnSize: c.int('hidden_dim'),
      layerNormEps: 1e-12, // fixed in DistilBERT's modeling code
      activation: act,
    };
  },
  names: (source) => {
    const p = source.weights.has('distilbert.embeddings.word_embeddings.weight') ? 'distilbert.' : '';
    return {
      wordEmbedding: `${p}embeddings.word_embeddings`,
      positionEmbedding: `${p}embeddings.position_embeddings`,
      tokenTypeEmbedding: null,
      embeddingNorm: `${p}embeddings.LayerNorm`,
      layer: (i) => {
        const l = `${p}transformer.layer.${i}`;
        return {
          q: `${l}.attention.q_lin`,
          k: `${l}.attention.k_lin`,
          v: `${l}.attention.v_lin`,
          o: `${l}.attention.out_lin`,
          attentionNorm: `${l}.sa_layer_norm`,
          fc: `${l}.ffn.lin1`,
          proj: `${l}.ffn.lin2`,
          mlpNorm: `${l}.output_layer_norm`,
        };
      },
      pooler: null,
    };
  },
  layout: () => ({ placement: 'post', positionIds: absolutePositions }),
  head: (source) => {
    const task = taskOf(source);
    if (task === 'sequence') return { input: 'first-token', dense: { name: 'pre_classifier', activation: 'relu' }, out: 'classifier' };
    if (task === 'token') return { input: 'every-token', dense: null, out: 'classifier' };
    return null;
  },
};

export const distilbert: Architecture = { build: (rt, source) => buildEncoderFamily(rt, source, DISTILBERT) };
