/**
 * Typed wrappers over the non-linear kernels (norms, softmax, activations, RoPE, KV store, attention), in the style
 * of `linear()` in layout.ts: named fields instead of positional numbers, shapes checked against each other, the
 * `[start, end)` work range filled in here. Model code calls these, never `rt.kernels.*` directly, so a threaded
 * dispatcher has one place per kernel to split the range (the comment on each wrapper names the dimension).
 *
 * Several kernels read rows that are a slice of a wider row (q, k and v inside one fused projection output): a
 * `RowSlice` names the first byte of row 0 and the distance between rows, in elements.
 */
import { WeftError } from '../errors.js';
import type { Runtime } from './runtime.js';
import { numel, type Tensor } from './tensor.js';

/** f32 rows `stride` elements apart, starting at byte `offset`: the `width` columns from `first` of a [rows × cols] tensor. */
export interface RowSlice {
  offset: number;
  stride: number;
  rows: number;
  width: number;
}

/** Columns [first, first + width) of every row of an f32 [rows × cols] tensor, as a slice (same memory). */
export function columns(t: Tensor, first: number, width: number): RowSlice {
  const cols = t.shape[t.shape.length - 1];
  if (t.dtype !== 'f32' || first < 0 || width < 1 || first + width > cols) {
    throw new WeftError('E_OPTION', `columns: [${first}, ${first + width}) is not inside the ${cols} columns of ${t.dtype} [${t.shape.join(', ')}]`);
  }
  return { offset: t.offset + first * 4, stride: cols, rows: numel(t.shape) / cols, width };
}

/** Rows [start, start + n) of an f32 [rows × cols] tensor, as a tensor of its own (a view: same memory). */
export function rowsOf(t: Tensor, start: number, n: number): Tensor {
  const cols = t.shape[t.shape.length - 1];
  const rows = numel(t.shape) / cols;
  if (start < 0 || n < 0 || start + n > rows) throw new WeftError('E_OPTION', `rowsOf: rows [${start}, ${start + n}) are not inside the ${rows} rows of [${t.shape.join(', ')}]`);
  return { ...t, offset: t.offset + start * cols * 4, shape: [n, cols], byteLength: n * cols * 4 };
}

function rowCount(t: Tensor, dim: number, what: string): number {
  const n = numel(t.shape);
  if (t.dtype !== 'f32' || t.shape[t.shape.length - 1] !== dim) throw new WeftError('E_OPTION', `${what}: want f32 [.., ${dim}], got ${t.dtype} [${t.shape.join(', ')}]`);
  return n / dim;
}

function sameSize(what: string, ...ts: Tensor[]): number {
  const n = numel(ts[0].shape);
  if (ts.some((t) => t.dtype !== 'f32' || numel(t.shape) !== n)) {
    throw new WeftError('E_OPTION', `${what}: operands differ in size or type: ${ts.map((t) => `${t.dtype} [${t.shape.join(', ')}]`).join(', ')}`);
  }
  return n;
}

// ---- norms (threads split rows) -------------------------------------------------------------------------------

/** y = (x − mean) / sqrt(var + eps) · gamma (+ beta), per row of x [rows × dim]; y may be x. */
export function layerNorm(rt: Runtime, a: { x: Tensor; gamma: Tensor; beta: Tensor | null; eps: number; y: Tensor }): void {
  const dim = a.gamma.shape[0];
  const rows = rowCount(a.x, dim, 'layerNorm x');
  sameSize('layerNorm', a.x, a.y);
  if (a.beta && a.beta.shape[0] !== dim) throw new WeftError('E_OPTION', `layerNorm: beta [${a.beta.shape.join(', ')}] for dim ${dim}`);
  rt.kernels.layerNorm(a.x.offset, a.gamma.offset, a.beta ? a.beta.offset : 0, a.y.offset, dim, a.eps, 0, rows);
}

/** y = x / sqrt(mean(x²) + eps) · gamma, per row of x [rows × dim]; y may be x. */
export function rmsNorm(rt: Runtime, a: { x: Tensor; gamma: Tensor; eps: number; y: Tensor }): void {
  const dim = a.gamma.shape[0];
  const rows = rowCount(a.x, dim, 'rmsNorm x');
  sameSize('rmsNorm', a.x, a.y);
  rt.kernels.rmsNorm(a.x.offset, a.gamma.offset, a.y.offset, dim, a.eps, 0, rows);
}

/** y = softmax(x + bias) per row of x [rows × cols]; bias (same shape) optional; y may be x. */
export function softmaxRows(rt: Runtime, a: { x: Tensor; bias: Tensor | null; y: Tensor }): void {
  const cols = a.x.shape[a.x.shape.length - 1];
  const rows = rowCount(a.x, cols, 'softmax x');
  sameSize('softmax', a.x, a.y, ...(a.bias ? [a.bias] : []));
  rt.kernels.softmax(a.x.offset, a.bias ? a.bias.offset : 0, a.y.offset, cols, 0, rows);
}

// ---- element-wise (threads split elements) --------------------------------------------------------------------

/** The element-wise activations the kernels have (HF names: `gelu` is erf GELU, `gelu_new` the tanh form). */
export type Activation = 'gelu_new' | 'gelu' | 'relu' | 'silu';

/** y = act(x), element-wise; y may be x. */
export function activate(rt: Runtime, act: Activation, x: Tensor, y: Tensor): void {
  const n = sameSize(act, x, y);
  const k = rt.kernels;
  const run = act === 'gelu_new' ? k.geluTanh : act === 'gelu' ? k.geluErf : act === 'relu' ? k.relu : k.silu;
  run(x.offset, y.offset, 0, n);
}

/** y = act(gate) · up, element-wise (SwiGLU with silu, GeGLU with either GELU); y may be gate. */
export function gatedActivation(rt: Runtime, a: { act: 'silu' | 'gelu' | 'gelu_new'; gate: Tensor; up: Tensor; y: Tensor }): void {
  const n = sameSize(`gated ${a.act}`, a.gate, a.up, a.y);
  if (a.act === 'silu') rt.kernels.swiglu(a.gate.offset, a.up.offset, a.y.offset, 0, n);
  else rt.kernels.geglu(a.gate.offset, a.up.offset, a.y.offset, a.act === 'gelu_new' ? 1 : 0, 0, n);
}

/** y = a + b, element-wise (the residual add); y may be a or b. */
export function add(rt: Runtime, a: Tensor, b: Tensor, y: Tensor): void {
  const n = sameSize('add', a, b, y);
  rt.kernels.add(a.offset, b.offset, y.offset, 0, n);
}

/** y = x · s, element-wise; y may be x. */
export function scale(rt: Runtime, x: Tensor, s: number, y: Tensor): void {
  const n = sameSize('scale', x, y);
  rt.kernels.scale(x.offset, s, y.offset, 0, n);
}

// ---- positions and attention (threads split heads) --------------------------------------------------------------

/** RoPE as the kernel needs it: the cos/sin table (see models/blocks/rope.ts) and how the rotated dims pair up. */
export interface RopeTable {
  table: Tensor; // f32 [capacity × rotaryDim/2 × 2]
  rotaryDim: number;
  interleaved: boolean;
}

/** Rotates in place the first `rotaryDim` dims of each of `nHeads` heads of `headDim` in every row of `x`; positions i32 [rows]. */
export function rope(rt: Runtime, a: { x: RowSlice; nHeads: number; headDim: number; rope: RopeTable; positions: Tensor }): void {
  if (a.nHeads * a.headDim !== a.x.width || numel(a.positions.shape) !== a.x.rows || a.positions.dtype !== 'i32') {
    throw new WeftError('E_OPTION', `rope: ${a.nHeads} heads × ${a.headDim} over a slice ${a.x.width} wide, ${a.x.rows} rows, positions [${a.positions.shape.join(', ')}]`);
  }
  const r = a.rope;
  rt.kernels.rope(a.x.offset, a.x.stride, r.table.offset, a.positions.offset, a.x.rows, a.headDim, r.rotaryDim, r.interleaved ? 1 : 0, 0, a.nHeads);
}

export interface AttentionShape {
  nHeads: number;
  /** Fewer than nHeads: grouped-query attention, query head h reads KV head h / (nHeads / nKvHeads). */
  nKvHeads: number;
  headDim: number;
}

/** One layer's keys and values for one sequence: each f32 [nKvHeads × capacity × headDim]. */
export interface KvLayer {
  keys: Tensor;
  values: Tensor;
  capacity: number;
}

/** Copies the rows of k and v (heads packed from each row's start) into positions [pos, pos + rows) of `cache`. */
export function kvStore(rt: Runtime, a: { k: RowSlice; v: RowSlice; cache: KvLayer; pos: number; shape: AttentionShape }): void {
  const { nKvHeads, headDim } = a.shape;
  const rows = a.k.rows;
  if (a.k.width !== nKvHeads * headDim || a.v.width !== a.k.width || a.v.rows !== rows || a.k.stride !== a.v.stride) {
    throw new WeftError('E_OPTION', `kvStore: k (${a.k.rows} × ${a.k.width}, stride ${a.k.stride}) and v (${a.v.rows} × ${a.v.width}, stride ${a.v.stride}) for ${nKvHeads} heads × ${headDim}`);
  }
  if (a.pos < 0 || a.pos + rows > a.cache.capacity) throw new WeftError('E_CONTEXT', `kvStore: positions [${a.pos}, ${a.pos + rows}) past the cache's ${a.cache.capacity}`);
  rt.kernels.kvStore(a.k.offset, a.v.offset, a.k.stride, a.cache.keys.offset, a.cache.values.offset, a.cache.capacity, nKvHeads, headDim, a.pos, rows);
}

/**
 * out = softmax(scale·q·kᵀ + mask + bias) · v for the query rows of `q` at positions pos0.. over keys [0, kvLen) of
 * `cache`. causal: row i sees keys ≤ pos0 + i. mask: f32 [kvLen] added to every row's scores (padding: 0 or −∞).
 * bias: f32 [nHeads × rows × kvLen] added per head and row (T5's relative positions). The per-call score buffer is
 * taken from scratch here.
 */
export function attention(
  rt: Runtime,
  a: { q: RowSlice; cache: KvLayer; kvLen: number; pos0: number; out: RowSlice; shape: AttentionShape; scale: number; causal: boolean; mask: Tensor | null; bias: Tensor | null },
): void {
  const { nHeads, nKvHeads, headDim } = a.shape;
  const rows = a.q.rows;
  const problem =
    a.q.width !== nHeads * headDim || a.out.width !== a.q.width || a.out.rows !== rows ? `q ${rows} × ${a.q.width} and out ${a.out.rows} × ${a.out.width} for ${nHeads} heads × ${headDim}`
    : nHeads % nKvHeads !== 0 ? `${nHeads} query heads over ${nKvHeads} KV heads`
    : a.kvLen < 1 || a.kvLen > a.cache.capacity ? `${a.kvLen} keys in a cache of ${a.cache.capacity}`
    : a.mask && numel(a.mask.shape) !== a.kvLen ? `mask [${a.mask.shape.join(', ')}] for ${a.kvLen} keys`
    : a.bias && numel(a.bias.shape) !== nHeads * rows * a.kvLen ? `bias [${a.bias.shape.join(', ')}] for ${nHeads} heads × ${rows} rows × ${a.kvLen} keys`
    : null;
  if (problem) throw new WeftError('E_OPTION', `attention: ${problem}`);
  // Heads are split over the threads, each with its own scores row on cache lines of its own.
  const scoresBytes = Math.ceil((a.kvLen * 4) / 64) * 64;
  const scores = rt.temp('f32', [(rt.threads * scoresBytes) / 4]);
  rt.parallel({
    kernel: 'attention',
    args: [a.q.offset, a.q.stride, a.cache.keys.offset, a.cache.values.offset, a.cache.capacity, a.out.offset, a.out.stride, rows,
      nHeads, nKvHeads, headDim, a.kvLen, a.pos0, a.scale, a.causal ? 1 : 0, a.mask ? a.mask.offset : 0, a.bias ? a.bias.offset : 0, scores.offset],
    start: 0,
    end: nHeads,
    unit: 1,
    work: 2 * rows * nHeads * a.kvLen * headDim,
    scratch: { arg: 17, bytes: scoresBytes },
  });
}
