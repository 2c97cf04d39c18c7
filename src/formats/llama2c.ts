import { WeftError } from '../errors.js';
import { formatError, type ByteSource } from './source.js';

/**
 * llama2.c checkpoints (`.bin`, the legacy "v0" export read by run.c): a header of 7 int32 and then every
 * weight as f32, row-major, in run.c's `memory_map_weights` order. Each per-layer weight is stored for all
 * layers at once ((layer, ...) arrays), so one run.c array becomes n_layers tensors here.
 *
 * Tensors are named as llama.cpp's converter names them in GGUF (`blk.N.attn_q.weight`, ...), because the bytes
 * are the same: llama2.c already uses the interleaved RoPE pairs of GGUF's llama, so a model reads a `.bin`
 * exactly as it reads a GGUF. With a shared classifier there is no `output.weight`: the model uses
 * `token_embd.weight`, as llama.cpp does when a GGUF has no output tensor.
 */

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** True when vocab_size was positive: the classifier is the token embedding table. */
  sharedClassifier: boolean;
}

export interface Llama2cTensorInfo {
  /** GGUF-style name, e.g. `blk.0.attn_q.weight`. */
  name: string;
  /** PyTorch order (outermost first); all f32. */
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  byteLength: number;
}

export interface Llama2cFile {
  source: ByteSource;
  config: Llama2cConfig;
  tensors: Llama2cTensorInfo[];
}

const HEADER_BYTES = 7 * 4;
/** First int32 of llama2.c's newer export versions (v1, v2): "ak42". */
const NEW_EXPORT_MAGIC = 0x616b3432;

export async function readLlama2c(source: ByteSource): Promise<Llama2cFile> {
  const name = source.name;
  if (source.size < HEADER_BYTES) {
    throw formatError(name, 0, `truncated llama2.c checkpoint: ${source.size} bytes, less than the 28-byte header`);
  }
  const header = new DataView((await source.read(0, HEADER_BYTES)).buffer);
  const field = (i: number): number => header.getInt32(i * 4, true);
  if (field(0) === NEW_EXPORT_MAGIC) {
    throw new WeftError('E_UNSUPPORTED', `${name}: a llama2.c checkpoint in the newer export format ("ak42" magic); weft reads the legacy format of run.c (export with --version 0)`);
  }
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabField, seqLen] = [0, 1, 2, 3, 4, 5, 6].map(field);
  const config: Llama2cConfig = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize: Math.abs(vocabField),
    seqLen,
    sharedClassifier: vocabField > 0,
  };
  const describe = `dim ${dim}, hidden_dim ${hiddenDim}, n_layers ${nLayers}, n_heads ${nHeads}, n_kv_heads ${nKvHeads}, vocab_size ${vocabField}, seq_len ${seqLen}`;
  const valid =
    [dim, hiddenDim, nLayers, nHeads, nKvHeads, config.vocabSize, seqLen].every((v) => v > 0) &&
    dim % nHeads === 0 &&
    nHeads % nKvHeads === 0 &&
    (dim / nHeads) % 2 === 0;
  if (!valid) throw formatError(name, 0, `not a valid llama2.c header (${describe})`);

  const headSize = dim / nHeads;
  const kvDim = nKvHeads * headSize;
  // run.c's arrays in file order: name (null: bytes weft skips), shape of one tensor, one per layer or not.
  const arrays: Array<[string | null, number[], boolean]> = [
    ['token_embd.weight', [config.vocabSize, dim], false], // token_embedding_table
    ['attn_norm.weight', [dim], true], // rms_att_weight
    ['attn_q.weight', [dim, dim], true], // wq
    ['attn_k.weight', [kvDim, dim], true], // wk
    ['attn_v.weight', [kvDim, dim], true], // wv
    ['attn_output.weight', [dim, dim], true], // wo
    ['ffn_norm.weight', [dim], true], // rms_ffn_weight
    ['ffn_gate.weight', [hiddenDim, dim], true], // w1
    ['ffn_down.weight', [dim, hiddenDim], true], // w2
    ['ffn_up.weight', [hiddenDim, dim], true], // w3
    ['output_norm.weight', [dim], false], // rms_final_weight
    [null, [2, seqLen, headSize / 2], false], // freq_cis_real and freq_cis_imag: unused, RoPE is computed
  ];
  if (!config.sharedClassifier) arrays.push(['output.weight', [config.vocabSize, dim], false]); // wcls

  // Check the sizes array by array before listing tensors: a corrupt header can claim 2³¹ layers.
  let offset = HEADER_BYTES;
  for (const [arrayName, shape, perLayer] of arrays) {
    const count = perLayer ? nLayers : 1;
    const bytes = count * shape.reduce((n, d) => n * d, 4);
    if (offset + bytes > source.size) {
      const what = `${arrayName ?? 'freq_cis_real/imag'} (${count} × [${shape.join(', ')}] f32)`;
      throw formatError(name, offset, `llama2.c checkpoint (${describe}): ${what} runs past the end of the file (${source.size} bytes): truncated?`);
    }
    offset += bytes;
  }
  if (offset !== source.size) {
    throw formatError(name, offset, `llama2.c checkpoint (${describe}) should be ${offset} bytes but the file has ${source.size - offset} more`);
  }

  const tensors: Llama2cTensorInfo[] = [];
  offset = HEADER_BYTES;
  for (const [arrayName, shape, perLayer] of arrays) {
    const byteLength = shape.reduce((n, d) => n * d, 4);
    for (let l = 0; l < (perLayer ? nLayers : 1); l++) {
      if (arrayName !== null) tensors.push({ name: perLayer ? `blk.${l}.${arrayName}` : arrayName, shape, offset, byteLength });
      offset += byteLength;
    }
  }
  return { source, config, tensors };
}
