/**
 * The bidirectional encoder the BERT family shares (BERT, RoBERTa, XLM-RoBERTa, DistilBERT), over a padded batch:
 *
 *   h = LayerNorm(word[ids] + type[tokenTypes] + position[positionIds])      [batch·T × dim], one matrix
 *   per layer (layer.ts, post-norm):  h = norm(h + attention(h));  h = norm(h + mlp(h))
 *     attention runs per text over its own keys, padding masked out (−∞ before the softmax: weight exactly 0)
 *   [pooler: tanh(dense(h[first token]))]   [head: sequence (first token / pooler) or token logits]
 *
 * Padding never changes a text's vector: its keys get zero weight, and every other step works row by row.
 * The architecture files (bert.ts, roberta.ts, distilbert.ts) read their config, name their tensors and say how
 * position ids are numbered; this file runs them.
 */
import { WeftError } from '../../errors.js';
import { gatherRows, linear } from '../../runtime/layout.js';
import { activate, add, type AttentionShape, type KvLayer } from '../../runtime/ops.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { EncoderBatch, EncoderConfig, EncoderModel, EncoderOutput, HeadInfo, PoolingDefaults } from '../model.js';
import type { AttentionSpec } from './attention.js';
import { runLayer, type NormPlacement, type TransformerLayer } from './layer.js';
import { applyNorm, type Norm } from './norm.js';
import type { TraceHook } from './trace.js';

/** A dense layer: packed weight [out × in], f32 bias [out], then an activation (tanh is computed on the host). */
export interface Dense {
  weight: Tensor;
  bias: Tensor | null;
  activation: 'tanh' | 'relu' | null;
}

/**
 * A classification head. Sequence heads read the first token's state, through the pooler (BERT) or their own
 * dense layer (RoBERTa: dense + tanh; DistilBERT: pre_classifier + ReLU); token heads read every position.
 */
export interface ClassifierHead {
  info: HeadInfo;
  input: 'pooler' | 'first-token' | 'every-token';
  dense: Dense | null;
  out: Dense;
}

export interface EncoderWeights {
  tokenEmbedding: Tensor; // plain rows [vocab × dim]
  positionEmbedding: Tensor | null; // plain rows [maxPositions (+ offset) × dim]
  tokenTypeEmbedding: Tensor | null; // plain rows [typeVocab × dim]
  embeddingNorm: Norm | null;
  layers: TransformerLayer[];
  /** Pre-norm encoders end with a norm; BERT-style post-norm ones do not. */
  finalNorm: Norm | null;
  pooler: Dense | null;
  head: ClassifierHead | null;
  /** Every allocation above, once each: what `dispose` frees. */
  allocations: Tensor[];
}

export interface EncoderLayout {
  placement: NormPlacement;
  /** Position id of each token of one row (RoBERTa counts from padding_idx + 1 and gives padding padding_idx). */
  positionIds: (ids: number[]) => number[];
}

export class TransformerEncoder implements EncoderModel {
  readonly kind = 'encoder';
  /** Set to print or collect intermediate values (see TraceHook); null in normal runs. */
  trace: TraceHook | null = null;
  private readonly spec: AttentionSpec;
  private disposed = false;

  /** Takes ownership of `weights`: `dispose` frees them. */
  constructor(
    readonly runtime: Runtime,
    readonly config: EncoderConfig,
    readonly weights: EncoderWeights,
    private readonly layout: EncoderLayout,
    readonly poolingDefaults: PoolingDefaults | null,
  ) {
    const shape: AttentionShape = { nHeads: config.nHeads, nKvHeads: config.nHeads, headDim: config.headDim };
    this.spec = { shape, scale: 1 / Math.sqrt(config.headDim), rope: null };
  }

  get head(): HeadInfo | null {
    return this.weights.head?.info ?? null;
  }

  get hasPooler(): boolean {
    return this.weights.pooler !== null;
  }

  encode(batch: EncoderBatch, outputs: { pooler?: boolean; head?: boolean } = {}): EncoderOutput {
    if (this.disposed) throw new WeftError('E_OPTION', `this ${this.config.modelType} model was disposed`);
    const { B, T, mask, tokenTypes } = this.checkBatch(batch);
    const { hiddenSize: dim, nHeads, headDim } = this.config;
    const rows = B * T;
    const rt = this.runtime;
    const w = this.weights;
    if (outputs.pooler && !w.pooler) throw new WeftError('E_UNSUPPORTED', `this ${this.config.modelType} checkpoint has no pooler (pooler.dense.weight)`);
    if (outputs.head && !w.head) throw new WeftError('E_UNSUPPORTED', `this ${this.config.modelType} checkpoint has no classification head`);

    rt.scratch.reset();
    const idTensor = rt.temp('i32', [rows]);
    const positionTensor = rt.temp('i32', [rows]);
    const typeTensor = rt.temp('i32', [rows]);
    const maskTensor = rt.temp('f32', [B, T]);
    const hidden = rt.temp('f32', [rows, dim]); // the residual stream
    const normed = rt.temp('f32', [rows, dim]);
    const branch = rt.temp('f32', [rows, dim]);
    // One K/V buffer serves every text in turn: a text's keys are stored and read before the next text's.
    const kv: KvLayer = { keys: rt.temp('f32', [nHeads, T, headDim]), values: rt.temp('f32', [nHeads, T, headDim]), capacity: T };
    const i32 = rt.i32;
    const f32 = rt.f32;
    for (let b = 0; b < B; b++) {
      i32.set(batch.ids[b], idTensor.offset / 4 + b * T);
      i32.set(this.layout.positionIds(batch.ids[b]), positionTensor.offset / 4 + b * T);
      i32.set(tokenTypes[b], typeTensor.offset / 4 + b * T);
      for (let t = 0; t < T; t++) f32[maskTensor.offset / 4 + b * T + t] = mask[b][t] ? 0 : -Infinity;
    }

    gatherRows(rt, w.tokenEmbedding, idTensor, hidden);
    if (w.tokenTypeEmbedding) {
      gatherRows(rt, w.tokenTypeEmbedding, typeTensor, branch);
      add(rt, hidden, branch, hidden);
    }
    if (w.positionEmbedding) {
      gatherRows(rt, w.positionEmbedding, positionTensor, branch);
      add(rt, hidden, branch, hidden);
    }
    if (w.embeddingNorm) applyNorm(rt, w.embeddingNorm, hidden, hidden);
    this.trace?.('inp_embd', -1, hidden);

    const maskRow = (b: number): Tensor => ({ ...maskTensor, offset: maskTensor.offset + b * T * 4, shape: [T], byteLength: T * 4 });
    const ctx = {
      placement: this.layout.placement,
      spec: this.spec,
      plan: { rowsPerSequence: T, sequences: Array.from({ length: B }, (_, b) => ({ cache: () => kv, pos0: 0, mask: maskRow(b) })), causal: false, positions: null, bias: null },
      cross: null,
      trace: this.trace,
    };
    w.layers.forEach((layer, l) => runLayer(rt, layer, l, ctx, hidden, normed, branch));
    if (w.finalNorm) applyNorm(rt, w.finalNorm, hidden, hidden);
    this.trace?.('result_embd', -1, hidden);

    // The first token of each text, gathered as rows 0, T, 2T, … of the hidden states (read as a plain table).
    let first: Tensor | null = null;
    const firstRows = () => {
      if (!first) {
        const at = rt.temp('i32', [B]);
        for (let b = 0; b < B; b++) rt.i32[at.offset / 4 + b] = b * T;
        first = rt.temp('f32', [B, dim]);
        gatherRows(rt, hidden, at, first);
      }
      return first;
    };
    const pooled = outputs.pooler || (outputs.head && w.head?.input === 'pooler') ? dense(rt, w.pooler!, firstRows()) : null;
    let logits: Float32Array | null = null;
    if (outputs.head) {
      const head = w.head!;
      let x = head.input === 'pooler' ? pooled! : head.input === 'first-token' ? firstRows() : hidden;
      if (head.dense) x = dense(rt, head.dense, x);
      logits = rt.readF32(dense(rt, head.out, x));
    }
    return {
      hidden: { data: rt.readF32(hidden), batch: B, length: T, hiddenSize: dim },
      pooled: pooled ? rt.readF32(pooled) : null,
      logits,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.weights.allocations) this.runtime.free(t);
  }

  /** Rectangular rows, ids in the vocabulary, a mask of 0/1 and token types in the table; the defaults filled in. */
  private checkBatch(batch: EncoderBatch): { B: number; T: number; mask: number[][]; tokenTypes: number[][] } {
    const { vocabSize, maxPositions, typeVocabSize } = this.config;
    const B = batch.ids?.length ?? 0;
    if (B === 0) throw new WeftError('E_OPTION', 'encode: the batch is empty (no rows of token ids)');
    const T = batch.ids[0].length;
    if (T === 0) throw new WeftError('E_OPTION', 'encode: rows of length 0 (every row needs at least one token)');
    if (T > maxPositions) {
      throw new WeftError('E_CONTEXT', `encode: rows of ${T} tokens are past this ${this.config.modelType} model's ${maxPositions} positions (max_position_embeddings)`);
    }
    const grid = (name: string, g: number[][] | undefined, fill: number, ok: (v: number) => boolean, what: string): number[][] => {
      if (g === undefined) return Array.from({ length: B }, () => new Array<number>(T).fill(fill));
      if (g.length !== B) throw new WeftError('E_OPTION', `encode: ${name} has ${g.length} rows for ${B} rows of ids`);
      g.forEach((row, b) => {
        if (row.length !== T) throw new WeftError('E_OPTION', `encode: ${name} row ${b} has ${row.length} entries, not ${T} (pad every row to one length)`);
        row.forEach((v, t) => {
          if (!ok(v)) throw new WeftError('E_OPTION', `encode: ${name}[${b}][${t}] = ${v} is not ${what}`);
        });
      });
      return g;
    };
    grid('ids', batch.ids, 0, (v) => Number.isInteger(v) && v >= 0 && v < vocabSize, `a token id in [0, ${vocabSize})`);
    const mask = grid('mask', batch.mask, 1, (v) => v === 0 || v === 1, '0 or 1');
    const types = Math.max(typeVocabSize, 1);
    const tokenTypes = grid('tokenTypes', batch.tokenTypes, 0, (v) => Number.isInteger(v) && v >= 0 && v < types, `a token type in [0, ${types})`);
    return { B, T, mask, tokenTypes };
  }
}

/** y [rows × out] = activation(x · Wᵀ + b), in scratch. */
function dense(rt: Runtime, d: Dense, x: Tensor): Tensor {
  const y = rt.temp('f32', [x.shape[0], d.weight.shape[0]]);
  linear(rt, x, d.weight, d.bias, y);
  if (d.activation === 'relu') activate(rt, 'relu', y, y);
  else if (d.activation === 'tanh') {
    // No tanh kernel: it only ever runs on one row per text (pooler, RoBERTa's head), a few hundred values.
    const v = rt.f32View(y);
    for (let i = 0; i < v.length; i++) v[i] = Math.tanh(v[i]);
  }
  return y;
}
