/**
 * Causal self-attention with a KV cache and grouped-query heads, written once for every decoder.
 *
 * q, k and v come out of ONE linear layer (the loader concatenates q_proj, k_proj, v_proj rows, or takes GPT-2's
 * fused c_attn as it is): each row of its output is [q heads | k heads | v heads], and the kernels read the three
 * parts in place through a row stride.
 */
import { WeftError } from '../../errors.js';
import { attention } from '../../runtime/attention.js';
import { linear } from '../../runtime/layout.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { TraceHook } from './trace.js';

export interface AttentionShape {
  nHeads: number;
  /** Fewer than nHeads: grouped-query attention, query head h reads KV head h / (nHeads / nKvHeads). */
  nKvHeads: number;
  headDim: number;
}

export interface AttentionWeights {
  qkv: Tensor; // packed [(nHeads + 2·nKvHeads)·headDim × dim]
  qkvBias: Tensor | null; // f32 [(nHeads + 2·nKvHeads)·headDim]
  output: Tensor; // packed [dim × nHeads·headDim]
  outputBias: Tensor | null; // f32 [dim]
}

/** RoPE as the kernel needs it: the cos/sin table (see rope.ts) and how the rotated dims pair up. */
export interface RopeTable {
  table: Tensor; // f32 [capacity × rotaryDim/2 × 2]
  rotaryDim: number;
  interleaved: boolean;
}

/** Keys and values of every layer for one sequence: each f32 [nKvHeads × capacity × headDim]. */
export class KvCache {
  readonly keys: Tensor[] = [];
  readonly values: Tensor[] = [];
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
        this.keys.push(rt.alloc('f32', [shape.nKvHeads, capacity, shape.headDim]));
        this.values.push(rt.alloc('f32', [shape.nKvHeads, capacity, shape.headDim]));
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
    for (const t of [...this.keys, ...this.values]) rt.free(t);
    this.keys.length = 0;
    this.values.length = 0;
  }
}

/**
 * y[rows × dim] = attention block of layer `layer` for the normed input x[rows × dim] at positions
 * pos0..pos0+rows-1 (`positions`: i32 [rows]); stores the rows' keys and values at those cache positions.
 */
export function selfAttention(
  rt: Runtime,
  w: AttentionWeights,
  shape: AttentionShape,
  rope: RopeTable | null,
  cache: KvCache,
  layer: number,
  x: Tensor,
  positions: Tensor,
  pos0: number,
  rows: number,
  y: Tensor,
  trace: TraceHook | null,
): void {
  const k = rt.kernels;
  const { nHeads, nKvHeads, headDim } = shape;
  const qDim = nHeads * headDim;
  const kvDim = nKvHeads * headDim;
  const qkvDim = qDim + 2 * kvDim;
  const qkv = rt.temp('f32', [rows, qkvDim]);
  const attended = rt.temp('f32', [rows, qDim]);
  const kvLen = pos0 + rows;

  linear(rt, x, w.qkv, w.qkvBias, qkv);
  const q = qkv.offset;
  const key = q + qDim * 4;
  const value = key + kvDim * 4;
  if (rope) {
    const interleaved = rope.interleaved ? 1 : 0;
    k.rope(q, qkvDim, rope.table.offset, positions.offset, rows, headDim, rope.rotaryDim, interleaved, 0, nHeads);
    k.rope(key, qkvDim, rope.table.offset, positions.offset, rows, headDim, rope.rotaryDim, interleaved, 0, nKvHeads);
  }
  trace?.('qkv', layer, qkv);

  const keys = cache.keys[layer];
  const values = cache.values[layer];
  k.kvStore(key, value, qkvDim, keys.offset, values.offset, cache.capacity, nKvHeads, headDim, pos0, rows);
  attention(rt, { q, qStride: qkvDim, keys, values, capacity: cache.capacity, out: attended.offset, outStride: qDim, rows, nHeads, nKvHeads, headDim,
    kvLen, pos0, scale: 1 / Math.sqrt(headDim), causal: true, mask: null, bias: null });
  trace?.('kqv_out', layer, attended);
  linear(rt, attended, w.output, w.outputBias, y);
}
