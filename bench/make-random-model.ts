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

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const name of process.argv.length > 2 ? process.argv.slice(2) : Object.keys(BENCH_MODELS)) console.log((await ensureBenchModel(name)).dir);
}
