/**
 * The encoder-decoder model T5, BART and Marian share (t5.ts, bart.ts, marian.ts give its weights and the data
 * that tells them apart):
 *
 *   encode(ids), once per input:
 *     h = embed(ids)·embedScale [+ positions] [→ embedNorm]
 *     per layer (layer.ts, pre- or post-norm): h ← self-attention (bidirectional [+ T5 relative bias]), MLP
 *     memory = [finalNorm](h);  per decoder layer: K, V = memory·Wkᵀ, memory·Wvᵀ  → the cross-attention cache
 *   forward(ids) / stepBeams(parents, ids), any number of times after it:
 *     h = embed(ids)·embedScale [+ positions] [→ embedNorm]
 *     per layer: h ← causal self-attention over the decoder's KV cache [+ T5 causal bias],
 *                    cross-attention over the cached K/V of `memory`, MLP
 *     logits = lm_head([finalNorm](h)·lmHeadScale) [+ final_logits_bias]
 *
 * The cross-attention K/V are computed once per input and shared by every beam; each beam has its own
 * self-attention cache (beam-caches.ts).
 */
import { WeftError } from '../../errors.js';
import { gatherRows, linear } from '../../runtime/layout.js';
import { add, attention, columns, kvStore, rowsOf, scale, type AttentionShape, type KvLayer } from '../../runtime/ops.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { Seq2SeqConfig, Seq2SeqLM } from '../model.js';
import type { AttentionPlan, AttentionSpec, AttentionWeights } from './attention.js';
import { CachedDecoder, type CacheOf } from './cached-decoder.js';
import { runLayer, type LayerContext, type NormPlacement, type TransformerLayer } from './layer.js';
import { applyNorm, type Norm } from './norm.js';
import type { TraceHook } from './trace.js';

/** How positions enter: T5's relative bias on the attention scores, or a table of absolute positions. */
export type Seq2SeqPositions =
  /**
   * T5: a learned bias per (bucket of key − query distance, head), one table for the encoder (bidirectional
   * buckets) and one for the decoder (causal buckets), added to every layer's scores.
   */
  | { kind: 'relative'; encoderBias: Float32Array; decoderBias: Float32Array; numBuckets: number; maxDistance: number }
  /** BART (learned, offset 2), Marian (sinusoidal, offset 0): row `offset + position` of a table added to the embedding. */
  | { kind: 'absolute'; encoder: Tensor; decoder: Tensor; offset: number };

export interface StackWeights {
  layers: TransformerLayer[];
  /** Applied to the embeddings (BART's layernorm_embedding), or null. */
  embedNorm: Norm | null;
  /** Applied to the last layer's output (T5's final_layer_norm), or null. */
  finalNorm: Norm | null;
}

export interface Seq2SeqWeights {
  /** [vocab × dim], shared by encoder and decoder: the packed lmHead when tied, else plain rows. */
  tokenEmbedding: Tensor;
  encoder: StackWeights;
  /** Decoder layers carry `cross` weights with separate q, k, v projections. */
  decoder: StackWeights;
  lmHead: Tensor; // packed [vocab × dim]
  /** f32 [vocab] added to the logits (BART, Marian), or null. */
  finalLogitsBias: Tensor | null;
  allocations: Tensor[];
}

/** What tells the three families apart besides their weights. */
export interface Seq2SeqSpec {
  placement: NormPlacement;
  /** Multiplies q·k (1/√headDim; T5: 1, its initialisation absorbs it). */
  attentionScale: number;
  /** Multiplies the token embeddings (√d_model with scale_embedding, else 1). */
  embedScale: number;
  /** Multiplies the decoder output before the lm_head (T5 with tied embeddings: d_model^-0.5, else 1). */
  lmHeadScale: number;
  positions: Seq2SeqPositions;
}

export class EncoderDecoderLM extends CachedDecoder implements Seq2SeqLM {
  readonly kind = 'encoder-decoder';
  trace: TraceHook | null = null;
  private readonly spec: AttentionSpec;
  /** Per decoder layer: K/V of the current input's encoder output. */
  private cross: KvLayer[] = [];
  private encodedLength = 0;

  /** Takes ownership of `weights` once constructed: `dispose` frees them. */
  constructor(
    runtime: Runtime,
    readonly config: Seq2SeqConfig,
    readonly weights: Seq2SeqWeights,
    private readonly s2s: Seq2SeqSpec,
  ) {
    const shape: AttentionShape = { nHeads: config.nHeads, nKvHeads: config.nHeads, headDim: config.headDim };
    super(runtime, shape, weights.decoder.layers.length, config.contextLength);
    this.spec = { shape, scale: s2s.attentionScale, rope: null };
  }

  /** The encoder's output [ids.length × hiddenSize]; decoding afterwards attends to this input. Clears the decoder cache. */
  encode(ids: number[]): Float32Array {
    this.checkLive();
    const rows = ids.length;
    if (rows === 0) throw new WeftError('E_OPTION', 'encode: no token ids given (an empty input has nothing to attend to)');
    if (rows > this.config.maxSourcePositions) {
      throw new WeftError('E_CONTEXT', `encode: ${rows} input tokens are more than the ${this.config.maxSourcePositions} positions of this ${this.config.modelType} encoder`);
    }
    this.checkIds(ids, 'encode');
    const rt = this.runtime;
    const { hiddenSize: dim } = this.config;
    const { nHeads, headDim } = this.spec.shape;
    this.freeCross();
    rt.scratch.reset();
    const { hidden, normed, branch } = this.embed(ids, 0, rows, this.weights.encoder, 'encoder');
    // One scratch cache serves every encoder layer in turn: its keys are only read within the layer.
    const layerCache: KvLayer = { keys: rt.temp('f32', [nHeads, rows, headDim]), values: rt.temp('f32', [nHeads, rows, headDim]), capacity: rows };
    const plan: AttentionPlan = {
      rowsPerSequence: rows,
      sequences: [{ cache: () => layerCache, pos0: 0, mask: null }],
      causal: false,
      positions: null,
      bias: this.relativeBias('encoder', rows, 0, rows),
    };
    const ctx: LayerContext = { placement: this.s2s.placement, spec: this.spec, plan, cross: null, trace: this.trace };
    this.weights.encoder.layers.forEach((layer, l) => runLayer(rt, layer, l, ctx, hidden, normed, branch));
    const memory = this.weights.encoder.finalNorm ? normed : hidden;
    if (this.weights.encoder.finalNorm) applyNorm(rt, this.weights.encoder.finalNorm, hidden, normed);
    this.trace?.('enc_out', -1, memory);

    // The cross-attention keys and values of this input, once per decoder layer.
    try {
      this.weights.decoder.layers.forEach((layer) => {
        const p = layer.cross!.attention.projections;
        if (p.kind !== 'separate') throw new WeftError('E_OPTION', 'encoder-decoder: cross-attention needs separate q, k, v projections');
        const kv: KvLayer = { keys: rt.alloc('f32', [nHeads, rows, headDim]), values: rt.alloc('f32', [nHeads, rows, headDim]), capacity: rows };
        this.cross.push(kv);
        const k = rt.temp('f32', [rows, nHeads * headDim]);
        const v = rt.temp('f32', [rows, nHeads * headDim]);
        linear(rt, memory, p.k, p.kBias, k);
        linear(rt, memory, p.v, p.vBias, v);
        kvStore(rt, { k: columns(k, 0, nHeads * headDim), v: columns(v, 0, nHeads * headDim), cache: kv, pos: 0, shape: this.spec.shape });
      });
    } catch (e) {
      this.freeCross();
      throw e;
    }
    this.encodedLength = rows;
    this.cache.length = 0;
    return rt.readF32(memory);
  }

  dispose(): void {
    if (!this.disposeCaches()) return;
    this.freeCross();
    for (const t of this.weights.allocations) this.runtime.free(t);
  }

  // ---- the decoder ---------------------------------------------------------------------------------------------

  protected run(ids: number[], pos0: number, caches: CacheOf[], all: boolean): Float32Array {
    if (this.cross.length === 0) throw new WeftError('E_OPTION', `${this.config.modelType}: decoding needs an input: call encode(ids) first`);
    const rt = this.runtime;
    const rows = ids.length;
    const perSequence = rows / caches.length;
    rt.scratch.reset();
    const { hidden, normed, branch } = this.embed(ids, pos0, perSequence, this.weights.decoder, 'decoder');
    const plan: AttentionPlan = {
      rowsPerSequence: perSequence,
      sequences: caches.map((cache) => ({ cache, pos0, mask: null })),
      causal: true,
      positions: null,
      bias: this.relativeBias('decoder', perSequence, pos0, pos0 + perSequence),
    };
    const ctx: LayerContext = { placement: this.s2s.placement, spec: this.spec, plan, cross: (w, l, x, y) => this.crossAttention(w, l, x, y), trace: this.trace };
    this.weights.decoder.layers.forEach((layer, l) => runLayer(rt, layer, l, ctx, hidden, normed, branch));

    const outRows = all || perSequence === 1 ? rows : 1; // one sequence when not all: its last row
    const out = rowsOf(hidden, rows - outRows, outRows);
    const finalNorm = this.weights.decoder.finalNorm;
    const x = finalNorm ? rowsOf(normed, 0, outRows) : out;
    if (finalNorm) applyNorm(rt, finalNorm, out, x);
    if (this.s2s.lmHeadScale !== 1) scale(rt, x, this.s2s.lmHeadScale, x);
    this.trace?.('result_norm', -1, x);
    const logits = rt.temp('f32', [outRows, this.config.vocabSize]);
    linear(rt, x, this.weights.lmHead, this.weights.finalLogitsBias, logits);
    return rt.readF32(logits);
  }

  /** Cross-attention of decoder rows x over the cached K/V of the encoder output (no mask, no bias). */
  private crossAttention(w: AttentionWeights, l: number, x: Tensor, y: Tensor): void {
    const rt = this.runtime;
    const p = w.projections;
    if (p.kind !== 'separate') throw new WeftError('E_OPTION', 'encoder-decoder: cross-attention needs separate projections');
    const rows = x.shape[0];
    const width = this.spec.shape.nHeads * this.spec.shape.headDim;
    const q = rt.temp('f32', [rows, width]);
    const attended = rt.temp('f32', [rows, width]);
    linear(rt, x, p.q, p.qBias, q);
    // Every row, of every beam, reads the same encoder keys: one call.
    attention(rt, {
      q: columns(q, 0, width),
      cache: this.cross[l],
      kvLen: this.encodedLength,
      pos0: 0,
      out: columns(attended, 0, width),
      shape: this.spec.shape,
      scale: this.spec.scale,
      causal: false,
      mask: null,
      bias: null,
    });
    this.trace?.('cross_kqv_out', l, attended);
    linear(rt, attended, w.output, w.outputBias, y);
  }

  // ---- shared by both stacks -----------------------------------------------------------------------------------

  /** hidden = embed(ids)·embedScale [+ absolute positions pos0 + i within each sequence] [→ embedNorm], and two scratch rows. */
  private embed(ids: number[], pos0: number, perSequence: number, stack: StackWeights, which: 'encoder' | 'decoder') {
    const rt = this.runtime;
    const rows = ids.length;
    const dim = this.config.hiddenSize;
    const idTensor = rt.temp('i32', [rows]);
    const hidden = rt.temp('f32', [rows, dim]);
    const normed = rt.temp('f32', [rows, dim]);
    const branch = rt.temp('f32', [rows, dim]);
    rt.i32.set(ids, idTensor.offset / 4);
    gatherRows(rt, this.weights.tokenEmbedding, idTensor, hidden);
    if (this.s2s.embedScale !== 1) scale(rt, hidden, this.s2s.embedScale, hidden);
    const positions = this.s2s.positions;
    if (positions.kind === 'absolute') {
      const table = which === 'encoder' ? positions.encoder : positions.decoder;
      const rowIds = rt.temp('i32', [rows]);
      const i32 = rt.i32;
      for (let i = 0; i < rows; i++) i32[rowIds.offset / 4 + i] = positions.offset + pos0 + (i % perSequence);
      gatherRows(rt, table, rowIds, branch);
      add(rt, hidden, branch, hidden);
    }
    if (stack.embedNorm) applyNorm(rt, stack.embedNorm, hidden, hidden);
    this.trace?.(`${which}_inp_embd`, -1, hidden);
    return { hidden, normed, branch };
  }

  /**
   * T5's position bias f32 [nHeads × rows × kvLen] for query positions q0..q0+rows-1 over keys 0..kvLen-1, or null
   * for absolute positions.
   */
  private relativeBias(which: 'encoder' | 'decoder', rows: number, q0: number, kvLen: number): Tensor | null {
    const p = this.s2s.positions;
    if (p.kind !== 'relative') return null;
    const nHeads = this.spec.shape.nHeads;
    const table = which === 'encoder' ? p.encoderBias : p.decoderBias;
    const rt = this.runtime;
    const bias = rt.temp('f32', [nHeads, rows, kvLen]);
    const f32 = rt.f32View(bias);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < kvLen; j++) {
        const bucket = relativePositionBucket(j - (q0 + i), which === 'encoder', p.numBuckets, p.maxDistance);
        for (let h = 0; h < nHeads; h++) f32[(h * rows + i) * kvLen + j] = table[bucket * nHeads + h];
      }
    }
    return bias;
  }

  private freeCross(): void {
    for (const kv of this.cross) {
      this.runtime.free(kv.keys);
      this.runtime.free(kv.values);
    }
    this.cross = [];
    this.encodedLength = 0;
  }
}

/**
 * T5's bucket of a relative position (key − query), as `T5Attention._relative_position_bucket` (transformers
 * models/t5/modeling_t5.py @ 6b8b757d): half the buckets hold exact distances, the rest logarithmic ones up to
 * maxDistance; bidirectional buckets split by sign, causal ones see only keys before the query. The logarithm is
 * taken in float32 as torch does (`relative_position.float()`), each step rounded with Math.fround, so a distance
 * on a bucket boundary lands where HF puts it.
 */
export function relativePositionBucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = numBuckets;
  let bucket = 0;
  let n: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relative > 0) bucket += buckets;
    n = Math.abs(relative);
  } else {
    n = -Math.min(relative, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (n < maxExact) return bucket + n;
  const f = Math.fround;
  const ratio = f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = maxExact + Math.trunc(f(ratio * (buckets - maxExact)));
  return bucket + Math.min(large, buckets - 1);
}
