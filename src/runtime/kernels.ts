/**
 * The calling convention between the host and the wasm kernels (assembly/*.ts).
 *
 * - Every pointer is a byte offset into the one linear memory the host created (`Runtime.memory`); 0 means
 *   "absent" for optional operands (bias, mask). Every size is an element count (i32), never bytes.
 * - Kernels are pure: they read their inputs and write their outputs, allocate nothing and keep no state.
 * - Each kernel's last two parameters are the half-open range of the dimension that threads will split
 *   (`start`, `end`): output features for linear layers, rows for norms and softmax, heads for attention and
 *   RoPE, elements for element-wise ops. Single-threaded callers pass the whole range.
 * - A `_ref` twin is a plain scalar loop over the plain (unpacked, row-major) layout, built with the same flags.
 *
 * This interface is the contract: the kernel files in assembly/ implement exactly these exports.
 */
export interface Kernels {
  /** First byte above the module's own static data; the host's allocator starts here. */
  heapBase(): number;
  /** 1 in the relaxed-SIMD build, 0 in the plain SIMD build. */
  relaxedSimdBuild(): number;

  // ---- linear.ts: y[rows×outF] = x[rows×inF] · Wᵀ (+ b[outF]) -------------------------------------------
  // W is in the packed layout produced by `packLinear` (src/runtime/layout.ts): see `Layout` in tensor.ts.
  // Computes output features [start, end); `start` must be a multiple of 4 (the packing block height).
  linearF32(x: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearF16(x: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearBF16(x: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  /**
   * linearF16 for weights holding no inf or nan (wrong sums otherwise): the same bits, faster (the exponent rebias
   * moves onto x, see assembly/linear.ts). `linear()` picks it for packed f16 weights counted finite at packing.
   */
  linearF16Finite(x: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  /** References: W plain row-major [outF×inF] of the same dtype. */
  linearF32_ref(x: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearF16_ref(x: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearBF16_ref(x: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  /** Repack plain row-major [outF×inF] (dtype 0 f32, 1 f16, 2 bf16) into the packed layout, same dtype. */
  packLinear(src: number, dst: number, outF: number, inF: number, dtype: number): void;
  /** The same packed bytes as `packLinear` of W [outF×inF], read from its transpose: src plain row-major [inF×outF]. */
  packLinearTransposed(src: number, dst: number, outF: number, inF: number, dtype: number): void;
  /** out[n×dim] f32 = table rows ids[n] (i32); table is packed (`packed`=1) or plain, of `dtype` (0/1/2). */
  gatherRows(table: number, ids: number, out: number, n: number, dim: number, dtype: number, packed: number): void;

  // ---- quants/: quantized weights kept as GGUF blocks (contract: assembly/quants/common.ts) ------------------
  // xq: activation rows quantized by quantizeActQ8_0 (32-element types) or quantizeActQ8_K (K-quants, IQ4_XS),
  // row stride `actRowBytes` (src/runtime/quant.ts). w: the GGUF blocks, outF rows of inF/QK blocks, as in the file
  // (K-quants) or interleaved by four rows (the 32-element types: interleaveRows4). scratch (32-element types):
  // `QuantInfo.scratchBytes` per thread. Output rows [start, end), any range. _ref: scalar twin over the same xq and
  // w (defines the summation order).
  /** x f32 [rows×inF] → Q8_0 activation rows (ggml quantize_row_q8_0_ref's numbers); rows [start, end). inF % 32 == 0. */
  quantizeActQ8_0(x: number, xq: number, inF: number, start: number, end: number): void;
  /** x f32 [rows×inF] → Q8_K activation rows (ggml quantize_row_q8_K_ref's numbers); rows [start, end). inF % 256 == 0. */
  quantizeActQ8_K(x: number, xq: number, inF: number, start: number, end: number): void;
  linearQ8_0(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearQ4_0(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearQ4_1(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearQ5_0(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearQ5_1(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearIQ4_NL(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearQ8_0_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearQ4_0_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearQ4_1_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearQ5_0_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearQ5_1_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  linearIQ4_NL_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, scratch: number, start: number, end: number): void;
  /** n elements (a multiple of the block size) of GGUF blocks at src → f32 at dst, bit-identical to ggml's to_float. */
  dequantRowQ8_0_ref(src: number, dst: number, n: number): void;
  dequantRowQ4_0_ref(src: number, dst: number, n: number): void;
  dequantRowQ4_1_ref(src: number, dst: number, n: number): void;
  dequantRowQ5_0_ref(src: number, dst: number, n: number): void;
  dequantRowQ5_1_ref(src: number, dst: number, n: number): void;
  dequantRowIQ4_NL_ref(src: number, dst: number, n: number): void;
  /** In place: `groups`·4 plain rows of nb blocks of ggml type `type` → rows interleaved by four; scratch: one group. */
  interleaveRows4(w: number, groups: number, nb: number, type: number, scratch: number): void;
  /** Row o of an interleaved weight (nb blocks of ggml type `type`) → dst as a plain row of blocks. */
  plainRowOf4(w: number, o: number, nb: number, type: number, dst: number): void;
  /** n f32 at src → GGUF blocks at dst, byte-identical to ggml's quantize_row_<t>_ref (quantize on load). */
  quantizeRowQ8_0_ref(src: number, dst: number, n: number): void;
  quantizeRowQ4_0_ref(src: number, dst: number, n: number): void;
  // K-quants and IQ4_XS (assembly/quants/kquants.ts), same conventions, Q8_K activations:
  linearQ2_K(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearQ3_K(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearQ4_K(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearQ5_K(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearQ6_K(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearIQ4_XS(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearQ2_K_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearQ3_K_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearQ4_K_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearQ5_K_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearQ6_K_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  linearIQ4_XS_ref(xq: number, w: number, b: number, y: number, rows: number, inF: number, outF: number, start: number, end: number): void;
  dequantRowQ2_K_ref(src: number, dst: number, n: number): void;
  dequantRowQ3_K_ref(src: number, dst: number, n: number): void;
  dequantRowQ4_K_ref(src: number, dst: number, n: number): void;
  dequantRowQ5_K_ref(src: number, dst: number, n: number): void;
  dequantRowQ6_K_ref(src: number, dst: number, n: number): void;
  dequantRowIQ4_XS_ref(src: number, dst: number, n: number): void;
  quantizeRowQ4_K_ref(src: number, dst: number, n: number): void;
  /** The scalar twin of quantizeActQ8_K: same layout, same bytes. */
  quantizeActQ8_K_ref(x: number, xq: number, inF: number, start: number, end: number): void;

  // ---- norm.ts -----------------------------------------------------------------------------------------------
  /** y = (x - mean) / sqrt(var + eps) * gamma (+ beta); rows [start, end) of [rows×dim]. beta 0 = none. */
  layerNorm(x: number, gamma: number, beta: number, y: number, dim: number, eps: number, start: number, end: number): void;
  layerNorm_ref(x: number, gamma: number, beta: number, y: number, dim: number, eps: number, start: number, end: number): void;
  /** y = x / sqrt(mean(x²) + eps) * gamma; rows [start, end). */
  rmsNorm(x: number, gamma: number, y: number, dim: number, eps: number, start: number, end: number): void;
  rmsNorm_ref(x: number, gamma: number, y: number, dim: number, eps: number, start: number, end: number): void;
  /** y = softmax(x + bias) per row of [rows×cols]; bias 0 = none (same shape as x). A row that is all -inf gives zeros. */
  softmax(x: number, bias: number, y: number, cols: number, start: number, end: number): void;
  softmax_ref(x: number, bias: number, y: number, cols: number, start: number, end: number): void;

  // ---- activations.ts: element-wise over [start, end) ----------------------------------------------------------
  geluErf(x: number, y: number, start: number, end: number): void;
  geluTanh(x: number, y: number, start: number, end: number): void;
  silu(x: number, y: number, start: number, end: number): void;
  relu(x: number, y: number, start: number, end: number): void;
  /** y = silu(gate) * up */
  swiglu(gate: number, up: number, y: number, start: number, end: number): void;
  /** y = gelu(gate) * up; tanhForm 1 = tanh approximation (gelu_new), 0 = erf */
  geglu(gate: number, up: number, y: number, tanhForm: number, start: number, end: number): void;
  /** y = a + b (residual add) */
  add(a: number, b: number, y: number, start: number, end: number): void;
  /** y = x * s */
  scale(x: number, s: number, y: number, start: number, end: number): void;
  geluErf_ref(x: number, y: number, start: number, end: number): void;
  geluTanh_ref(x: number, y: number, start: number, end: number): void;
  silu_ref(x: number, y: number, start: number, end: number): void;
  relu_ref(x: number, y: number, start: number, end: number): void;
  swiglu_ref(gate: number, up: number, y: number, start: number, end: number): void;
  geglu_ref(gate: number, up: number, y: number, tanhForm: number, start: number, end: number): void;
  add_ref(a: number, b: number, y: number, start: number, end: number): void;
  scale_ref(x: number, s: number, y: number, start: number, end: number): void;

  // ---- rope.ts -----------------------------------------------------------------------------------------------
  /**
   * Rotates, in place, the first `rotaryDim` dims of each head of x[rows × (rowStride)] (heads of `headDim`
   * packed from the row start). `table` is f32 [maxPos × rotaryDim/2 × 2] (cos, sin per frequency), made by the
   * host; positions is i32 [rows]. interleaved 1 = pairs (2i, 2i+1) (llama2.c / GGUF), 0 = rotate-half (HF).
   * Heads [start, end).
   */
  rope(x: number, rowStride: number, table: number, positions: number, rows: number, headDim: number, rotaryDim: number, interleaved: number, start: number, end: number): void;
  rope_ref(x: number, rowStride: number, table: number, positions: number, rows: number, headDim: number, rotaryDim: number, interleaved: number, start: number, end: number): void;

  // ---- attention.ts ------------------------------------------------------------------------------------------
  /**
   * KV cache layout (per layer): K and V each [nKvHeads × capacity × headDim] f32.
   * kvStore copies rows of k/v (row stride in elements, heads packed from the row start) into positions
   * [pos, pos+rows) of the caches.
   */
  kvStore(k: number, v: number, srcStride: number, kCache: number, vCache: number, capacity: number, nKvHeads: number, headDim: number, pos: number, rows: number): void;
  /**
   * out[rows × outStride] (heads packed from the row start) = softmax(scale·q·kᵀ + mask + bias) · v for query rows
   * of q[rows × qStride] at positions pos0..pos0+rows-1, over keys [0, kvLen) of the caches.
   * causal 1: row i sees keys ≤ pos0+i. mask: f32 [kvLen] additive (padding), 0 = none. bias: f32
   * [nHeads × rows × kvLen] additive (T5 relative positions), 0 = none. Query head h reads KV head
   * h / (nHeads / nKvHeads) (GQA). scratch: f32 [kvLen] per call. Heads [start, end).
   */
  attention(q: number, qStride: number, kCache: number, vCache: number, capacity: number, out: number, outStride: number, rows: number, nHeads: number, nKvHeads: number, headDim: number, kvLen: number, pos0: number, scale: number, causal: number, mask: number, bias: number, scratch: number, start: number, end: number): void;
  attention_ref(q: number, qStride: number, kCache: number, vCache: number, capacity: number, out: number, outStride: number, rows: number, nHeads: number, nKvHeads: number, headDim: number, kvLen: number, pos0: number, scale: number, causal: number, mask: number, bias: number, scratch: number, start: number, end: number): void;

  // ---- check.ts ----------------------------------------------------------------------------------------------
  /** How many of the elements [start, end) at p, of `dtype` (0/1/2), are NaN or ±Inf (exponent bits all ones). */
  countNonFinite(p: number, dtype: number, start: number, end: number): number;
  countNonFinite_ref(p: number, dtype: number, start: number, end: number): number;

  // ---- probe.ts: memory bandwidth probes for benchmarks --------------------------------------------------------
  /** Sum of n f32 at p with a SIMD loop: the read-bandwidth probe. */
  sumF32(p: number, n: number): number;
  /** memory.copy of n bytes: the copy-bandwidth probe. */
  copyBytes(dst: number, src: number, n: number): void;
}

/** dtype codes the kernels take. */
export const DTYPE_CODE = { f32: 0, f16: 1, bf16: 2 } as const;
