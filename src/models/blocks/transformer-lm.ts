/**
 * The causal language model every decoder-only architecture here shares (GPT-2, Llama, Mistral, Qwen2):
 *
 *   h = embed(ids) [+ learned positions]
 *   per layer (layer.ts, pre-norm):  h += attention(norm(h));  h += mlp(norm(h))
 *   logits = lm_head(norm(h))
 *
 * The architecture files only read their config, name their tensors and choose the norm, MLP and position
 * scheme; this file runs them. One `TransformerLM` owns its weights, one KV cache (one sequence) and the RoPE table.
 */
import { WeftError } from '../../errors.js';
import { gatherRows, linear } from '../../runtime/layout.js';
import { add, rowsOf, type AttentionShape, type KvLayer, type RopeTable } from '../../runtime/ops.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { CausalLM, DecoderConfig } from '../model.js';
import { KvCache, type AttentionSpec } from './attention.js';
import { BeamCaches } from './beam-caches.js';
import { runLayer, type TransformerLayer } from './layer.js';
import { applyNorm, type Norm } from './norm.js';
import { ropeInverseFrequencies, ropeTable, type RopeConfig } from './rope.js';
import type { TraceHook } from './trace.js';

export interface CausalLMWeights {
  /** [vocab × dim]: the packed `lmHead` itself when the embedding is tied, else plain rows of the file's dtype. */
  tokenEmbedding: Tensor;
  /** Learned positions [nPositions × dim], plain rows (GPT-2); null with RoPE. */
  positionEmbedding: Tensor | null;
  layers: TransformerLayer[];
  finalNorm: Norm;
  lmHead: Tensor; // packed [vocab × dim]
  /** Every allocation above, once each: what `dispose` frees. */
  allocations: Tensor[];
}

export class TransformerLM implements CausalLM {
  readonly kind = 'causal-lm';
  /** Set to print or collect intermediate values (see TraceHook); null in normal runs. */
  trace: TraceHook | null = null;
  private readonly spec: AttentionSpec;
  private readonly cache: KvCache;
  private beams: BeamCaches | null = null;
  private disposed = false;

  /** Takes ownership of `weights` once constructed: `dispose` frees them. If this throws, they are the caller's. */
  constructor(
    readonly runtime: Runtime,
    readonly config: DecoderConfig,
    readonly weights: CausalLMWeights,
    ropeConfig: RopeConfig | null,
  ) {
    const rt = runtime;
    const shape: AttentionShape = { nHeads: config.nHeads, nKvHeads: config.nKvHeads, headDim: config.headDim };
    let ropeTensor: Tensor | null = null;
    try {
      let rope: RopeTable | null = null;
      if (ropeConfig) {
        ropeTensor = rt.alloc('f32', [config.contextLength, ropeConfig.rotaryDim / 2, 2]);
        rt.write(ropeTensor, ropeTable(ropeInverseFrequencies(ropeConfig), config.contextLength));
        rope = { table: ropeTensor, rotaryDim: ropeConfig.rotaryDim, interleaved: ropeConfig.interleaved };
      }
      this.spec = { shape, scale: 1 / Math.sqrt(config.headDim), rope };
      this.cache = new KvCache(rt, config.nLayers, shape, config.contextLength);
    } catch (e) {
      if (ropeTensor) rt.free(ropeTensor);
      throw e;
    }
  }

  get cacheLength(): number {
    return this.cache.length;
  }

  forward(ids: number[], options: { all?: boolean } = {}): Float32Array {
    this.checkLive();
    const pos0 = this.cache.length;
    const cache = this.cache;
    const logits = this.run(ids, pos0, [(l) => cache.layers[l]], options.all ?? false);
    this.cache.length = pos0 + ids.length;
    return logits;
  }

  beginBeams(n: number, maxLength: number): void {
    this.checkLive();
    this.endBeams();
    this.beams = new BeamCaches(this.runtime, this.spec.shape, this.cache, n, maxLength);
  }

  stepBeams(parents: readonly number[], ids: readonly number[]): Float32Array {
    const beams = this.beams;
    if (!beams) throw new WeftError('E_OPTION', 'stepBeams before beginBeams');
    beams.reorder(parents);
    const logits = this.run([...ids], beams.length, ids.map((_, b) => beams.cacheOf(b)), true);
    beams.length++;
    return logits;
  }

  endBeams(): void {
    this.beams?.free();
    this.beams = null;
  }

  /**
   * Logits of `ids` split evenly over `caches` (one sequence each, all at positions pos0..): every row's with `all`,
   * else the last row (one sequence) — beams are one row each, so all of them.
   */
  private run(ids: number[], pos0: number, caches: Array<(layer: number) => KvLayer>, all: boolean): Float32Array {
    const { vocabSize, contextLength, hiddenSize: dim } = this.config;
    const rows = ids.length;
    const perSequence = rows / caches.length;
    if (rows === 0) throw new WeftError('E_OPTION', 'forward: no token ids given');
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new WeftError('E_OPTION', `forward: token id ${id} at index ${i} is outside the vocabulary [0, ${vocabSize})`);
      }
    });
    if (pos0 + perSequence > contextLength) {
      throw new WeftError(
        'E_CONTEXT',
        `${perSequence} new tokens after ${pos0} cached positions need ${pos0 + perSequence} positions, past the context length of ${contextLength} ` +
          `(a larger contextLength option, --context-length in the CLI, raises it up to the model's maximum)`,
      );
    }
    const rt = this.runtime;
    rt.scratch.reset();
    const idTensor = rt.temp('i32', [rows]);
    const positions = rt.temp('i32', [rows]);
    const hidden = rt.temp('f32', [rows, dim]); // the residual stream
    const normed = rt.temp('f32', [rows, dim]);
    const branch = rt.temp('f32', [rows, dim]); // output of an attention or MLP block, added to `hidden`
    const i32 = rt.i32; // after the allocations above: a grow would have replaced the view
    i32.set(ids, idTensor.offset / 4);
    for (let i = 0; i < rows; i++) i32[positions.offset / 4 + i] = pos0 + (i % perSequence);

    const w = this.weights;
    gatherRows(rt, w.tokenEmbedding, idTensor, hidden);
    if (w.positionEmbedding) {
      gatherRows(rt, w.positionEmbedding, positions, branch);
      add(rt, hidden, branch, hidden);
    }
    this.trace?.('inp_embd', -1, hidden);

    const ctx = {
      placement: 'pre' as const,
      spec: this.spec,
      plan: { rowsPerSequence: perSequence, sequences: caches.map((cache) => ({ cache, pos0, mask: null })), causal: true, positions, bias: null },
      cross: null,
      trace: this.trace,
    };
    w.layers.forEach((layer, l) => runLayer(rt, layer, l, ctx, hidden, normed, branch));

    // Only the rows whose logits are wanted go through the final norm and the (large) lm_head.
    const outRows = all || perSequence === 1 ? rows : 1;
    const last = rowsOf(hidden, rows - outRows, outRows);
    const lastNormed = rowsOf(normed, 0, outRows);
    applyNorm(rt, w.finalNorm, last, lastNormed);
    this.trace?.('result_norm', -1, lastNormed);
    const logits = rt.temp('f32', [outRows, vocabSize]);
    linear(rt, lastNormed, w.lmHead, null, logits);
    return rt.readF32(logits);
  }

  truncate(n: number): void {
    this.checkLive();
    if (!Number.isInteger(n) || n < 0) throw new WeftError('E_OPTION', `truncate: ${n} is not a position count`);
    this.cache.length = Math.min(this.cache.length, n);
  }

  reset(): void {
    this.truncate(0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.endBeams();
    const rt = this.runtime;
    for (const t of this.weights.allocations) rt.free(t);
    this.cache.free(rt);
    if (this.spec.rope) rt.free(this.spec.rope.table);
  }

  private checkLive(): void {
    if (this.disposed) throw new WeftError('E_OPTION', `this ${this.config.modelType} model was disposed`);
  }
}
