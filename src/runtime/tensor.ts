import { QUANT_TYPES, type QuantType } from './quant.js';

/**
 * A tensor handle: a typed view of bytes in wasm memory. Never owns a copy; the allocation belongs to whoever
 * made it (a model's weight heap block, a KV cache, the scratch arena).
 */
export type DType = 'f32' | 'f16' | 'bf16' | 'i32' | QuantType;

/**
 * How the bytes are arranged.
 * - `rows`: plain row-major, as in the source file.
 * - `packed`: a linear-layer weight [outF × inF] repacked at load time for the SIMD kernels (see
 *   src/runtime/layout.ts for the exact order); only linear kernels and `gatherRows` read it.
 * - `blocks`: a quantized weight [outF × inF] (dtype a QuantType) as GGUF stores it: outF rows of inF/QK ggml
 *   blocks, row-major (assembly/quants/common.ts); only the quantized linear kernels and `gatherRows` read it.
 * - `parts`: a fused linear weight whose stacked parts (along outF) have different quantized types, as llama.cpp's
 *   mixes write them (Q4_K_M keeps attn_v in a wider type than attn_q/attn_k): `parts` lists them in order.
 */
export type Layout = 'rows' | 'packed' | 'blocks' | 'parts';

export interface Tensor {
  readonly dtype: DType;
  /** Outermost first, as PyTorch writes shapes: a linear weight is [outF, inF]. */
  readonly shape: readonly number[];
  /** Byte offset in the runtime's linear memory. */
  readonly offset: number;
  readonly layout: Layout;
  /** Bytes the allocation occupies (packed layouts may pad). */
  readonly byteLength: number;
  /** Layout `parts` only: the stacked parts, each a `blocks` tensor with its own allocation. */
  readonly parts?: readonly Tensor[];
}

/** Bytes per element of the plain dtypes (quantized types have blocks: see QUANT_TYPES). */
export const DTYPE_BYTES: Record<'f32' | 'f16' | 'bf16' | 'i32', number> = { f32: 4, f16: 2, bf16: 2, i32: 4 };

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes of a tensor of `dtype` and `shape` stored plainly (quantized: rows of whole blocks, as GGUF stores them). */
export function tensorBytes(dtype: DType, shape: readonly number[]): number {
  if (dtype === 'f32' || dtype === 'f16' || dtype === 'bf16' || dtype === 'i32') return numel(shape) * DTYPE_BYTES[dtype];
  const q = QUANT_TYPES[dtype];
  return (numel(shape) / q.blockSize) * q.typeSize;
}
