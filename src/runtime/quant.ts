/**
 * Quantized weight types the kernels run, keyed by ggml type name, and what the host needs to call them: the
 * activation format to quantize x into (Q8_0 or Q8_K, see assembly/quants/common.ts), the matmul kernel, the
 * row dequantizer (embedding lookups), the block geometry (from GGML_TYPES in formats/gguf.ts, the one table of
 * every ggml type id) and, where weft can make the type itself, the quantizer used by quantize-on-load.
 *
 *   x f32 ─quantizeAct<act>─▶ scratch xq ─linear<T>(xq, W blocks)─▶ y f32
 *   file rows ─read─▶ wasm memory ─interleaveRows4 (32-element types, in place)─▶ W blocks
 */
import { GGML_TYPES, type GgmlType } from '../formats/gguf.js';
import type { Kernels } from './kernels.js';

export type QuantType = 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'IQ4_NL' | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'IQ4_XS';

/** linear<T>(xq, w, b, y, rows, inF, outF, [scratch,] start, end): see Kernels. */
type LinearKernel = (...args: number[]) => void;
type RowKernel = Kernels['dequantRowQ8_0_ref'];

export interface QuantInfo {
  /** ggml type id (GGUF tensor type). */
  id: number;
  /** Elements per block and bytes per block. */
  blockSize: number;
  typeSize: number;
  /** The activation format x is quantized to before the matmul (ggml's vec_dot_type). */
  act: 'Q8_0' | 'Q8_K';
  /**
   * Rows interleaved by four in wasm memory (the 32-element types, assembly/quants/common.ts): allocations hold
   * whole groups of 4 rows, and threads split the outputs on groups. Otherwise rows as in the file.
   */
  interleaved: boolean;
  /** Per-thread scratch bytes the matmul takes for rows of inF (0: it takes no scratch argument). */
  scratchBytes: (inF: number) => number;
  linear: (k: Kernels) => LinearKernel;
  /** The matmul's export name, for the thread dispatcher (Runtime.parallel). */
  linearName: keyof Kernels;
  linearRef: (k: Kernels) => LinearKernel;
  dequantRow: (k: Kernels) => RowKernel;
  /** f32 → blocks, byte-identical to ggml's quantizer (for quantize on load), where weft has one. */
  quantizeRow?: (k: Kernels) => RowKernel;
}

function info(name: QuantType, act: 'Q8_0' | 'Q8_K', quantize: boolean): QuantInfo {
  const id = [...GGML_TYPES].find(([, t]) => t.name === name)![0];
  const t: GgmlType = GGML_TYPES.get(id)!;
  const kernel = (k: Kernels, fn: string) => (k as unknown as Record<string, LinearKernel & RowKernel>)[fn];
  return {
    id,
    blockSize: t.blockSize,
    typeSize: t.typeSize,
    act,
    interleaved: t.blockSize === 32,
    // the prefill's unpacked group: UNPACKED_BLOCK = 288 bytes per block (assembly/quants/blocks32.ts)
    scratchBytes: (inF) => (t.blockSize === 32 ? (inF / 32) * 288 : 0),
    linear: (k) => kernel(k, `linear${name}`),
    linearName: `linear${name}` as keyof Kernels,
    linearRef: (k) => kernel(k, `linear${name}_ref`),
    dequantRow: (k) => kernel(k, `dequantRow${name}_ref`),
    quantizeRow: quantize ? (k) => kernel(k, `quantizeRow${name}_ref`) : undefined,
  };
}

export const QUANT_TYPES: Readonly<Record<QuantType, QuantInfo>> = {
  Q8_0: info('Q8_0', 'Q8_0', true),
  Q4_0: info('Q4_0', 'Q8_0', true),
  Q4_1: info('Q4_1', 'Q8_0', false),
  Q5_0: info('Q5_0', 'Q8_0', false),
  Q5_1: info('Q5_1', 'Q8_0', false),
  IQ4_NL: info('IQ4_NL', 'Q8_0', false),
  Q2_K: info('Q2_K', 'Q8_K', false),
  Q3_K: info('Q3_K', 'Q8_K', false),
  Q4_K: info('Q4_K', 'Q8_K', true),
  Q5_K: info('Q5_K', 'Q8_K', false),
  Q6_K: info('Q6_K', 'Q8_K', false),
  IQ4_XS: info('IQ4_XS', 'Q8_K', false),
};

export function isQuantType(dtype: string): dtype is QuantType {
  return Object.prototype.hasOwnProperty.call(QUANT_TYPES, dtype);
}

/** Bytes of one activation row of inF elements (assembly/quants/common.ts q8_0RowBytes / q8_KRowBytes). */
export function actRowBytes(act: 'Q8_0' | 'Q8_K', inF: number): number {
  const raw = act === 'Q8_0' ? (inF / 32) * 72 : (inF / 256) * 292;
  return Math.ceil(raw / 16) * 16;
}

/** Bytes of a [rows × inF] weight of `type` as GGUF stores it. */
export function quantBytes(type: QuantType, rows: number, inF: number): number {
  const q = QUANT_TYPES[type];
  return rows * (inF / q.blockSize) * q.typeSize;
}

/** Bytes the same weight takes in wasm memory: interleaved types hold whole groups of 4 rows (up to 3 zero rows more). */
export function quantStorageBytes(type: QuantType, rows: number, inF: number): number {
  return quantBytes(type, QUANT_TYPES[type].interleaved ? Math.ceil(rows / 4) * 4 : rows, inF);
}
