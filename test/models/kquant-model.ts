// A small random-weight llama model whose every matrix has rows that are a multiple of 256 (so llama.cpp's
// quantizer keeps K-quant blocks in it), written as an F32 GGUF, and its K-quant versions made by llama.cpp's own
// quantizer (llama_model_quantize in the libllama that npm node-llama-cpp bundles, called by
// test/helpers/llama-quantize.py through Python ctypes: the addon exposes no quantizer and the package ships no
// llama-quantize binary). The vocabulary (512 SentencePiece tokens) is copied from stories260K.gguf, so llama.cpp
// can load the files; the tests drive the model with token ids.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGguf } from '../../src/files/local.js';
import { seededRandom } from '../kernels/util.js';

export const MODEL = { dim: 256, ffn: 768, layers: 2, heads: 4, kvHeads: 2, vocab: 512, context: 256 } as const;

/** llama_ftype values (llama.h) of the files the end-to-end test makes. */
export const FTYPES = { Q2_K: 10, Q3_K_M: 12, Q4_K_M: 15, Q5_K_M: 17, Q6_K: 18, IQ4_XS: 30 } as const;
export type KFileType = keyof typeof FTYPES;
/** llama_ftype of every file type llamaQuantize makes: the K-quant files above, and Q8_0 / Q4_0 for the benchmark. */
const ALL_FTYPES = { ...FTYPES, Q4_0: 2, Q8_0: 7 } as const;

type Kv = [key: string, type: 'u32' | 'f32' | 'str' | 'str[]' | 'f32[]' | 'i32[]', value: unknown];

const TYPE_ID = { u32: 4, i32: 5, f32: 6, str: 8, arr: 9 } as const;

/** A GGUF v3 file (alignment 32) from metadata and F32 tensors; dims in GGUF order (innermost first). */
function ggufBytes(kvs: Kv[], tensors: Array<{ name: string; dims: number[]; data: Float32Array }>): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const u32 = (v: number) => new Uint8Array(new Uint32Array([v]).buffer);
  const u64 = (v: number) => new Uint8Array(new BigUint64Array([BigInt(v)]).buffer);
  const str = (s: string) => {
    const b = enc.encode(s);
    return [u64(b.length), b];
  };
  parts.push(enc.encode('GGUF'), u32(3), u64(tensors.length), u64(kvs.length));
  for (const [key, type, value] of kvs) {
    parts.push(...str(key));
    if (type === 'u32') parts.push(u32(TYPE_ID.u32), u32(value as number));
    else if (type === 'f32') parts.push(u32(TYPE_ID.f32), new Uint8Array(new Float32Array([value as number]).buffer));
    else if (type === 'str') parts.push(u32(TYPE_ID.str), ...str(value as string));
    else {
      const items = value as unknown[];
      const elem = type === 'str[]' ? TYPE_ID.str : type === 'f32[]' ? TYPE_ID.f32 : TYPE_ID.i32;
      parts.push(u32(TYPE_ID.arr), u32(elem), u64(items.length));
      for (const item of items) {
        if (type === 'str[]') parts.push(...str(item as string));
        else if (type === 'f32[]') parts.push(new Uint8Array(new Float32Array([item as number]).buffer));
        else parts.push(new Uint8Array(new Int32Array([item as number]).buffer));
      }
    }
  }
  let offset = 0;
  for (const t of tensors) {
    parts.push(...str(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(0), u64(offset));
    offset += Math.ceil(t.data.byteLength / 32) * 32;
  }
  const headerLength = parts.reduce((n, p) => n + p.length, 0);
  parts.push(new Uint8Array(Math.ceil(headerLength / 32) * 32 - headerLength));
  for (const t of tensors) {
    parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    parts.push(new Uint8Array(Math.ceil(t.data.byteLength / 32) * 32 - t.data.byteLength));
  }
  return Buffer.concat(parts);
}

/** Writes the F32 model (seeded uniform weights, norm weights 0.75..1.25) to `path`, with stories260K's vocabulary from `vocabGguf`. */
export async function writeF32Model(path: string, vocabGguf: string, seed = 20261206): Promise<void> {
  const vocab = await openGguf(vocabGguf);
  const meta = (key: string) => {
    const v = vocab.metadata.get(key);
    if (v === undefined) throw new Error(`${vocabGguf} has no ${key}`);
    return v;
  };
  await vocab.source.close();
  const { dim, ffn, layers, heads, kvHeads, vocab: nVocab, context } = MODEL;
  const kvs: Kv[] = [
    ['general.architecture', 'str', 'llama'],
    ['general.name', 'str', 'weft-kquant-test'],
    ['general.file_type', 'u32', 0],
    ['llama.context_length', 'u32', context],
    ['llama.embedding_length', 'u32', dim],
    ['llama.feed_forward_length', 'u32', ffn],
    ['llama.block_count', 'u32', layers],
    ['llama.attention.head_count', 'u32', heads],
    ['llama.attention.head_count_kv', 'u32', kvHeads],
    ['llama.rope.dimension_count', 'u32', dim / heads],
    ['llama.rope.freq_base', 'f32', 10000],
    ['llama.attention.layer_norm_rms_epsilon', 'f32', 1e-5],
    ['tokenizer.ggml.model', 'str', meta('tokenizer.ggml.model')],
    ['tokenizer.ggml.tokens', 'str[]', meta('tokenizer.ggml.tokens')],
    ['tokenizer.ggml.scores', 'f32[]', meta('tokenizer.ggml.scores')],
    ['tokenizer.ggml.token_type', 'i32[]', meta('tokenizer.ggml.token_type')],
    ['tokenizer.ggml.unknown_token_id', 'u32', 0],
    ['tokenizer.ggml.bos_token_id', 'u32', 1],
    ['tokenizer.ggml.eos_token_id', 'u32', 2],
  ];
  const next = seededRandom(seed);
  const random = (n: number, scale: number) => Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale);
  // Norm weights near 1 but not 1: with unit weights, a quantized embedding without mins (Q3_K, Q6_K, IQ4_XS: values
  // d·scale·q) normalizes to values whose ratios are ratios of small integers, and the 8-bit activation rounding then
  // meets exact .5 ties, which the last-bit differences of two engines' RMS norms break either way (measured: up to
  // 0.1 in log p). Trained norm weights are never all 1.
  const ones = (n: number) => Float32Array.from({ length: n }, () => 1 + (next() * 2 - 1) * 0.25);
  const kvDim = (dim / heads) * kvHeads;
  // uniform(−a, a) has std a/√3: a = 0.1 gives ~0.06, logits of std ~1.5 at the head
  const tensors: Array<{ name: string; dims: number[]; data: Float32Array }> = [
    { name: 'token_embd.weight', dims: [dim, nVocab], data: random(dim * nVocab, 1) },
    { name: 'output_norm.weight', dims: [dim], data: ones(dim) },
    { name: 'output.weight', dims: [dim, nVocab], data: random(dim * nVocab, 0.1) },
  ];
  for (let i = 0; i < layers; i++) {
    const p = `blk.${i}.`;
    tensors.push(
      { name: `${p}attn_norm.weight`, dims: [dim], data: ones(dim) },
      { name: `${p}attn_q.weight`, dims: [dim, dim], data: random(dim * dim, 0.1) },
      { name: `${p}attn_k.weight`, dims: [dim, kvDim], data: random(dim * kvDim, 0.1) },
      { name: `${p}attn_v.weight`, dims: [dim, kvDim], data: random(dim * kvDim, 0.1) },
      { name: `${p}attn_output.weight`, dims: [dim, dim], data: random(dim * dim, 0.1) },
      { name: `${p}ffn_norm.weight`, dims: [dim], data: ones(dim) },
      { name: `${p}ffn_gate.weight`, dims: [dim, ffn], data: random(dim * ffn, 0.1) },
      { name: `${p}ffn_up.weight`, dims: [dim, ffn], data: random(dim * ffn, 0.1) },
      { name: `${p}ffn_down.weight`, dims: [ffn, dim], data: random(ffn * dim, 0.1) },
    );
  }
  await writeFile(path, ggufBytes(kvs, tensors));
}

/** The folder of node-llama-cpp's prebuilt libraries for this platform (libllama, libggml*). */
export function llamaBinsDir(): string {
  const require = createRequire(import.meta.url);
  const platform = `${process.platform}-${process.arch}`;
  const pkg = dirname(dirname(require.resolve(`@node-llama-cpp/${platform}`, { paths: [dirname(require.resolve('node-llama-cpp'))] }))); // <pkg>/dist/index.js
  const bins = join(pkg, 'bins', platform);
  if (!existsSync(bins)) throw new Error(`node-llama-cpp has no prebuilt libraries at ${bins}`);
  return bins;
}

/** Quantizes `src` to `dst` with llama.cpp's llama_model_quantize (one thread, default parameters). */
export function llamaQuantize(src: string, dst: string, ftype: keyof typeof ALL_FTYPES): void {
  const script = fileURLToPath(new URL('../helpers/llama-quantize.py', import.meta.url));
  try {
    execFileSync('python3', [script, llamaBinsDir(), src, dst, String(ALL_FTYPES[ftype]), '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error("python3 is needed to call llama.cpp's quantizer (test/helpers/llama-quantize.py); .ci/run installs it");
    throw new Error(`llama.cpp's quantizer failed on ${src} → ${ftype}: ${err.stderr?.toString() ?? err.message}`);
  }
}
