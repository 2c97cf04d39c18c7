/**
 * The typed call of the attention kernel (assembly/attention.ts): named fields instead of twenty numbers, and the
 * split of its heads over the runtime's threads, each thread with its own scores buffer.
 */
import type { Runtime } from './runtime.js';
import type { Tensor } from './tensor.js';

export interface AttentionCall {
  /** Byte offset of query row 0, head 0, and the query rows' stride in elements (heads packed from the row start). */
  q: number;
  qStride: number;
  /** This layer's caches, each f32 [nKvHeads × capacity × headDim]. */
  keys: Tensor;
  values: Tensor;
  capacity: number;
  /** Byte offset of output row 0 and its stride in elements. */
  out: number;
  outStride: number;
  rows: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Keys [0, kvLen) are attended; query row i sits at position pos0 + i. */
  kvLen: number;
  pos0: number;
  scale: number;
  /** Row i sees keys ≤ pos0 + i. */
  causal: boolean;
  /** f32 [kvLen] additive (padding), or null. */
  mask: Tensor | null;
  /** f32 [nHeads × rows × kvLen] additive (T5 relative positions), or null. */
  bias: Tensor | null;
}

/** out = softmax(scale·q·kᵀ + mask + bias)·v for every head; heads are split over the threads. */
export function attention(rt: Runtime, a: AttentionCall): void {
  // One scores row per thread, on its own cache lines.
  const scoresBytes = Math.ceil((a.kvLen * 4) / 64) * 64;
  const scores = rt.temp('f32', [(rt.threads * scoresBytes) / 4]);
  rt.parallel({
    kernel: 'attention',
    args: [a.q, a.qStride, a.keys.offset, a.values.offset, a.capacity, a.out, a.outStride, a.rows, a.nHeads, a.nKvHeads, a.headDim, a.kvLen, a.pos0,
      a.scale, a.causal ? 1 : 0, a.mask ? a.mask.offset : 0, a.bias ? a.bias.offset : 0, scores.offset],
    start: 0,
    end: a.nHeads,
    unit: 1,
    work: 2 * a.rows * a.nHeads * a.kvLen * a.headDim,
    scratch: { arg: 17, bytes: scoresBytes },
  });
}
