/**
 * Random-weight models shaped like real ones, for the generation benchmark: the speed of a forward depends only on
 * the shapes, so random weights (fixed seed, std 0.02 like GPT-2's init) measure the same thing as trained ones
 * without a download. Written once as config.json + model.safetensors under $WEFT_BENCH_CACHE or
 * <os tmpdir>/weft-bench, and reused afterwards.
 *
 * Usage: tsx bench/make-random-model.ts [gpt2-124m|smollm2-135m ...]   (prints the folders)
 */
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { llamaQuantize } from '../test/models/kquant-model.js';

interface TensorSpec {
  name: string;
  shape: number[];
  /** How a weight is initialised: random normal-ish, or the constants of a fresh norm/bias. */
  init: 'random' | 'ones' | 'zeros';
  /** Read whole for every decoded token (false for tables of which decoding reads one row). */
  readPerToken: boolean;
}

export interface BenchModelSpec {
  name: string;
  description: string;
  config: Record<string, unknown>;
  tensors: TensorSpec[];
}

/** GPT-2 124M: 12 layers, d 768, 12 heads, vocab 50257, 1024 positions, tied head; HF Conv1D [in, out] layout. */
function gpt2(): BenchModelSpec {
  const d = 768;
  const vocab = 50257;
  const positions = 1024;
  const t = (name: string, shape: number[], init: TensorSpec['init'] = 'random', readPerToken = true): TensorSpec => ({ name, shape, init, readPerToken });
  const tensors = [t('wte.weight', [vocab, d]), t('wpe.weight', [positions, d], 'random', false)];
  for (let i = 0; i < 12; i++) {
    const p = `h.${i}.`;
    tensors.push(
      t(p + 'ln_1.weight', [d], 'ones'),
      t(p + 'ln_1.bias', [d], 'zeros'),
      t(p + 'attn.c_attn.weight', [d, 3 * d]),
      t(p + 'attn.c_attn.bias', [3 * d], 'zeros'),
      t(p + 'attn.c_proj.weight', [d, d]),
      t(p + 'attn.c_proj.bias', [d], 'zeros'),
      t(p + 'ln_2.weight', [d], 'ones'),
      t(p + 'ln_2.bias', [d], 'zeros'),
      t(p + 'mlp.c_fc.weight', [d, 4 * d]),
      t(p + 'mlp.c_fc.bias', [4 * d], 'zeros'),
      t(p + 'mlp.c_proj.weight', [4 * d, d]),
      t(p + 'mlp.c_proj.bias', [d], 'zeros'),
    );
  }
  tensors.push(t('ln_f.weight', [d], 'ones'), t('ln_f.bias', [d], 'zeros'));
  return {
    name: 'gpt2-124m',
    description: 'GPT-2 124M shape (12 layers, d 768, vocab 50257)',
    config: {
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      vocab_size: vocab,
      n_positions: positions,
      n_ctx: positions,
      n_embd: d,
      n_layer: 12,
      n_head: 12,
      n_inner: null,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
      bos_token_id: 50256,
      eos_token_id: 50256,
      tie_word_embeddings: true,
    },
    tensors,
  };
}

/** SmolLM2-135M: llama, 30 layers, d 576, ffn 1536, 9 heads / 3 KV heads, vocab 49152, tied, rope_theta 100000. */
function smollm2(): BenchModelSpec {
  const d = 576;
  const ffn = 1536;
  const headDim = 64;
  const kv = 3 * headDim;
  const vocab = 49152;
  const t = (name: string, shape: number[], init: TensorSpec['init'] = 'random'): TensorSpec => ({ name, shape, init, readPerToken: true });
  const tensors = [t('model.embed_tokens.weight', [vocab, d])]; // also the tied lm_head, so read whole per token
  for (let i = 0; i < 30; i++) {
    const p = `model.layers.${i}.`;
    tensors.push(
      t(p + 'input_layernorm.weight', [d], 'ones'),
      t(p + 'self_attn.q_proj.weight', [d, d]),
      t(p + 'self_attn.k_proj.weight', [kv, d]),
      t(p + 'self_attn.v_proj.weight', [kv, d]),
      t(p + 'self_attn.o_proj.weight', [d, d]),
      t(p + 'post_attention_layernorm.weight', [d], 'ones'),
      t(p + 'mlp.gate_proj.weight', [ffn, d]),
      t(p + 'mlp.up_proj.weight', [ffn, d]),
      t(p + 'mlp.down_proj.weight', [d, ffn]),
    );
  }
  tensors.push(t('model.norm.weight', [d], 'ones'));
  return {
    name: 'smollm2-135m',
    description: 'SmolLM2-135M shape (llama, 30 layers, d 576, 9/3 heads, vocab 49152, tied)',
    config: {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: vocab,
      hidden_size: d,
      intermediate_size: ffn,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      head_dim: headDim,
      hidden_act: 'silu',
      max_position_embeddings: 8192,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      tie_word_embeddings: true,
      bos_token_id: 0,
      eos_token_id: 0,
    },
    tensors,
  };
}

/**
 * A T5 v1.0 (ReLU, tied, rescaled head) of any size; `t5Spec()` is T5-small's shape: d 512, 6 + 6 layers, 8 heads of
 * 64, d_ff 2048, vocab 32128. The relative-position bias tables are read per token only as the few rows in use.
 */
export function t5Spec(o: { name?: string; d?: number; layers?: number; heads?: number; dKv?: number; ff?: number; vocab?: number } = {}): BenchModelSpec {
  const { name = 't5-small', d = 512, layers = 6, heads = 8, dKv = 64, ff = 2048, vocab = 32128 } = o;
  const inner = heads * dKv;
  const t = (n: string, shape: number[], init: TensorSpec['init'] = 'random', readPerToken = true): TensorSpec => ({ name: n, shape, init, readPerToken });
  const tensors = [t('shared.weight', [vocab, d])];
  for (const stack of ['encoder', 'decoder']) {
    for (let i = 0; i < layers; i++) {
      const p = `${stack}.block.${i}.layer.`;
      // the encoder runs once per input, not per decoded token
      const perToken = stack === 'decoder';
      tensors.push(t(p + '0.layer_norm.weight', [d], 'ones', perToken));
      for (const x of ['q', 'k', 'v']) tensors.push(t(`${p}0.SelfAttention.${x}.weight`, [inner, d], 'random', perToken));
      tensors.push(t(p + '0.SelfAttention.o.weight', [d, inner], 'random', perToken));
      if (i === 0) tensors.push(t(p + '0.SelfAttention.relative_attention_bias.weight', [32, heads], 'random', false));
      let f = 1;
      if (stack === 'decoder') {
        tensors.push(t(p + '1.layer_norm.weight', [d], 'ones'), t(p + '1.EncDecAttention.q.weight', [inner, d]), t(p + '1.EncDecAttention.o.weight', [d, inner]));
        // cross-attention K/V are computed once per input
        tensors.push(t(p + '1.EncDecAttention.k.weight', [inner, d], 'random', false), t(p + '1.EncDecAttention.v.weight', [inner, d], 'random', false));
        f = 2;
      }
      tensors.push(t(`${p}${f}.layer_norm.weight`, [d], 'ones', perToken), t(`${p}${f}.DenseReluDense.wi.weight`, [ff, d], 'random', perToken), t(`${p}${f}.DenseReluDense.wo.weight`, [d, ff], 'random', perToken));
    }
    tensors.push(t(`${stack}.final_layer_norm.weight`, [d], 'ones', stack === 'decoder'));
  }
  return {
    name,
    description: `T5 v1.0 shape (${layers} + ${layers} layers, d ${d}, ${heads} heads × ${dKv}, d_ff ${ff}, vocab ${vocab}, tied)`,
    config: {
      model_type: 't5',
      architectures: ['T5ForConditionalGeneration'],
      vocab_size: vocab,
      d_model: d,
      d_kv: dKv,
      d_ff: ff,
      num_layers: layers,
      num_decoder_layers: layers,
      num_heads: heads,
      relative_attention_num_buckets: 32,
      relative_attention_max_distance: 128,
      feed_forward_proj: 'relu',
      layer_norm_epsilon: 1e-6,
      tie_word_embeddings: true,
      n_positions: 512,
      pad_token_id: 0,
      eos_token_id: 1,
      decoder_start_token_id: 0,
    },
    tensors,
  };
}

/**
 * all-MiniLM-L6-v2's shape (BERT: 6 layers, hidden 384, 12 heads, FFN 1536, vocab 30522, 512 positions), for the
 * encoder benchmark. `readPerToken` has no meaning for an encoder; every matrix is marked as read.
 */
export function bertSpec(o: { name?: string; d?: number; layers?: number; heads?: number; ffn?: number; vocab?: number; positions?: number } = {}): BenchModelSpec {
  const { name = 'minilm-l6', d = 384, layers = 6, heads = 12, ffn = 1536, vocab = 30522, positions = 512 } = o;
  const t = (n: string, shape: number[], init: TensorSpec['init'] = 'random'): TensorSpec => ({ name: n, shape, init, readPerToken: true });
  const norm = (p: string) => [t(`${p}.weight`, [d], 'ones'), t(`${p}.bias`, [d], 'zeros')];
  const dense = (p: string, outF: number, inF: number) => [t(`${p}.weight`, [outF, inF]), t(`${p}.bias`, [outF], 'zeros')];
  const tensors = [t('embeddings.word_embeddings.weight', [vocab, d]), t('embeddings.position_embeddings.weight', [positions, d]), t('embeddings.token_type_embeddings.weight', [2, d]), ...norm('embeddings.LayerNorm')];
  for (let i = 0; i < layers; i++) {
    const p = `encoder.layer.${i}.`;
    tensors.push(
      ...dense(p + 'attention.self.query', d, d),
      ...dense(p + 'attention.self.key', d, d),
      ...dense(p + 'attention.self.value', d, d),
      ...dense(p + 'attention.output.dense', d, d),
      ...norm(p + 'attention.output.LayerNorm'),
      ...dense(p + 'intermediate.dense', ffn, d),
      ...dense(p + 'output.dense', d, ffn),
      ...norm(p + 'output.LayerNorm'),
    );
  }
  tensors.push(...dense('pooler.dense', d, d));
  return {
    name,
    description: `BERT shape (${layers} layers, hidden ${d}, ${heads} heads, FFN ${ffn}, vocab ${vocab})`,
    config: {
      model_type: 'bert',
      architectures: ['BertModel'],
      vocab_size: vocab,
      hidden_size: d,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      intermediate_size: ffn,
      hidden_act: 'gelu',
      max_position_embeddings: positions,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
      pad_token_id: 0,
      position_embedding_type: 'absolute',
    },
    tensors,
  };
}

export const BENCH_MODELS: Record<string, () => BenchModelSpec> = { 'gpt2-124m': gpt2, 'smollm2-135m': smollm2, 't5-small': () => t5Spec(), 'minilm-l6': () => bertSpec() };

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** f32 bytes of the weights one decoded token reads (every tensor read whole; one row of the others is ignored). */
export function weightBytesPerToken(spec: BenchModelSpec): number {
  return spec.tensors.filter((t) => t.readPerToken).reduce((n, t) => n + numel(t.shape) * 4, 0);
}

export function benchCacheDir(): string {
  return process.env.WEFT_BENCH_CACHE ?? join(tmpdir(), 'weft-bench');
}

/** The model's folder, written on first use (to a temporary name, renamed when complete). */
export async function ensureBenchModel(name: string): Promise<{ dir: string; spec: BenchModelSpec }> {
  const make = BENCH_MODELS[name];
  if (!make) throw new Error(`unknown bench model '${name}' (known: ${Object.keys(BENCH_MODELS).join(', ')})`);
  const spec = make();
  const dir = join(benchCacheDir(), `${spec.name}-random-v1`);
  if (existsSync(join(dir, 'model.safetensors'))) return { dir, spec };
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  await writeModel(partial, spec);
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  return { dir, spec };
}

/** config.json and model.safetensors of `spec` into the folder `dir` (which must exist). */
export async function writeModel(dir: string, spec: BenchModelSpec, seed = 0x5eed): Promise<void> {
  await writeFile(join(dir, 'config.json'), JSON.stringify(spec.config, null, 2));
  await writeSafetensors(join(dir, 'model.safetensors'), spec.tensors, seed);
}

/** safetensors: u64 header length, JSON header padded with spaces to 8 bytes, then the f32 data in order. */
async function writeSafetensors(path: string, tensors: TensorSpec[], seed: number): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = numel(t.shape) * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const file = await open(path, 'w');
  try {
    await file.write(prefix);
    await file.write(Buffer.from(json, 'latin1'));
    let state = seed >>> 0 || 1;
    const chunk = new Float32Array(1 << 22);
    // Uniform on [-a, a] with a = 0.02·√3 has std 0.02. xorshift32 (Marsaglia) is plenty for weights.
    const a = 0.02 * Math.sqrt(3);
    for (const t of tensors) {
      for (let left = numel(t.shape); left > 0; ) {
        const n = Math.min(left, chunk.length);
        for (let i = 0; i < n; i++) {
          if (t.init === 'random') {
            state ^= state << 13;
            state ^= state >>> 17;
            state ^= state << 5;
            chunk[i] = ((state >>> 0) / 4294967296 * 2 - 1) * a;
          } else chunk[i] = t.init === 'ones' ? 1 : 0;
        }
        await file.write(new Uint8Array(chunk.buffer, 0, n * 4));
        left -= n;
      }
    }
  } finally {
    await file.close();
  }
}

// ---- GGUF: the files the generation benchmark gives weft and llama.cpp alike ----------------------------------

/** Weight dtypes a bench GGUF can hold (matrices; norms and biases stay f32, as llama.cpp's converter writes them). */
export type BenchGgufDType = 'f32' | 'f16' | 'bf16';
const GGML_TYPE: Record<BenchGgufDType, number> = { f32: 0, f16: 1, bf16: 30 };
const GGUF_ALIGNMENT = 32;

interface GgufTensorSpec {
  name: string;
  /** GGUF order: ne0 (the contiguous, input dimension) first. */
  dims: number[];
  init: TensorSpec['init'];
}

/** HF tensor names → llama.cpp's GGUF names, for the two bench architectures. */
const GGUF_NAMES: Array<[RegExp, string]> = [
  [/^(wte|model\.embed_tokens)\./, 'token_embd.'],
  [/^wpe\./, 'position_embd.'],
  [/^(ln_f|model\.norm)\./, 'output_norm.'],
  [/^(h|model\.layers)\.(\d+)\.(ln_1|input_layernorm)\./, 'blk.$2.attn_norm.'],
  [/^h\.(\d+)\.attn\.c_attn\./, 'blk.$1.attn_qkv.'],
  [/^(h\.(\d+)\.attn\.c_proj|model\.layers\.(\d+)\.self_attn\.o_proj)\./, 'blk.$2$3.attn_output.'],
  [/^model\.layers\.(\d+)\.self_attn\.([qkv])_proj\./, 'blk.$1.attn_$2.'],
  [/^(h|model\.layers)\.(\d+)\.(ln_2|post_attention_layernorm)\./, 'blk.$2.ffn_norm.'],
  [/^(h\.(\d+)\.mlp\.c_fc|model\.layers\.(\d+)\.mlp\.up_proj)\./, 'blk.$2$3.ffn_up.'],
  [/^(h\.(\d+)\.mlp\.c_proj|model\.layers\.(\d+)\.mlp\.down_proj)\./, 'blk.$2$3.ffn_down.'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\./, 'blk.$1.ffn_gate.'],
];

/**
 * The model's tensors under llama.cpp's GGUF names and dimension order (ne0, the contiguous input dimension, first:
 * PyTorch's [out, in] reversed; GPT-2's Conv1D weights are already [in, out]), and its hyper-parameters.
 */
function ggufLayout(spec: BenchModelSpec): { metadata: Array<[string, GgufValue]>; tensors: GgufTensorSpec[] } {
  const c = spec.config as Record<string, number>;
  const gpt2 = spec.config.model_type === 'gpt2';
  const tensors = spec.tensors.map((t): GgufTensorSpec => {
    const rule = GGUF_NAMES.find(([from]) => from.test(t.name));
    if (!rule) throw new Error(`no GGUF name for ${t.name}`);
    const conv1d = gpt2 && t.name.startsWith('h.') && t.shape.length === 2;
    return { name: t.name.replace(rule[0], rule[1]), dims: conv1d ? t.shape : [...t.shape].reverse(), init: t.init };
  });
  const metadata: Array<[string, GgufValue]> = gpt2
    ? [
        ['general.architecture', str('gpt2')],
        ['gpt2.context_length', u32(c.n_positions)],
        ['gpt2.embedding_length', u32(c.n_embd)],
        ['gpt2.block_count', u32(c.n_layer)],
        ['gpt2.feed_forward_length', u32(4 * c.n_embd)],
        ['gpt2.attention.head_count', u32(c.n_head)],
        ['gpt2.attention.layer_norm_epsilon', f32(c.layer_norm_epsilon)],
      ]
    : [
        ['general.architecture', str('llama')],
        ['llama.context_length', u32(c.max_position_embeddings)],
        ['llama.embedding_length', u32(c.hidden_size)],
        ['llama.block_count', u32(c.num_hidden_layers)],
        ['llama.feed_forward_length', u32(c.intermediate_size)],
        ['llama.rope.dimension_count', u32(c.head_dim)],
        ['llama.rope.freq_base', f32(c.rope_theta)],
        ['llama.attention.head_count', u32(c.num_attention_heads)],
        ['llama.attention.head_count_kv', u32(c.num_key_value_heads)],
        ['llama.attention.layer_norm_rms_epsilon', f32(c.rms_norm_eps)],
      ];
  return { metadata: [...metadata, ['general.alignment', u32(GGUF_ALIGNMENT)], ...syntheticVocabulary(c.vocab_size)], tensors };
}

/**
 * A SentencePiece-style vocabulary of the model's size, for both architectures (llama.cpp and weft load any
 * vocabulary beside any architecture; the benchmark feeds token ids, never text): <unk>, <s>, </s>, the 256 byte
 * tokens, then distinct pieces with falling scores.
 */
function syntheticVocabulary(n: number): Array<[string, GgufValue]> {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [2, 3, 3]; // unknown, control, control
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // byte
  }
  while (tokens.length < n) {
    tokens.push(`\u2581w${tokens.length}`);
    types.push(1);
  }
  return [
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', { kind: 'strings', value: tokens }],
    ['tokenizer.ggml.scores', { kind: 'f32s', value: tokens.map((_, i) => -i) }],
    ['tokenizer.ggml.token_type', { kind: 'i32s', value: types }],
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(2)],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
  ];
}

type GgufValue =
  | { kind: 'string'; value: string }
  | { kind: 'u32' | 'f32'; value: number }
  | { kind: 'strings'; value: string[] }
  | { kind: 'f32s' | 'i32s'; value: number[] };
const str = (value: string): GgufValue => ({ kind: 'string', value });
const u32 = (value: number): GgufValue => ({ kind: 'u32', value });
const f32 = (value: number): GgufValue => ({ kind: 'f32', value });

/** GGUF v3 header bytes: metadata and tensor infos, padded to the alignment. */
function ggufHeader(metadata: Array<[string, GgufValue]>, infos: Array<{ name: string; dims: number[]; type: number; offset: number }>): Buffer {
  const parts: Buffer[] = [];
  const u32b = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64b = (v: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const strb = (s: string) => { const b = Buffer.from(s, 'utf8'); u64b(b.length); parts.push(b); };
  parts.push(Buffer.from('GGUF', 'latin1'));
  u32b(3);
  u64b(infos.length);
  u64b(metadata.length);
  for (const [key, v] of metadata) {
    strb(key);
    if (v.kind === 'string') { u32b(8); strb(v.value); }
    else if (v.kind === 'u32') { u32b(4); u32b(v.value); }
    else if (v.kind === 'f32') { u32b(6); const b = Buffer.alloc(4); b.writeFloatLE(v.value); parts.push(b); }
    else if (v.kind === 'strings') { u32b(9); u32b(8); u64b(v.value.length); for (const s of v.value) strb(s); }
    else {
      const values = v.value as number[];
      u32b(9); u32b(v.kind === 'f32s' ? 6 : 5); u64b(values.length);
      const b = Buffer.alloc(4 * values.length);
      values.forEach((x, i) => (v.kind === 'f32s' ? b.writeFloatLE(x, 4 * i) : b.writeInt32LE(x, 4 * i)));
      parts.push(b);
    }
  }
  for (const info of infos) {
    strb(info.name);
    u32b(info.dims.length);
    for (const d of info.dims) u64b(d);
    u32b(info.type);
    u64b(info.offset);
  }
  const header = Buffer.concat(parts);
  return Buffer.concat([header, Buffer.alloc((GGUF_ALIGNMENT - (header.length % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT)]);
}

/** f32 → f16 bits, rounding to nearest even (the values here are small and finite: no overflow handling needed). */
function f16Bits(x: number, f: Float32Array, u: Uint32Array): number {
  f[0] = x;
  const bits = u[0];
  const sign = (bits >>> 16) & 0x8000;
  const e = ((bits >>> 23) & 0xff) - 127 + 15;
  let m = bits & 0x7fffff;
  if (e <= 0) {
    if (e < -10) return sign;
    m |= 0x800000; // the implicit one, then shift into the subnormal position
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let q = m >>> shift;
    if (rest > half || (rest === half && q & 1)) q++;
    return sign | q;
  }
  let q = (e << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && q & 1)) q++;
  return sign | q;
}

/** f32 → bf16 bits, rounding to nearest even. */
function bf16Bits(x: number, f: Float32Array, u: Uint32Array): number {
  f[0] = x;
  const bits = u[0];
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The dtypes a bench row can have: the float GGUF files this module writes, and llama.cpp's quantizations of the f32 one. */
export type BenchDType = BenchGgufDType | 'q8_0' | 'q4_0' | 'q4_k';

/** llama.cpp's file types for the quantized dtypes. */
const QUANT_FTYPE = { q8_0: 'Q8_0', q4_0: 'Q4_0', q4_k: 'Q4_K_M' } as const;

/**
 * The bench model's GGUF file of `dtype`: written here (float dtypes), or the f32 file quantized by llama.cpp's own
 * quantizer (llama_model_quantize in node-llama-cpp's bundled libllama, through test/helpers/llama-quantize.py).
 */
export async function ensureBenchFile(name: string, dtype: BenchDType): Promise<{ path: string; spec: BenchModelSpec }> {
  if (!(dtype in QUANT_FTYPE)) return ensureBenchGguf(name, dtype as BenchGgufDType);
  const f32 = await ensureBenchGguf(name, 'f32');
  const path = f32.path.replace(/\.gguf$/, `-${dtype}.gguf`);
  if (!existsSync(path)) llamaQuantize(f32.path, path, QUANT_FTYPE[dtype as keyof typeof QUANT_FTYPE]);
  return { ...f32, path };
}

/**
 * The bench model as one GGUF file of `dtype` matrices (same seeded uniform weights, std 0.02, as the safetensors),
 * written once beside the safetensors folder: `<cache>/<model>-random-v1/model-<dtype>.gguf`.
 */
export async function ensureBenchGguf(name: string, dtype: BenchGgufDType): Promise<{ path: string; spec: BenchModelSpec }> {
  const { dir, spec } = await ensureBenchModel(name);
  const path = join(dir, `model-${dtype}.gguf`);
  if (existsSync(path)) return { path, spec };
  const { metadata, tensors } = ggufLayout(spec);
  let offset = 0;
  const infos = tensors.map((t) => {
    const type = t.dims.length === 2 ? GGML_TYPE[dtype] : GGML_TYPE.f32;
    const info = { name: t.name, dims: t.dims, type, offset, bytes: numel(t.dims) * (type === 0 ? 4 : 2) };
    offset += info.bytes + ((GGUF_ALIGNMENT - (info.bytes % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT);
    return info;
  });
  const partial = `${path}.partial-${process.pid}`;
  const file = await open(partial, 'w');
  try {
    await file.write(ggufHeader(metadata, infos));
    let state = 0x5eed;
    const a = 0.02 * Math.sqrt(3);
    const fbuf = new Float32Array(1);
    const ubuf = new Uint32Array(fbuf.buffer);
    for (let i = 0; i < tensors.length; i++) {
      const { init } = tensors[i];
      const { type, bytes } = infos[i];
      const out = Buffer.alloc(bytes + ((GGUF_ALIGNMENT - (bytes % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT));
      const n = numel(tensors[i].dims);
      for (let j = 0; j < n; j++) {
        let v = init === 'ones' ? 1 : 0;
        if (init === 'random') {
          state ^= state << 13;
          state ^= state >>> 17;
          state ^= state << 5;
          v = ((state >>> 0) / 4294967296 * 2 - 1) * a;
        }
        if (type === 0) out.writeFloatLE(v, 4 * j);
        else out.writeUInt16LE(type === GGML_TYPE.f16 ? f16Bits(v, fbuf, ubuf) : bf16Bits(v, fbuf, ubuf), 2 * j);
      }
      await file.write(out);
    }
  } finally {
    await file.close();
  }
  await rename(partial, path);
  return { path, spec };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const name of process.argv.length > 2 ? process.argv.slice(2) : Object.keys(BENCH_MODELS)) console.log((await ensureBenchModel(name)).dir);
}
