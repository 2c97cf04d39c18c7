/**
 * Copies a model's tensors from a `WeightSet` into wasm memory, each once and in the layout the kernels read:
 * linear weights packed (f16/bf16 stay 16-bit), norm weights and biases widened to f32, embedding tables as plain
 * rows read straight into their allocation. Quantized GGUF tensors (Q8_0, Q4_K, ...) are read straight into their
 * allocation as the file's blocks and stay quantized (a fused q/k/v of mixed types becomes a `parts` weight); with
 * `quantize` set, f32/f16/bf16 linear weights and tables whose rows are whole blocks are quantized on load with
 * ggml's quantizer (a wasm kernel), staged in f32 one tensor at a time. It checks every shape against the config, counts NaN/Inf values
 * (allowed, reported; counted in wasm memory by a kernel) and remembers every allocation so a failed load can give
 * them all back. A missing tensor is the WeightSet's E_MISSING error, which names the tensor and the file.
 */
import { WeftError } from '../../errors.js';
import { readTensorF32, readTensorInto, type WeightEntry, type WeightSet } from '../../formats/weights.js';
import { DTYPE_CODE } from '../../runtime/kernels.js';
import { arrangeQuantized, packLinearWeight } from '../../runtime/layout.js';
import { isQuantType, QUANT_TYPES, quantStorageBytes, type QuantType } from '../../runtime/quant.js';
import type { Runtime } from '../../runtime/runtime.js';
import { DTYPE_BYTES, numel, type Tensor } from '../../runtime/tensor.js';

type FloatDType = 'f32' | 'f16' | 'bf16';

export class WeightLoader {
  readonly allocations: Tensor[] = [];
  /** Bytes of weights placed in wasm memory so far. */
  weightBytes = 0;
  /** NaN/Inf values seen so far. */
  nonFinite = 0;

  constructor(
    private readonly rt: Runtime,
    private readonly weights: WeightSet,
    /** Quantize float linear weights and tables to this type while loading (loadModel's `dtype`). */
    private readonly quantize: QuantType | null = null,
  ) {
    if (quantize && typeof QUANT_TYPES[quantize].quantizeRow?.(rt.kernels) !== 'function') {
      throw new WeftError('E_UNSUPPORTED', `dtype ${quantize.toLowerCase()}: this build of weft cannot quantize to ${quantize}`);
    }
  }

  /**
   * A linear layer's weight [outF × inF], packed. `names` (of `outFeatures[i]` rows each) are stacked along outF:
   * q, k and v into one fused projection. `transposed`: the file stores [inF × outF] (GPT-2's Conv1D); the parts
   * are staged as one [inF × outF] matrix and packed from it by the transposing packer.
   */
  async linear(names: string[], outFeatures: number[], inF: number, transposed = false): Promise<Tensor> {
    const entries = names.map((n, i) => {
      const e = this.weights.get(n);
      this.checkShape(e, transposed ? [inF, outFeatures[i]] : [outFeatures[i], inF]);
      return e;
    });
    const outF = outFeatures.reduce((a, b) => a + b, 0);
    if (!transposed && entries.every((e) => isQuantType(e.dtype))) return this.quantizedLinear(entries, outF, inF);
    if (this.quantize && inF % QUANT_TYPES[this.quantize].blockSize === 0 && entries.every((e) => !isQuantType(e.dtype))) {
      return this.keep(await this.quantizeOnLoad(entries, outF, inF, transposed));
    }
    // Tensors of one fused layer share their dtype in every real file; if not, widen them all to f32 (a quantized
    // part beside a float one is dequantized with its _ref kernel: no file llama.cpp writes does this).
    const dtypes = new Set(entries.map((e) => (isQuantType(e.dtype) ? 'f32' : this.floatDType(e))));
    const dtype: FloatDType = dtypes.size === 1 ? [...dtypes][0] : 'f32';
    const elementBytes = DTYPE_BYTES[dtype];
    // The plain row-major weight as the file orders it ([outF × inF], or [inF × outF] if transposed), staged in
    // wasm memory for the packing kernel, then released.
    const plain = this.rt.alloc(dtype, transposed ? [inF, outF] : [outF, inF]);
    try {
      let first = 0; // the part's first output feature
      for (const e of entries) {
        const partOut = transposed ? e.shape[1] : e.shape[0];
        if (transposed && entries.length > 1) {
          // Stacked Conv1D parts: row k of a part (its outputs for input k) goes to columns [first, first+partOut) of row k.
          const part = await this.readAs(e, dtype);
          const rowBytes = partOut * elementBytes;
          for (let k = 0; k < inF; k++) this.rt.u8.set(part.subarray(k * rowBytes, (k + 1) * rowBytes), plain.offset + (k * outF + first) * elementBytes);
        } else {
          // One part, or rows stacked in order: a contiguous stretch.
          const at = plain.offset + first * inF * elementBytes;
          const dst = this.rt.u8.subarray(at, at + partOut * inF * elementBytes);
          if (e.dtype === dtype) await readTensorInto(e, dst); // straight from the file
          else dst.set(await this.readAs(e, dtype));
        }
        first += partOut;
      }
      this.nonFinite += this.countNonFinite(plain);
      return this.keep(packLinearWeight(this.rt, plain, outF, inF, dtype, transposed));
    } finally {
      this.rt.free(plain);
    }
  }

  /** Vectors (norm weights, biases) widened to f32 and concatenated: f32 [sum of lengths]. */
  async vector(names: string[], lengths: number[]): Promise<Tensor> {
    const parts: Float32Array[] = [];
    for (let i = 0; i < names.length; i++) {
      const e = this.weights.get(names[i]);
      this.checkShape(e, [lengths[i]]);
      parts.push(await readTensorF32(e));
    }
    const all = new Float32Array(lengths.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    const t = this.keep(this.rt.alloc('f32', [all.length]));
    this.rt.write(t, all);
    this.nonFinite += this.countNonFinite(t);
    return t;
  }

  /**
   * A table read by `gatherRows` [rows × dim], plain rows (or quantized blocks) in the file's dtype, read straight
   * into wasm memory; quantized on load when asked.
   */
  async table(name: string, rows: number, dim: number): Promise<Tensor> {
    const e = this.weights.get(name);
    this.checkShape(e, [rows, dim]);
    if (isQuantType(e.dtype)) return this.quantizedLinear([e], rows, dim);
    if (this.quantize && dim % QUANT_TYPES[this.quantize].blockSize === 0) return this.keep(await this.quantizeOnLoad([e], rows, dim, false));
    const t = this.keep(this.rt.alloc(this.floatDType(e), [rows, dim]));
    await readTensorInto(e, this.rt.u8.subarray(t.offset, t.offset + e.byteLength));
    this.nonFinite += this.countNonFinite(t);
    return t;
  }

  /**
   * The token embedding and the lm_head. Tied (no head tensor): one packed copy serves both, since `gatherRows`
   * reads packed tables. Untied: the embedding as plain rows, the head packed.
   */
  async embeddingAndHead(embeddingName: string, headName: string | null, vocab: number, dim: number): Promise<{ tokenEmbedding: Tensor; lmHead: Tensor }> {
    if (headName === null) {
      const lmHead = await this.linear([embeddingName], [vocab], dim);
      return { tokenEmbedding: lmHead, lmHead };
    }
    return { tokenEmbedding: await this.table(embeddingName, vocab, dim), lmHead: await this.linear([headName], [vocab], dim) };
  }

  /**
   * Quantized parts [outFeatures_i × inF] stacked along outF, read straight from the file into wasm memory: one
   * `blocks` tensor when they share a type, else a `parts` weight of one tensor per part.
   */
  private async quantizedLinear(entries: WeightEntry[], outF: number, inF: number): Promise<Tensor> {
    const types = entries.map((e) => e.dtype as QuantType);
    for (const e of entries) {
      if (inF % QUANT_TYPES[e.dtype as QuantType].blockSize !== 0) {
        throw new WeftError('E_FORMAT', `${e.source.name}: the ${e.dtype} tensor "${e.name}" has rows of ${inF}, not a whole number of ${QUANT_TYPES[e.dtype as QuantType].blockSize}-element blocks`);
      }
    }
    const read = async (group: WeightEntry[], rows: number): Promise<Tensor> => {
      const type = group[0].dtype as QuantType;
      const t = this.keep(this.rt.alloc(type, [rows, inF], 'blocks', quantStorageBytes(type, rows, inF)));
      let at = t.offset;
      for (const e of group) {
        await readTensorInto(e, this.rt.u8.subarray(at, at + e.byteLength));
        at += e.byteLength;
      }
      arrangeQuantized(this.rt, t);
      return t;
    };
    if (types.every((t) => t === types[0])) return read(entries, outF);
    const parts: Tensor[] = [];
    for (const e of entries) parts.push(await read([e], e.shape[0]));
    return { dtype: types[0], shape: [outF, inF], layout: 'parts', offset: parts[0].offset, byteLength: parts.reduce((n, p) => n + p.byteLength, 0), parts };
  }

  /**
   * Float parts stacked along outF (or their transposes, GPT-2's Conv1D), staged as f32 rows [outF × inF] in wasm
   * memory and quantized there to `this.quantize` by ggml's row quantizer; the staging is released.
   */
  private async quantizeOnLoad(entries: WeightEntry[], outF: number, inF: number, transposed: boolean): Promise<Tensor> {
    const type = this.quantize!;
    const staging = this.rt.alloc('f32', [outF, inF]);
    try {
      let first = 0;
      for (const e of entries) {
        const values = await readTensorF32(e);
        const partOut = transposed ? e.shape[1] : e.shape[0];
        const dst = this.rt.f32View(staging).subarray(first * inF, (first + partOut) * inF);
        if (!transposed) dst.set(values);
        else for (let o = 0; o < partOut; o++) for (let k = 0; k < inF; k++) dst[o * inF + k] = values[k * partOut + o];
        first += partOut;
      }
      this.nonFinite += this.countNonFinite(staging);
      const t = this.rt.alloc(type, [outF, inF], 'blocks', quantStorageBytes(type, outF, inF));
      try {
        QUANT_TYPES[type].quantizeRow!(this.rt.kernels)(staging.offset, t.offset, outF * inF);
        arrangeQuantized(this.rt, t);
      } catch (e) {
        this.rt.free(t);
        throw e;
      }
      return t;
    } finally {
      this.rt.free(staging);
    }
  }

  /** Give back everything loaded so far (after a failed load). */
  freeAll(): void {
    for (const t of this.allocations) this.rt.free(t);
    this.allocations.length = 0;
  }

  private keep(t: Tensor): Tensor {
    this.allocations.push(t);
    this.weightBytes += t.byteLength;
    return t;
  }

  /** NaN/Inf values in a plain f32/f16/bf16 tensor, counted by the wasm kernel. */
  /** A quantized tensor as f32 through its _ref dequantizer (bit-identical to ggml's), via a wasm staging block. */
  private async dequantize(e: WeightEntry): Promise<Float32Array> {
    const n = numel(e.shape);
    const src = this.rt.heap.alloc(e.byteLength, `staging for ${e.name}`);
    const dst = this.rt.heap.alloc(n * 4, `staging for ${e.name}`);
    try {
      await readTensorInto(e, this.rt.u8.subarray(src, src + e.byteLength));
      QUANT_TYPES[e.dtype as QuantType].dequantRow(this.rt.kernels)(src, dst, n);
      return this.rt.f32.slice(dst / 4, dst / 4 + n);
    } finally {
      this.rt.heap.release(src);
      this.rt.heap.release(dst);
    }
  }

  private countNonFinite(t: Tensor): number {
    return this.rt.kernels.countNonFinite(t.offset, DTYPE_CODE[t.dtype as FloatDType], 0, numel(t.shape));
  }

  private checkShape(e: WeightEntry, want: number[]): void {
    if (e.shape.length !== want.length || e.shape.some((d, i) => d !== want[i])) {
      throw new WeftError('E_FORMAT', `${e.source.name}: the tensor "${e.name}" has shape [${e.shape.join(', ')}] but the config implies [${want.join(', ')}]`);
    }
  }

  private floatDType(e: WeightEntry): FloatDType {
    if (e.dtype === 'f32' || e.dtype === 'f16' || e.dtype === 'bf16') return e.dtype;
    throw new WeftError(
      'E_UNSUPPORTED',
      `${e.source.name}: the tensor "${e.name}" has type ${e.dtype}, which weft cannot run (F32, F16, BF16 and the quantized ${Object.keys(QUANT_TYPES).join(', ')} only)`,
    );
  }

  /** The tensor's bytes in `dtype`: as stored, or widened to f32. */
  private async readAs(e: WeightEntry, dtype: FloatDType): Promise<Uint8Array> {
    if (isQuantType(e.dtype)) return new Uint8Array((await this.dequantize(e)).buffer); // dtype is f32 then
    if (this.floatDType(e) === dtype) {
      const bytes = new Uint8Array(e.byteLength);
      await readTensorInto(e, bytes);
      return bytes;
    }
    const values = await readTensorF32(e);
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
}
