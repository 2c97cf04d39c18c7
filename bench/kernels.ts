/**
 * `npm run bench:kernels [-- --json] [-- --simd]`: throughput of the wasm kernels, each beside its scalar `_ref`
 * twin (same build flags) and, for the linear layer, a plain-TypeScript loop of the same math; plus the machine's
 * read bandwidth (`ReadProbe`: a SIMD sum over 1 GiB) and copy bandwidth (memory.copy of 512 MB), measured in the same run so
 * the matvec can be put as a fraction of them. The npm script starts Node with relaxed SIMD enabled, so the
 * relaxed build runs unless `--simd` asks for the plain one; the first line says which.
 */
import { packedLinearBytes, packLinearWeight, type WeightDType } from '../src/runtime/layout.js';
import type { Kernels } from '../src/runtime/kernels.js';
import { actRowBytes, QUANT_TYPES } from '../src/runtime/quant.js';
import { Runtime } from '../src/runtime/runtime.js';
import type { Tensor } from '../src/runtime/tensor.js';
import { JSON_OUTPUT, log, median, printTable, ReadProbe, timeAlternating, timeIt, xorshift32 } from './util.js';

const rt = await Runtime.create({ relaxedSimd: process.argv.includes('--simd') ? false : 'auto' });
const k = rt.kernels;
const build = rt.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128 (no relaxed)';
log(`weft kernels: ${build} build, Node ${process.version}, one thread. Figures are medians; compare ratios, not absolutes.\n`);

// ---- data ------------------------------------------------------------------------------------------------------

const nextBits = xorshift32();

/** Fills a tensor with data (never leave a benchmark buffer untouched: fresh pages read as zeros, too fast). */
function fill(t: Tensor): void {
  if (t.dtype === 'f32') {
    const f = rt.f32View(t);
    for (let i = 0; i < f.length; i++) f[i] = nextBits() / 2 ** 31 - 1;
    return;
  }
  // 16-bit weights: random sign and mantissa, magnitudes 2^-6 .. 2 (normal numbers of both f16 and bf16)
  const h = new Uint16Array(rt.memory.buffer, t.offset, t.byteLength / 2);
  for (let i = 0; i < h.length; i++) {
    const r = nextBits();
    h[i] = t.dtype === 'f16' ? (r & 0x83ff) | ((9 + (r >>> 16) % 7) << 10) : (r & 0x807f) | ((121 + (r >>> 16) % 7) << 7);
  }
}

function tensor(dtype: 'f32' | 'f16' | 'bf16', shape: number[]): Tensor {
  const t = rt.alloc(dtype, shape);
  fill(t);
  return t;
}

const GB = 1e9;

// ---- bandwidth -------------------------------------------------------------------------------------------------

const probe = new ReadProbe(rt);
const COPY_BYTES = ReadProbe.BYTES / 2;
const copyTarget = rt.alloc('f32', [COPY_BYTES / 4]);
const readProbe = probe.run;
const copyProbe = () => k.copyBytes(copyTarget.offset, probe.buffer.offset, COPY_BYTES);
const readGBs = probe.bytesPerSecond() / GB;
const copyGBs = COPY_BYTES / GB / timeIt(copyProbe, { minSamples: 9 });
printTable('memory bandwidth (read: 1 GiB; copy: 512 MB)', ['probe', 'GB/s'], [
  ['read (sumF32)', readGBs],
  ['copy (copyBytes, bytes copied)', copyGBs],
]);

/**
 * A matvec's GB/s as a fraction of the read and of the copy bandwidth, from calls alternating with the two probes
 * (the median of the per-round ratios), so that a change of load on the shared machine moves both sides alike.
 */
function bandwidthFractions(matvec: () => void, bytes: number): { read: number; copy: number } {
  const fraction = (probeFn: () => void) => {
    const [tMatvec, tProbe] = timeAlternating([matvec, probeFn], 11);
    return median(tMatvec.map((t, i) => bytes / t / ((probeFn === readProbe ? ReadProbe.BYTES : COPY_BYTES) / tProbe[i])));
  };
  return { read: fraction(readProbe), copy: fraction(copyProbe) };
}

// ---- linear ----------------------------------------------------------------------------------------------------

/** The plain-TypeScript linear layer: y = x·Wᵀ over a row-major W, 16-bit weights widened through a table. */
function linearTS(x: Float32Array, w: Float32Array | Uint16Array, widen: Float32Array | null, y: Float32Array, rows: number, inF: number, outF: number): void {
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let sum = 0;
      const wRow = o * inF;
      const xRow = r * inF;
      if (widen) for (let i = 0; i < inF; i++) sum += x[xRow + i] * widen[w[wRow + i]];
      else for (let i = 0; i < inF; i++) sum += x[xRow + i] * w[wRow + i];
      y[r * outF + o] = sum;
    }
  }
}

/** f32 value of every 16-bit pattern, for the TypeScript loop. */
function widenTable(dtype: 'f16' | 'bf16'): Float32Array {
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    if (dtype === 'bf16') bits[h] = h << 16;
    else {
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      const magnitude = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
      table[h] = h & 0x8000 ? -magnitude : magnitude;
    }
  }
  return table;
}

const LINEAR_SHAPES: Array<[number, number, number]> = [
  [1, 576, 1536],
  [128, 576, 1536],
  [1, 4096, 4096],
  [1, 8192, 8192], // a 256 MB f32 matrix: about the size of this machine's 260 MB L3
  [1, 8192, 16384], // 512 MB f32: twice the L3, so the weights stream from memory
];
const LINEAR_KERNELS = {
  f32: ['linearF32', 'linearF32_ref'],
  // the kernel linear() runs for f16 weights without inf/nan (every model's): the folded widening
  f16: ['linearF16Finite', 'linearF16_ref'],
  bf16: ['linearBF16', 'linearBF16_ref'],
} as const;

interface LinearResult {
  dtype: WeightDType;
  shape: string;
  seconds: { packed: number; ref: number; ts: number };
  gflops: { packed: number; ref: number; ts: number };
  /** Bytes of weights, x and y moved per second by the packed kernel. */
  packedGBs: number;
  speedupOverRef: number;
  speedupOverTS: number;
  /** Matvec shapes only: the packed kernel's weight GB/s over the read and the copy bandwidth (`bandwidthFractions`). */
  fractionOfRead: number | null;
  fractionOfCopy: number | null;
}

const linearResults: LinearResult[] = [];
for (const dtype of ['f32', 'f16', 'bf16'] as const) {
  const widen = dtype === 'f32' ? null : widenTable(dtype);
  for (const [rows, inF, outF] of LINEAR_SHAPES) {
    const plain = tensor(dtype, [outF, inF]);
    const packed = packLinearWeight(rt, plain, outF, inF, dtype);
    const x = tensor('f32', [rows, inF]);
    const y = rt.alloc('f32', [rows, outF]);
    const [fast, ref] = LINEAR_KERNELS[dtype];
    const run = (kernel: typeof fast | typeof ref, w: Tensor) => () => k[kernel](x.offset, w.offset, 0, y.offset, rows, inF, outF, 0, outF);
    const slow = { minSamples: 3, minSeconds: 0.1 };
    const seconds = {
      packed: timeIt(run(fast, packed), { minSamples: 7 }),
      ref: timeIt(run(ref, plain), slow),
      ts: timeIt(() => {
        const weights = dtype === 'f32' ? rt.f32View(plain) : new Uint16Array(rt.memory.buffer, plain.offset, outF * inF);
        linearTS(rt.f32View(x), weights, widen, rt.f32View(y), rows, inF, outF);
      }, slow),
    };
    const flops = 2 * rows * inF * outF;
    const packedGBs = (packedLinearBytes(outF, inF, dtype) + 4 * rows * (inF + outF)) / GB / seconds.packed;
    const fractions = rows === 1 && inF >= 4096 ? bandwidthFractions(run(fast, packed), packedLinearBytes(outF, inF, dtype)) : null;
    linearResults.push({
      dtype,
      shape: `${rows}×${inF}×${outF}`,
      seconds,
      gflops: { packed: flops / GB / seconds.packed, ref: flops / GB / seconds.ref, ts: flops / GB / seconds.ts },
      packedGBs,
      speedupOverRef: seconds.ref / seconds.packed,
      speedupOverTS: seconds.ts / seconds.packed,
      fractionOfRead: fractions?.read ?? null,
      fractionOfCopy: fractions?.copy ?? null,
    });
    for (const t of [plain, packed, x, y]) rt.free(t);
  }
}
rt.free(copyTarget);
probe.free();
const percent = (f: number | null) => (f === null ? '' : `${(100 * f).toFixed(0)}%`);
printTable(
  'linear y = x·Wᵀ (M×K×N = rows × in × out; GB/s = weights + x + y per second; "of read/copy": weight GB/s over the probes, alternating calls)',
  ['dtype', 'M×K×N', 'ms', 'GFLOP/s', 'GB/s', 'of read', 'of copy', 'ref GFLOP/s', 'TS GFLOP/s', '× ref', '× TS'],
  linearResults.map((r) => [
    r.dtype, r.shape, 1000 * r.seconds.packed, r.gflops.packed, r.packedGBs, percent(r.fractionOfRead), percent(r.fractionOfCopy),
    r.gflops.ref, r.gflops.ts, r.speedupOverRef, r.speedupOverTS,
  ]),
);

// ---- norms, softmax, attention: SIMD kernel beside its _ref and a plain-TypeScript loop ----------------------------

/** The same math as the kernels, as a JavaScript engine runs plain loops over Float32Arrays. */
const typescript = {
  rmsNorm(x: Float32Array, g: Float32Array, y: Float32Array, dim: number, eps: number, rows: number) {
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[r * dim + i] * x[r * dim + i];
      const s = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * s * g[i];
    }
  },
  layerNorm(x: Float32Array, g: Float32Array, b: Float32Array, y: Float32Array, dim: number, eps: number, rows: number) {
    for (let r = 0; r < rows; r++) {
      let mean = 0;
      for (let i = 0; i < dim; i++) mean += x[r * dim + i];
      mean /= dim;
      let v = 0;
      for (let i = 0; i < dim; i++) v += (x[r * dim + i] - mean) ** 2;
      const s = 1 / Math.sqrt(v / dim + eps);
      for (let i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i] - mean) * s * g[i] + b[i];
    }
  },
  softmax(x: Float32Array, y: Float32Array, dim: number, rows: number) {
    for (let r = 0; r < rows; r++) {
      let max = -Infinity;
      for (let i = 0; i < dim; i++) max = Math.max(max, x[r * dim + i]);
      let sum = 0;
      for (let i = 0; i < dim; i++) sum += y[r * dim + i] = Math.exp(x[r * dim + i] - max);
      for (let i = 0; i < dim; i++) y[r * dim + i] /= sum;
    }
  },
  /** Causal attention over a [nKv × capacity × headDim] cache; scores in `p` [kvLen]. */
  attention(q: Float32Array, kc: Float32Array, vc: Float32Array, out: Float32Array, p: Float32Array, rows: number, kvLen: number, pos0: number) {
    const width = nHeads * headDim;
    for (let r = 0; r < rows; r++) {
      const keys = Math.min(kvLen, pos0 + r + 1);
      for (let h = 0; h < nHeads; h++) {
        const kv = Math.floor(h / (nHeads / nKvHeads)) * capacity * headDim;
        let max = -Infinity;
        for (let j = 0; j < keys; j++) {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[r * width + h * headDim + d] * kc[kv + j * headDim + d];
          p[j] = dot / 8;
          max = Math.max(max, p[j]);
        }
        let sum = 0;
        for (let j = 0; j < keys; j++) sum += p[j] = Math.exp(p[j] - max);
        for (let d = 0; d < headDim; d++) out[r * width + h * headDim + d] = 0;
        for (let j = 0; j < keys; j++) {
          const w = p[j] / sum;
          for (let d = 0; d < headDim; d++) out[r * width + h * headDim + d] += w * vc[kv + j * headDim + d];
        }
      }
    }
  },
};

interface PairResult {
  kernel: string;
  shape: string;
  seconds: number;
  refSeconds: number;
  tsSeconds: number;
  gflops: number;
  gbs: number;
  speedupOverRef: number;
  speedupOverTS: number;
}

/** Times `kernel`, `kernel_ref` (same arguments) and the TypeScript loop `ts`; `flops` and `bytes` are per call. */
function compare(kernel: keyof Kernels, shape: string, args: number[], ts: () => void, flops: number, bytes: number): PairResult {
  const call = (name: keyof Kernels) => (k[name] as (...a: number[]) => unknown).bind(k, ...args);
  const seconds = timeIt(call(kernel));
  const refSeconds = timeIt(call(`${kernel}_ref` as keyof Kernels), { minSamples: 3, minSeconds: 0.1 });
  const tsSeconds = timeIt(ts, { minSamples: 3, minSeconds: 0.1 });
  return {
    kernel, shape, seconds, refSeconds, tsSeconds, gflops: flops / GB / seconds, gbs: bytes / GB / seconds,
    speedupOverRef: refSeconds / seconds, speedupOverTS: tsSeconds / seconds,
  };
}

const pairResults: PairResult[] = [];
for (const [rows, dim] of [[128, 576], [1, 49152]]) {
  const x = tensor('f32', [rows, dim]);
  const gamma = tensor('f32', [dim]);
  const beta = tensor('f32', [dim]);
  const y = rt.alloc('f32', [rows, dim]);
  const [xs, gs, bs, ys] = [x, gamma, beta, y].map((t) => rt.f32View(t));
  const io = 8 * rows * dim; // read x, write y
  const shape = `${rows}×${dim}`;
  pairResults.push(compare('rmsNorm', shape, [x.offset, gamma.offset, y.offset, dim, 1e-5, 0, rows], () => typescript.rmsNorm(xs, gs, ys, dim, 1e-5, rows), 4 * rows * dim, io));
  pairResults.push(compare('layerNorm', shape, [x.offset, gamma.offset, beta.offset, y.offset, dim, 1e-5, 0, rows], () => typescript.layerNorm(xs, gs, bs, ys, dim, 1e-5, rows), 7 * rows * dim, io));
  pairResults.push(compare('softmax', shape, [x.offset, 0, y.offset, dim, 0, rows], () => typescript.softmax(xs, ys, dim, rows), 4 * rows * dim, io));
  for (const t of [x, gamma, beta, y]) rt.free(t);
}

// attention: 9 query heads sharing 3 KV heads of 64 dims (SmolLM-135M's shape)
const [nHeads, nKvHeads, headDim, capacity] = [9, 3, 64, 512];
for (const [label, rows, kvLen, pos0] of [['decode', 1, 512, 511], ['prefill causal', 128, 128, 0]] as const) {
  const q = tensor('f32', [rows, nHeads * headDim]);
  const kCache = tensor('f32', [nKvHeads, capacity, headDim]);
  const vCache = tensor('f32', [nKvHeads, capacity, headDim]);
  const out = rt.alloc('f32', [rows, nHeads * headDim]);
  const scratch = rt.alloc('f32', [kvLen]);
  const [qs, ks, vs, os, ps] = [q, kCache, vCache, out, scratch].map((t) => rt.f32View(t));
  // keys seen per query row: all kvLen when decoding, i+1 for row i of a causal prefill
  const scores = nHeads * (rows === 1 ? kvLen : (rows * (rows + 1)) / 2);
  const args = [q.offset, nHeads * headDim, kCache.offset, vCache.offset, capacity, out.offset, nHeads * headDim, rows, nHeads, nKvHeads, headDim, kvLen, pos0, 1 / 8, 1, 0, 0, scratch.offset, 0, nHeads];
  const kvBytes = 2 * nKvHeads * kvLen * headDim * 4;
  const ts = () => typescript.attention(qs, ks, vs, os, ps, rows, kvLen, pos0);
  pairResults.push(compare('attention', `${label} ${rows}×${kvLen}`, args, ts, 4 * scores * headDim, kvBytes + 8 * rows * nHeads * headDim));
  for (const t of [q, kCache, vCache, out, scratch]) rt.free(t);
}

printTable(
  'norms, softmax, attention (GB/s = bytes read and written per second)',
  ['kernel', 'shape', 'µs', 'GFLOP/s', 'GB/s', 'ref µs', 'TS µs', '× ref', '× TS'],
  pairResults.map((r) => [r.kernel, r.shape, 1e6 * r.seconds, r.gflops, r.gbs, 1e6 * r.refSeconds, 1e6 * r.tsSeconds, r.speedupOverRef, r.speedupOverTS]),
);

// ---- quantized linear (GGUF blocks, 8-bit activations): integer kernel beside its _ref -------------------------
// Per type at the decode shape: the kernel's time, its _ref's, the weight GB/s against the read probe measured at
// the top, and ns per 32-element block. Where time goes is read off the differences between types that share
// everything but one step: Q8_0 (no unpack) → Q4_0 (+ nibble unpack) → Q5_0 (+ 5th-bit unpack) → Q4_1 (+ the
// min term of the scale step); the activation quantization (once per call) is timed on its own.

/** Random blocks: a small normal f16 scale (and min) and random quant bytes. */
function fillBlocks(at: number, bytes: number, blockBytes: number, scales: number): void {
  const u8 = new Uint8Array(rt.memory.buffer, at, bytes);
  for (let i = 0; i < bytes; i++) u8[i] = nextBits() & 0xff;
  for (let b = 0; b < bytes; b += blockBytes) for (let s = 0; s < scales; s++) { u8[b + 2 * s] = 0; u8[b + 2 * s + 1] = 0x20 + (nextBits() & 7); }
}

interface QuantResult {
  type: string;
  shape: string;
  seconds: number;
  refSeconds: number;
  speedupOverRef: number;
  weightGBs: number;
  fractionOfRead: number;
  nsPerBlock: number;
  quantizeActSeconds: number;
}
const QUANT_BENCH: Array<[string, number, number]> = [['Q8_0', 34, 1], ['Q4_0', 18, 1], ['Q4_1', 20, 2], ['Q5_0', 22, 1], ['Q5_1', 24, 2], ['IQ4_NL', 18, 1]];
const quantResults: QuantResult[] = [];
for (const [rows, inF, outF] of [[1, 576, 1536], [1, 4096, 4096], [128, 576, 1536]] as const) {
  const x = tensor('f32', [rows, inF]);
  const y = rt.alloc('f32', [rows, outF]);
  const xq = rt.heap.alloc(rows * actRowBytes('Q8_0', inF));
  const scratch = rt.heap.alloc(QUANT_TYPES.Q8_0.scratchBytes(inF));
  const quantizeAct = () => k.quantizeActQ8_0(x.offset, xq, inF, 0, rows);
  const quantizeActSeconds = timeIt(quantizeAct, { minSamples: 7 });
  quantizeAct();
  for (const [type, blockBytes, scales] of QUANT_BENCH) {
    const bytes = outF * (inF / 32) * blockBytes;
    const w = rt.heap.alloc(bytes);
    fillBlocks(w, bytes, blockBytes, scales);
    // random blocks: interleaving them (as loading does) would not change the time
    const call = (name: string) => () => (k as unknown as Record<string, (...a: number[]) => void>)[name](xq, w, 0, y.offset, rows, inF, outF, scratch, 0, outF);
    const seconds = timeIt(call(`linear${type}`), { minSamples: 7 });
    const refSeconds = timeIt(call(`linear${type}_ref`), { minSamples: 3, minSeconds: 0.1 });
    quantResults.push({
      type, shape: `${rows}×${inF}×${outF}`, seconds, refSeconds, speedupOverRef: refSeconds / seconds,
      weightGBs: bytes / GB / seconds, fractionOfRead: bytes / GB / seconds / readGBs,
      nsPerBlock: (1e9 * seconds) / (rows * outF * (inF / 32)), quantizeActSeconds,
    });
    rt.heap.release(w);
  }
  rt.heap.release(xq);
  rt.heap.release(scratch);
  rt.free(x);
  rt.free(y);
}
printTable(
  'quantized linear (GGUF blocks × Q8_0 activations; GB/s = weight bytes per second; "of read" against the read probe above; act µs = quantizeActQ8_0 of x, once per call)',
  ['type', 'M×K×N', 'µs', 'ref µs', '× ref', 'GB/s', 'of read', 'ns/block', 'act µs'],
  quantResults.map((r) => [r.type, r.shape, 1e6 * r.seconds, 1e6 * r.refSeconds, r.speedupOverRef, r.weightGBs, percent(r.fractionOfRead), r.nsPerBlock, 1e6 * r.quantizeActSeconds]),
);

if (JSON_OUTPUT) {
  const doc = { build, relaxedSimd: rt.relaxedSimd, node: process.version, bandwidth: { readGBs, copyGBs }, linear: linearResults, kernels: pairResults, quant: quantResults };
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}
