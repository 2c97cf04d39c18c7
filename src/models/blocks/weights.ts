/**
 * Copies a model's tensors from a `WeightSet` into wasm memory, each once and in the layout the kernels read:
 * linear weights packed (f16/bf16 stay 16-bit), norm weights and biases widened to f32, embedding tables as plain
 * rows read straight into their allocation. It checks every shape against the config, counts NaN/Inf values
 * (allowed, reported; counted in wasm memory by a kernel) and remembers every allocation so a failed load can give
 * them all back. A missing tensor is the WeightSet's E_MISSING error, which names the tensor and the file.
 */
import { WeftError } from '../../errors.js';
import { readTensorF32, readTensorInto, type WeightEntry, type WeightSet } from '../../formats/weights.js';
import { DTYPE_CODE } from '../../runtime/kernels.js';
import { packLinearWeight } from '../../runtime/layout.js';
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
  ) {}

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
    // Tensors of one fused layer share their dtype in every real file; if not, widen them all to f32.
    const dtypes = new Set(entries.map((e) => this.floatDType(e)));
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
          if (this.floatDType(e) === dtype) await readTensorInto(e, dst); // straight from the file
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

  /** A table read by `gatherRows` [rows × dim], plain rows in the file's dtype, read straight into wasm memory. */
  async table(name: string, rows: number, dim: number): Promise<Tensor> {
    const e = this.weights.get(name);
    this.checkShape(e, [rows, dim]);
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
      `${e.source.name}: the tensor "${e.name}" has type ${e.dtype}, which weft cannot run yet (only F32, F16 and BF16; quantized types come later)`,
    );
  }

  /** The tensor's bytes in `dtype`: as stored, or widened to f32. */
  private async readAs(e: WeightEntry, dtype: FloatDType): Promise<Uint8Array> {
    if (this.floatDType(e) === dtype) {
      const bytes = new Uint8Array(e.byteLength);
      await readTensorInto(e, bytes);
      return bytes;
    }
    const values = await readTensorF32(e);
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
}
