/**
 * Paths no shipped file covers, checked with test data made from shipped files and an invariant: the same weights
 * must give the same logits, bit for bit, whichever way they reach the model.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TransformerLM } from '../../src/models/blocks/transformer-lm.js';
import { ropeInverseFrequencies, ropeTable } from '../../src/models/blocks/rope.js';
import { loadModel } from '../../src/models/load.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { shardSafetensors, splitSafetensors } from '../formats/make.js';
import { dataPath, describeData } from '../helpers/data.js';
import { readJson } from './helpers.js';

describeData('models from derived files', () => {
  let rt: Runtime;
  let tmp: string;
  beforeAll(async () => {
    rt = await Runtime.create();
    tmp = await mkdtemp(join(tmpdir(), 'weft-derived-'));
  });
  afterAll(async () => {
    rt.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  const PROMPT = readJson<{ cases: Array<{ input_ids: number[] }> }>(dataPath('ref-models/llama-a/expected_outputs.json')).cases[2].input_ids;

  /** All-position logits of `PROMPT` (40 tokens) from the model at `path`, loaded fresh. */
  async function logitsOf(path: string, prompt = PROMPT): Promise<Float32Array> {
    const { model } = await loadModel(path, { runtime: rt });
    try {
      return model.forward(prompt, { all: true });
    } finally {
      model.dispose();
    }
  }

  /** A copy of a reference model folder with an edited config.json (weights copied as they are). */
  async function withConfig(from: string, name: string, edit: (c: Record<string, unknown>) => void): Promise<string> {
    const dir = join(tmp, name);
    await mkdir(dir, { recursive: true });
    const config = readJson<Record<string, unknown>>(dataPath(from, 'config.json'));
    edit(config);
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    await copyFile(dataPath(from, 'model.safetensors'), join(dir, 'model.safetensors'));
    return dir;
  }

  it('rope_scaling linear with factor 2 puts position 2q where unscaled RoPE puts q (HF: inv_freq / factor)', () => {
    // Halving inv_freq and doubling the position are both exact in binary floating point, so the tables agree bit
    // for bit: the definition of linear scaling ("positions divided by the factor"), checked on our tables.
    const base = { theta: 10000, rotaryDim: 16, freqFactors: null, interleaved: false };
    const plain = ropeTable(ropeInverseFrequencies({ ...base, scaling: { type: 'none' } }), 32);
    const linear = ropeTable(ropeInverseFrequencies({ ...base, scaling: { type: 'linear', factor: 2 } }), 64);
    for (let q = 0; q < 32; q++) expect(linear.subarray(2 * q * 16, 2 * q * 16 + 16)).toEqual(plain.subarray(q * 16, q * 16 + 16));
  });

  it('partial_rotary_factor rotates only the leading dims: position 0 is unchanged, later positions differ', async () => {
    const full = await logitsOf(dataPath('ref-models/llama-a'));
    const half = await logitsOf(await withConfig('ref-models/llama-a', 'llama-a-partial', (c) => (c.partial_rotary_factor = 0.5)));
    const vocab = 512;
    // RoPE at position 0 is the identity whatever dims rotate, and attention at position 0 sees only itself
    expect(half.subarray(0, vocab)).toEqual(full.subarray(0, vocab));
    expect(half.subarray(vocab)).not.toEqual(full.subarray(vocab));
  });

  it('gpt2-a split into two shards with model.safetensors.index.json gives the same logits', async () => {
    const dir = join(tmp, 'gpt2-a-sharded');
    await shardSafetensors(dataPath('ref-models/gpt2-a/model.safetensors'), dir, 2);
    expect(await logitsOf(dir)).toEqual(await logitsOf(dataPath('ref-models/gpt2-a')));
  });

  it('a .safetensors file path finds the config.json beside it', async () => {
    expect(await logitsOf(dataPath('ref-models/llama-a/model.safetensors'))).toEqual(await logitsOf(dataPath('ref-models/llama-a')));
  });

  it('a Mistral config (model_type "mistral", no sliding window) runs the same graph as Llama', async () => {
    const dir = await withConfig('ref-models/llama-a', 'mistral', (c) => {
      c.model_type = 'mistral';
      c.architectures = ['MistralForCausalLM'];
      c.sliding_window = null;
    });
    expect(await logitsOf(dir)).toEqual(await logitsOf(dataPath('ref-models/llama-a')));
  });

  it("Mistral's sliding window caps the context, where full attention is exact", async () => {
    const dir = await withConfig('ref-models/llama-a', 'mistral-window', (c) => {
      c.model_type = 'mistral';
      c.sliding_window = 32;
    });
    const { model } = await loadModel(dir, { runtime: rt });
    expect(model.config.contextLength).toBe(32);
    model.dispose();
  });

  it('the KV cache holds 4096 positions by default, the contextLength option up to the model maximum', async () => {
    // A 128k-context model's full f32 cache would not fit in wasm32; a default cap keeps such models loadable.
    const dir = await withConfig('ref-models/llama-a', 'long-context', (c) => (c.max_position_embeddings = 10000));
    const lengths: number[] = [];
    for (const contextLength of [undefined, 6000, 20000]) {
      const { model } = await loadModel(dir, { runtime: rt, contextLength });
      lengths.push(model.config.contextLength);
      model.dispose();
    }
    expect(lengths).toEqual([4096, 6000, 10000]);
  });

  it('a SmolLM2-style config (llama, tied embeddings, extra fields) loads tied weights', async () => {
    // SmolLM2's config.json is a LlamaConfig with tie_word_embeddings true and a few fields of its own.
    const dir = await withConfig('ref-models/llama-b', 'smollm', (c) => {
      Object.assign(c, { is_llama_config: true, rope_interleaved: false, pad_token_id: 2, pretraining_tp: 1 });
    });
    expect(await logitsOf(dir, PROMPT.map((id) => id % 256))).toEqual(await logitsOf(dataPath('ref-models/llama-b'), PROMPT.map((id) => id % 256)));
  });

  it('the trace hook names every intermediate; the embedding row is wte[id] + wpe[pos] from the file', async () => {
    const { model } = await loadModel(dataPath('ref-models/gpt2-a'), { runtime: rt });
    try {
      const seen: string[] = [];
      let embedding: Float32Array = new Float32Array(0);
      (model as TransformerLM).trace = (name, layer, value) => {
        seen.push(`${name}@${layer}`);
        if (name === 'inp_embd') embedding = rt.readF32(value);
      };
      model.forward([5, 9]);
      const perLayer = ['attn_norm', 'qkv', 'kqv_out', 'attn_out', 'ffn_norm', 'ffn_act', 'ffn_out', 'l_out'];
      expect(seen).toEqual(['inp_embd@-1', ...[0, 1].flatMap((l) => perLayer.map((n) => `${n}@${l}`)), 'result_norm@-1']);

      // The tables read by hand from the safetensors bytes (not through weft's parser); f32 sums are exact in fround.
      const { header, data } = splitSafetensors(await readFile(dataPath('ref-models/gpt2-a/model.safetensors')));
      const table = (name: string) => {
        const [from, to] = (header[name] as { data_offsets: [number, number] }).data_offsets;
        return new Float32Array(new Uint8Array(data.subarray(from, to)).buffer); // a copy: aligned, and not Buffer.slice's view
      };
      const wte = table('transformer.wte.weight');
      const wpe = table('transformer.wpe.weight');
      const want = new Float32Array(2 * 64);
      [5, 9].forEach((id, pos) => {
        for (let i = 0; i < 64; i++) want[pos * 64 + i] = Math.fround(wte[id * 64 + i] + wpe[pos * 64 + i]);
      });
      expect(embedding).toEqual(want);
    } finally {
      model.dispose();
    }
  });

  it('truncate keeps a prefix: the next turn gives the logits of one full prefill', async () => {
    const { model } = await loadModel(dataPath('ref-models/llama-a'), { runtime: rt });
    try {
      const full = model.forward(PROMPT, { all: true });
      model.reset();
      model.forward(PROMPT.slice(0, 20));
      model.forward([7, 8, 9]); // a turn that is then taken back
      model.truncate(20);
      expect(model.cacheLength).toBe(20);
      const rest = model.forward(PROMPT.slice(20), { all: true });
      // Rows 20.. of one prefill vs a prefill of 20 then 20 more: the kernels sum the same terms, but row blocks
      // may be split differently: measured ≤ 1.8e-6 on these logits (|x| < 5), so 1e-5 leaves ~5× headroom.
      const vocab = model.config.vocabSize;
      let worst = 0;
      for (let i = 0; i < rest.length; i++) worst = Math.max(worst, Math.abs(rest[i] - full[20 * vocab + i]));
      expect(worst).toBeLessThan(1e-5);
    } finally {
      model.dispose();
    }
  });
});
