/**
 * Copies a model's tensors from a `WeightSet` into wasm memory, each once and in the layout the kernels read:
 * linear weights packed (f16/bf16 stay 16-bit), norm weights and biases widened to f32, embedding tables as plain
 * rows read straight into their allocation. It checks every shape against the config, counts NaN/Inf values
 * (allowed, reported) and remembers every allocation so a failed load can give them all back. A missing tensor
 * is the WeightSet's E_MISSING error, which names the tensor and the file.
 */
import { WeftError } from '../../errors.js';
import { checkFinite, readTensorF32, readTensorInto, type WeightEntry, type WeightSet } from '../../formats/weights.js';
import { packLinearWeight } from '../../runtime/layout.js';
import type { Runtime } from '../../runtime/runtime.js';
import { DTYPE_BYTES, type Tensor } from '../../runtime/tensor.js';

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
   * q, k and v into one fused projection. `transposed`: the file stores [inF × outF] (GPT-2's Conv1D), turned
   * around here before packing.
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
    // The plain row-major [outF × inF] weight, staged in wasm memory for the packing kernel, then released.
    const plain = this.rt.alloc(dtype, [outF, inF]);
    try {
      let at = plain.offset;
      for (const e of entries) {
        const partBytes = (e.shape[0] * e.shape[1] * plain.byteLength) / (outF * inF);
        if (this.floatDType(e) === dtype && !transposed) {
          await readTensorInto(e, this.rt.u8.subarray(at, at + partBytes)); // straight from the file
        } else {
          const part = await this.readAs(e, dtype);
          const dst = this.rt.u8.subarray(at, at + partBytes);
          if (transposed) transposeInto(part, dst, inF, e.shape[1], DTYPE_BYTES[dtype]);
          else dst.set(part);
        }
        at += partBytes;
      }
      this.nonFinite += checkFinite(this.rt.u8.subarray(plain.offset, plain.offset + plain.byteLength), dtype);
      return this.keep(packLinearWeight(this.rt, plain, outF, inF, dtype));
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
    this.nonFinite += checkFinite(new Uint8Array(all.buffer), 'f32');
    const t = this.keep(this.rt.alloc('f32', [all.length]));
    this.rt.write(t, all);
    return t;
  }

  /** A table read by `gatherRows` [rows × dim], plain rows in the file's dtype, read straight into wasm memory. */
  async table(name: string, rows: number, dim: number): Promise<Tensor> {
    const e = this.weights.get(name);
    this.checkShape(e, [rows, dim]);
    const t = this.keep(this.rt.alloc(this.floatDType(e), [rows, dim]));
    await readTensorInto(e, this.rt.u8.subarray(t.offset, t.offset + e.byteLength));
    this.nonFinite += checkFinite(this.rt.u8.subarray(t.offset, t.offset + e.byteLength), t.dtype);
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

/** dst[cols × rows] = transpose of src[rows × cols], elements of 2 or 4 bytes. */
function transposeInto(src: Uint8Array, dst: Uint8Array, rows: number, cols: number, elementBytes: number): void {
  const n = rows * cols;
  if (elementBytes === 4) transposeTiles(new Uint32Array(src.buffer, src.byteOffset, n), new Uint32Array(dst.buffer, dst.byteOffset, n), rows, cols);
  else transposeTiles(new Uint16Array(src.buffer, src.byteOffset, n), new Uint16Array(dst.buffer, dst.byteOffset, n), rows, cols);
}

/** In 32×32 tiles, so that the strided writes stay in cache: about twice as fast as row by row on GPT-2's shapes. */
function transposeTiles(from: Uint32Array | Uint16Array, to: Uint32Array | Uint16Array, rows: number, cols: number): void {
  const TILE = 32;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const rEnd = Math.min(r0 + TILE, rows);
      const cEnd = Math.min(c0 + TILE, cols);
      for (let r = r0; r < rEnd; r++) {
        for (let c = c0; c < cEnd; c++) to[c * rows + r] = from[r * cols + c];
      }
    }
  }
}
