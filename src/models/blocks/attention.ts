/**
 * Self-attention, written once for every family: causal with a KV cache (decoders), or bidirectional over a padded
 * batch with a padding mask (encoders), with RoPE or without, grouped-query heads, and q/k/v from one fused linear
 * layer or three.
 *
 *   x [rows × dim] ─ projections ─▶ q | k | v ─ RoPE? ─▶ per sequence: kvStore(k, v → its cache at pos0)
 *                                                            attention(q, cache, causal?, mask?, bias?) ─▶ out_proj ─▶ y
 *
 * Fused projections (the loader concatenates q_proj, k_proj, v_proj rows, or takes GPT-2's c_attn as it is) give
 * one output row [q heads | k heads | v heads]; the kernels read the three parts in place through a row stride.
 * The rows of `x` hold one or more sequences of equal length (`AttentionPlan`): linear layers run over all of
 * them at once, the attention kernel once per sequence over that sequence's keys.
 */
import { WeftError } from '../../errors.js';
import { linear } from '../../runtime/layout.js';
import { attention, columns, kvStore, rope, rowsOf, type AttentionShape, type KvLayer, type RopeTable, type RowSlice } from '../../runtime/ops.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { TraceHook } from './trace.js';

export type Projections =
  /** One linear layer: packed [(nHeads + 2·nKvHeads)·headDim × dim], bias f32 of that length. */
  | { kind: 'fused'; qkv: Tensor; bias: Tensor | null }
  /** Three: q packed [nHeads·headDim × dim], k and v [nKvHeads·headDim × dim]. */
  | { kind: 'separate'; q: Tensor; qBias: Tensor | null; k: Tensor; kBias: Tensor | null; v: Tensor; vBias: Tensor | null };

export interface AttentionWeights {
  projections: Projections;
  output: Tensor; // packed [dim × nHeads·headDim]
  outputBias: Tensor | null; // f32 [dim]
}

/** What is fixed about a model's attention: its heads, the score scale (1/√headDim; 1 for T5) and RoPE, if any. */
export interface AttentionSpec {
  shape: AttentionShape;
  scale: number;
  rope: RopeTable | null;
}

/** Where one forward's rows go: `sequences.length` sequences of `rowsPerSequence` rows each, in order. */
export interface AttentionPlan {
  rowsPerSequence: number;
  /** Per sequence: the cache its keys/values are stored in (at pos0 onwards) and its padding mask f32 [pos0 + rows] or null. */
  sequences: { cache: (layer: number) => KvLayer; pos0: number; mask: Tensor | null }[];
  causal: boolean;
  /** i32 [all rows]: the position of each row, for RoPE (null without RoPE). */
  positions: Tensor | null;
  /** f32 [nHeads × rowsPerSequence × kvLen], added to every sequence's scores (T5's relative positions), or null. */
  bias: Tensor | null;
}

/** Keys and values of every layer for one sequence: each f32 [nKvHeads × capacity × headDim]. */
export class KvCache {
  readonly layers: KvLayer[] = [];
  /** Positions 0..length-1 hold valid keys and values. */
  length = 0;

  constructor(
    rt: Runtime,
    nLayers: number,
    shape: AttentionShape,
    readonly capacity: number,
  ) {
    try {
      for (let l = 0; l < nLayers; l++) {
        this.layers.push({ keys: rt.alloc('f32', [shape.nKvHeads, capacity, shape.headDim]), values: rt.alloc('f32', [shape.nKvHeads, capacity, shape.headDim]), capacity });
      }
    } catch (e) {
      this.free(rt);
      throw new WeftError(
        'E_MEMORY',
        `no room for a KV cache of ${capacity} positions × ${nLayers} layers (a smaller contextLength option shrinks it): ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  free(rt: Runtime): void {
    for (const l of this.layers) {
      rt.free(l.keys);
      rt.free(l.values);
    }
    this.layers.length = 0;
  }
}

/** q, k and v of x [rows × dim] as row slices of scratch tensors. */
export function projectQkv(rt: Runtime, p: Projections, shape: AttentionShape, x: Tensor): { q: RowSlice; k: RowSlice; v: RowSlice; fused: Tensor | null } {
  const rows = x.shape[0];
  const qDim = shape.nHeads * shape.headDim;
  const kvDim = shape.nKvHeads * shape.headDim;
  if (p.kind === 'fused') {
    const qkv = rt.temp('f32', [rows, qDim + 2 * kvDim]);
    linear(rt, x, p.qkv, p.bias, qkv);
    return { q: columns(qkv, 0, qDim), k: columns(qkv, qDim, kvDim), v: columns(qkv, qDim + kvDim, kvDim), fused: qkv };
  }
  const q = rt.temp('f32', [rows, qDim]);
  const k = rt.temp('f32', [rows, kvDim]);
  const v = rt.temp('f32', [rows, kvDim]);
  linear(rt, x, p.q, p.qBias, q);
  linear(rt, x, p.k, p.kBias, k);
  linear(rt, x, p.v, p.vBias, v);
  return { q: columns(q, 0, qDim), k: columns(k, 0, kvDim), v: columns(v, 0, kvDim), fused: null };
}

/** y[rows × dim] = the attention block of layer `layer` over x[rows × dim] (normed or not: the layer decides). */
export function selfAttention(rt: Runtime, w: AttentionWeights, spec: AttentionSpec, plan: AttentionPlan, layer: number, x: Tensor, y: Tensor, trace: TraceHook | null): void {
  const { shape } = spec;
  const rows = x.shape[0];
  const T = plan.rowsPerSequence;
  if (rows !== T * plan.sequences.length) throw new WeftError('E_OPTION', `selfAttention: ${rows} rows are not ${plan.sequences.length} sequences of ${T}`);
  const { q, k, v, fused } = projectQkv(rt, w.projections, shape, x);
  if (spec.rope) {
    if (!plan.positions) throw new WeftError('E_OPTION', 'selfAttention: RoPE needs the rows\' positions');
    rope(rt, { x: q, nHeads: shape.nHeads, headDim: shape.headDim, rope: spec.rope, positions: plan.positions });
    rope(rt, { x: k, nHeads: shape.nKvHeads, headDim: shape.headDim, rope: spec.rope, positions: plan.positions });
  }
  if (fused) trace?.('qkv', layer, fused);

  const qDim = shape.nHeads * shape.headDim;
  const attended = rt.temp('f32', [rows, qDim]);
  plan.sequences.forEach((s, b) => {
    const part = (r: RowSlice): RowSlice => ({ ...r, offset: r.offset + b * T * r.stride * 4, rows: T });
    const cache = s.cache(layer);
    kvStore(rt, { k: part(k), v: part(v), cache, pos: s.pos0, shape });
    attention(rt, {
      q: part(q),
      cache,
      kvLen: s.pos0 + T,
      pos0: s.pos0,
      out: columns(rowsOf(attended, b * T, T), 0, qDim),
      shape,
      scale: spec.scale,
      causal: plan.causal,
      mask: s.mask,
      bias: plan.bias,
    });
  });
  trace?.('kqv_out', layer, attended);
  linear(rt, attended, w.output, w.outputBias, y);
}
