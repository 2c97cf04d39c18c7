/**
 * RoBERTa and XLM-RoBERTa (transformers models/roberta/modeling_roberta.py; XLM-RoBERTa is the same graph with
 * another vocabulary): BERT's encoder, with position ids counted from padding_idx + 1 over the non-padding
 * tokens (padding itself gets padding_idx), so a table of max_position_embeddings rows serves
 * max_position_embeddings − padding_idx − 1 tokens. The sequence head reads the first token through its own
 * dense + tanh layer (`classifier.dense`, `classifier.out_proj`), not the pooler.
 */
import { bertConfigFromHf, buildEncoderFamily, hfEncoderNames, taskOf, type EncoderFamily } from './bert.js';
import type { Architecture } from './model.js';

function family(modelType: string): EncoderFamily {
  return {
    config: (source) => {
      const config = bertConfigFromHf(source.config, modelType);
      const padding = source.config.int('pad_token_id', 1);
      return { ...config, padTokenId: padding, typeVocabSize: source.config.int('type_vocab_size', 1), maxPositions: config.positionRows - padding - 1 };
    },
    names: (source) => hfEncoderNames(source, 'roberta.'),
    layout: (config) => ({
      placement: 'post',
      // create_position_ids_from_input_ids: cumsum(ids != pad) · (ids != pad) + pad
      positionIds: (ids) => {
        let count = 0;
        return ids.map((id) => (id === config.padTokenId ? config.padTokenId : ++count + config.padTokenId));
      },
    }),
    head: (source) => {
      const task = taskOf(source);
      if (task === 'sequence') return { input: 'first-token', dense: { name: 'classifier.dense', activation: 'tanh' }, out: 'classifier.out_proj' };
      if (task === 'token') return { input: 'every-token', dense: null, out: 'classifier' };
      return null;
    },
  };
}

export const roberta: Architecture = { build: (rt, source) => buildEncoderFamily(rt, source, family('roberta')) };
export const xlmRoberta: Architecture = { build: (rt, source) => buildEncoderFamily(rt, source, family('xlm-roberta')) };
