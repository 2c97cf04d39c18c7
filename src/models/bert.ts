/**
 * BERT (transformers models/bert/modeling_bert.py) and the builder its family shares (roberta.ts, distilbert.ts):
 * absolute learned positions, token-type embeddings, an embedding LayerNorm, post-LayerNorm blocks with separate
 * q/k/v projections (fused here at load into one linear layer), an erf-GELU MLP, and optionally the pooler
 * (tanh(dense(h[CLS]))) and a classification head (`…ForSequenceClassification`, `…ForTokenClassification`).
 *
 * Key namings read: `embeddings.*` (BertModel), `bert.embeddings.*` (the task models), and llama.cpp's GGUF `bert`
 * (`token_embd`, `token_types`, `position_embd`, `token_embd_norm`, `blk.N.attn_q` …, `attn_output_norm`,
 * `layer_output_norm`; its converter drops the pooler and heads).
 */
import { WeftError } from '../errors.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Activation } from '../runtime/ops.js';
import type { TransformerLayer } from './blocks/layer.js';
import type { Norm } from './blocks/norm.js';
import { TransformerEncoder, type ClassifierHead, type Dense, type EncoderLayout } from './blocks/transformer-encoder.js';
import { WeightLoader } from './blocks/weights.js';
import type { ConfigReader } from './config.js';
import type { Architecture, BuiltModel, EncoderConfig, HeadInfo, ModelSource } from './model.js';

export interface BertConfig extends EncoderConfig {
  ffnSize: number;
  layerNormEps: number;
  activation: Activation;
  /** Rows of the position table (RoBERTa: maxPositions + padding_idx + 1). */
  positionRows: number;
}

/** Where each weight lives in a file: prefixes, completed with `.weight` / `.bias`. */
export interface EncoderTensorNames {
  wordEmbedding: string;
  positionEmbedding: string;
  tokenTypeEmbedding: string | null;
  embeddingNorm: string;
  layer(i: number): { q: string; k: string; v: string; o: string; attentionNorm: string; fc: string; proj: string; mlpNorm: string };
  pooler: string | null;
}

/** What one member of the family decides: its config, names, position numbering and head. */
export interface EncoderFamily {
  config(source: ModelSource): BertConfig;
  names(source: ModelSource): EncoderTensorNames;
  layout(config: BertConfig): EncoderLayout;
  /** The head's tensors (prefixes) and where it reads, from the checkpoint's `architectures`; null for none. */
  head(source: ModelSource): { input: ClassifierHead['input']; dense: { name: string; activation: Dense['activation'] } | null; out: string } | null;
}

const ACTIVATIONS: Record<string, Activation> = { gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', relu: 'relu', silu: 'silu' };

/** The fields BERT-style config.json files share; `positionRows` and `maxPositions` are the family's to adjust. */
export function bertConfigFromHf(c: ConfigReader, modelType: string): BertConfig {
  const act = c.string('hidden_act', 'gelu');
  const activation = ACTIVATIONS[act];
  if (!activation) throw new WeftError('E_UNSUPPORTED', `${c.where}: hidden_act "${act}" is not supported (weft knows ${Object.keys(ACTIVATIONS).join(', ')})`);
  const positionType = c.string('position_embedding_type', 'absolute');
  if (positionType !== 'absolute') throw new WeftError('E_UNSUPPORTED', `${c.where}: position_embedding_type "${positionType}" is not supported (only "absolute")`);
  const hiddenSize = c.int('hidden_size');
  const nHeads = c.int('num_attention_heads');
  const maxPositions = c.int('max_position_embeddings');
  return {
    modelType,
    vocabSize: c.int('vocab_size'),
    hiddenSize,
    nLayers: c.int('num_hidden_layers'),
    nHeads,
    headDim: hiddenSize / nHeads,
    maxPositions,
    positionRows: maxPositions,
    typeVocabSize: c.int('type_vocab_size', 2),
    padTokenId: c.int('pad_token_id', 0),
    ffnSize: c.int('intermediate_size'),
    layerNormEps: c.number('layer_norm_eps', 1e-12),
    activation,
  };
}

/** id2label and problem_type of a task checkpoint's config.json ("LABEL_i" for classes it does not name). */
export function headInfo(c: ConfigReader, kind: HeadInfo['kind'], nLabels: number): HeadInfo {
  const id2label = (c.json.id2label ?? {}) as Record<string, unknown>;
  const labels = Array.from({ length: nLabels }, (_, i) => String(id2label[String(i)] ?? `LABEL_${i}`));
  const problemType = c.string('problem_type', nLabels === 1 ? 'regression' : 'single_label_classification');
  if (problemType !== 'single_label_classification' && problemType !== 'multi_label_classification' && problemType !== 'regression') {
    throw new WeftError('E_UNSUPPORTED', `${c.where}: problem_type "${problemType}" is not supported`);
  }
  return { kind, labels, problemType };
}

/** The task head named by config.json `architectures` (…ForSequenceClassification / …ForTokenClassification). */
export function taskOf(source: ModelSource): 'sequence' | 'token' | null {
  if (source.format !== 'hf') return null;
  const archs = source.config.json.architectures;
  const name = Array.isArray(archs) ? String(archs[0] ?? '') : '';
  if (name.endsWith('ForSequenceClassification')) return 'sequence';
  if (name.endsWith('ForTokenClassification')) return 'token';
  return null; // a bare encoder, or a head weft does not run (masked LM, QA…): the encoder under it still embeds
}

export async function buildEncoderFamily(rt: Runtime, source: ModelSource, family: EncoderFamily): Promise<BuiltModel> {
  const config = family.config(source);
  const where = source.config.where;
  for (const [name, v] of Object.entries({ vocabSize: config.vocabSize, hiddenSize: config.hiddenSize, nLayers: config.nLayers, nHeads: config.nHeads, headDim: config.headDim, maxPositions: config.maxPositions })) {
    if (!Number.isInteger(v) || v <= 0) throw new WeftError('E_FORMAT', `${where}: ${name} works out as ${v}, not a positive integer`);
  }
  const names = family.names(source);
  const { hiddenSize: d, ffnSize: ffn } = config;
  const loader = new WeightLoader(rt, source.weights);
  try {
    const layerNorm = async (prefix: string): Promise<Norm> => ({
      kind: 'layer',
      weight: await loader.vector([`${prefix}.weight`], [d]),
      bias: await loader.vector([`${prefix}.bias`], [d]),
      eps: config.layerNormEps,
    });
    const linear = (prefix: string, outF: number, inF: number) => loader.linear([`${prefix}.weight`], [outF], inF);
    const bias = (prefix: string, n: number) => loader.vector([`${prefix}.bias`], [n]);
    const denseOf = async (prefix: string, outF: number, activation: Dense['activation']): Promise<Dense> => ({
      weight: await linear(prefix, outF, d),
      bias: await bias(prefix, outF),
      activation,
    });

    const tokenEmbedding = await loader.table(`${names.wordEmbedding}.weight`, config.vocabSize, d);
    const positionEmbedding = await loader.table(`${names.positionEmbedding}.weight`, config.positionRows, d);
    const tokenTypeEmbedding = names.tokenTypeEmbedding && config.typeVocabSize > 0 ? await loader.table(`${names.tokenTypeEmbedding}.weight`, config.typeVocabSize, d) : null;
    const embeddingNorm = await layerNorm(names.embeddingNorm);
    const layers: TransformerLayer[] = [];
    for (let i = 0; i < config.nLayers; i++) {
      const n = names.layer(i);
      const qkv = [n.q, n.k, n.v];
      layers.push({
        attention: {
          // Three projections stored apart, one linear layer at run time: one pass over x instead of three.
          projections: { kind: 'fused', qkv: await loader.linear(qkv.map((p) => `${p}.weight`), [d, d, d], d), bias: await loader.vector(qkv.map((p) => `${p}.bias`), [d, d, d]) },
          output: await linear(n.o, d, d),
          outputBias: await bias(n.o, d),
        },
        attentionNorm: await layerNorm(n.attentionNorm),
        cross: null,
        mlp: { kind: 'plain', fc: await linear(n.fc, ffn, d), fcBias: await bias(n.fc, ffn), proj: await linear(n.proj, d, ffn), projBias: await bias(n.proj, d), activation: config.activation },
        mlpNorm: await layerNorm(n.mlpNorm),
      });
    }
    const pooler = names.pooler && source.weights.has(`${names.pooler}.weight`) ? await denseOf(names.pooler, d, 'tanh') : null;

    let head: ClassifierHead | null = null;
    const h = family.head(source);
    if (h) {
      const outEntry = source.weights.get(`${h.out}.weight`);
      const nLabels = outEntry.shape[0];
      const info = headInfo(source.config, h.input === 'every-token' ? 'token' : 'sequence', nLabels);
      if (h.input === 'pooler' && !pooler) throw new WeftError('E_MISSING', `${where}: a sequence classifier on the pooler, but the checkpoint has no pooler weights`);
      head = { info, input: h.input, dense: h.dense ? await denseOf(h.dense.name, d, h.dense.activation) : null, out: await denseOf(h.out, nLabels, null) };
    }
    const weights = { tokenEmbedding, positionEmbedding, tokenTypeEmbedding, embeddingNorm, layers, finalNorm: null, pooler, head, allocations: loader.allocations };
    const model = new TransformerEncoder(rt, config, weights, family.layout(config), source.poolingDefaults);
    return { model, weightBytes: loader.weightBytes, nonFinite: loader.nonFinite };
  } catch (e) {
    loader.freeAll();
    throw e;
  }
}

/** Positions 0, 1, 2, … whatever the tokens (BERT, DistilBERT). */
export const absolutePositions: EncoderLayout['positionIds'] = (ids) => ids.map((_, i) => i);

/**
 * The Hugging Face names of BERT and RoBERTa: bare in the base model (BertModel), prefixed with the model's name
 * (`bert.`, `roberta.`) in the task models (…ForSequenceClassification, …).
 */
export function hfEncoderNames(source: ModelSource, taskPrefix: string): EncoderTensorNames {
  const p = source.weights.has(`${taskPrefix}embeddings.word_embeddings.weight`) ? taskPrefix : '';
  return {
    wordEmbedding: `${p}embeddings.word_embeddings`,
    positionEmbedding: `${p}embeddings.position_embeddings`,
    tokenTypeEmbedding: `${p}embeddings.token_type_embeddings`,
    embeddingNorm: `${p}embeddings.LayerNorm`,
    layer: (i) => {
      const l = `${p}encoder.layer.${i}`;
      return {
        q: `${l}.attention.self.query`,
        k: `${l}.attention.self.key`,
        v: `${l}.attention.self.value`,
        o: `${l}.attention.output.dense`,
        attentionNorm: `${l}.attention.output.LayerNorm`,
        fc: `${l}.intermediate.dense`,
        proj: `${l}.output.dense`,
        mlpNorm: `${l}.output.LayerNorm`,
      };
    },
    pooler: `${p}pooler.dense`,
  };
}

const GGUF_NAMES: EncoderTensorNames = {
  wordEmbedding: 'token_embd',
  positionEmbedding: 'position_embd',
  tokenTypeEmbedding: 'token_types',
  embeddingNorm: 'token_embd_norm',
  layer: (i) => ({
    q: `blk.${i}.attn_q`,
    k: `blk.${i}.attn_k`,
    v: `blk.${i}.attn_v`,
    o: `blk.${i}.attn_output`,
    attentionNorm: `blk.${i}.attn_output_norm`,
    fc: `blk.${i}.ffn_up`,
    proj: `blk.${i}.ffn_down`,
    mlpNorm: `blk.${i}.layer_output_norm`,
  }),
  pooler: null,
};

function ggufConfig(source: ModelSource): BertConfig {
  const c = source.config;
  const w = source.weights;
  const hiddenSize = c.int('bert.embedding_length');
  const nHeads = c.int('bert.attention.head_count');
  const maxPositions = c.int('bert.context_length');
  return {
    modelType: 'bert',
    vocabSize: w.get('token_embd.weight').shape[0],
    hiddenSize,
    nLayers: c.int('bert.block_count'),
    nHeads,
    headDim: hiddenSize / nHeads,
    maxPositions,
    positionRows: maxPositions,
    typeVocabSize: w.has('token_types.weight') ? w.get('token_types.weight').shape[0] : 0,
    padTokenId: c.int('tokenizer.ggml.padding_token_id', 0),
    ffnSize: c.int('bert.feed_forward_length'),
    layerNormEps: c.number('bert.attention.layer_norm_epsilon', 1e-12),
    // llama.cpp computes BERT's GELU in the tanh form through an fp16 table; the checkpoints it converts use erf
    // GELU (hidden_act "gelu"), which weft keeps.
    activation: 'gelu',
  };
}

export const BERT: EncoderFamily = {
  config: (source) => (source.format === 'hf' ? bertConfigFromHf(source.config, 'bert') : ggufConfig(source)),
  names: (source) => (source.format === 'hf' ? hfEncoderNames(source, 'bert.') : GGUF_NAMES),
  layout: () => ({ placement: 'post', positionIds: absolutePositions }),
  head: (source) => {
    const task = taskOf(source);
    if (task === 'sequence') return { input: 'pooler', dense: null, out: 'classifier' };
    if (task === 'token') return { input: 'every-token', dense: null, out: 'classifier' };
    return null;
  },
};

export const bert: Architecture = { build: (rt, source) => buildEncoderFamily(rt, source, BERT) };
