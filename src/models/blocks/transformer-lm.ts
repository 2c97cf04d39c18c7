/**
 * The causal language model every decoder-only architecture here shares (GPT-2, Llama, Mistral, Qwen2):
 *
 *   h = embed(ids) [+ learned positions]
 *   per layer (layer.ts, pre-norm):  h += attention(norm(h));  h += mlp(norm(h))
 *   logits = lm_head(norm(h))
 *
 * The architecture files only read their config, name their tensors and choose the norm, MLP and position
 * scheme; this file runs them. One `TransformerLM` owns its weights and the RoPE table; its KV caches (one sequence,
 * or one per beam) are cached-decoder.ts's.
 */
import { gatherRows, linear } from '../../runtime/layout.js';
import { add, rowsOf, type AttentionShape, type RopeTable } from '../../runtime/ops.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { CausalLM, DecoderConfig } from '../model.js';
import type { AttentionSpec } from './attention.js';
import { CachedDecoder, type CacheOf } from './cached-decoder.js';
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

export class TransformerLM extends CachedDecoder implements CausalLM {
  readonly kind = 'causal-lm';
  /** Set to print or collect intermediate values (see TraceHook); null in normal runs. */
  trace: TraceHook | null = null;
  private readonly spec: AttentionSpec;

  /** Takes ownership of `weights` once constructed: `dispose` frees them. If this throws, they are the caller's. */
  constructor(
    runtime: Runtime,
    readonly config: DecoderConfig,
    readonly weights: CausalLMWeights,
    ropeConfig: RopeConfig | null,
  ) {
    const shape: AttentionShape = { nHeads: config.nHeads, nKvHeads: config.nKvHeads, headDim: config.headDim };
    super(runtime, shape, config.nLayers, config.contextLength, { 'RoPE table': ropeConfig ? config.contextLength * ropeConfig.rotaryDim * 4 : 0 });
    const rt = runtime;
    let rope: RopeTable | null = null;
    if (ropeConfig) {
      try {
        const table = rt.alloc('f32', [config.contextLength, ropeConfig.rotaryDim / 2, 2]);
        rt.write(table, ropeTable(ropeInverseFrequencies(ropeConfig), config.contextLength));
        rope = { table, rotaryDim: ropeConfig.rotaryDim, interleaved: ropeConfig.interleaved };
      } catch (e) {
        this.cache.free(rt);
        throw e;
      }
    }
    this.spec = { shape, scale: 1 / Math.sqrt(config.headDim), rope };
  }

  protected run(ids: number[], pos0: number, caches: CacheOf[], all: boolean): Float32Array {
    const { vocabSize, hiddenSize: dim } = this.config;
    const rows = ids.length;
    const perSequence = rows / caches.length;
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

  dispose(): void {
    if (!this.disposeCaches()) return;
    for (const t of this.weights.allocations) this.runtime.free(t);
    if (this.spec.rope) this.runtime.free(this.spec.rope.table);
  }
}
