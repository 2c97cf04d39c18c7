/**
 * A tensor handle: a typed view of bytes in wasm memory. Never owns a copy; the allocation belongs to whoever
 * made it (a model's weight heap block, a KV cache, the scratch arena).
 */
export type DType = 'f32' | 'f16' | 'bf16' | 'i32';

/**
 * How the bytes are arranged.
 * - `rows`: plain row-major, as in the source file.
 * - `packed`: a linear-layer weight [outF × inF] repacked at load time for the SIMD kernels (see
 *   src/runtime/layout.ts for the exact order); only linear kernels and `gatherRows` read it.
 * Quantized block layouts will join this union.
 */
export type Layout = 'rows' | 'packed';

export interface Tensor {
  readonly dtype: DType;
  /** Outermost first, as PyTorch writes shapes: a linear weight is [outF, inF]. */
  readonly shape: readonly number[];
  /** Byte offset in the runtime's linear memory. */
  readonly offset: number;
  readonly layout: Layout;
  /** Bytes the allocation occupies (packed layouts may pad). */
  readonly byteLength: number;
}

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, i32: 4 };

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
