/**
 * BART and Marian. ../shared/data has no reference checkpoint for them, so this test builds tiny random ones
 * (seeded) and compares weft with a float64 forward pass written below in plain loops from the HF modeling files
 * (modeling_bart.py, modeling_marian.py). That reference is OUR code, not an independent engine: it checks that the
 * shared encoder-decoder runs the graph we read in HF's code (post-norm, biases, offset-2 learned or sinusoidal
 * positions, scale_embedding, layernorm_embedding, final_logits_bias, cross-attention), not that we read it right.
 * Tolerance 2e-5 on logits (f32 against f64 over these sizes; the values stay below ~5).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type LanguageModel } from '../../src/generation/generate.js';
import { sinusoidalTable } from '../../src/models/bart.js';
import { loadAny } from '../../src/models/load.js';
import type { LoadedModel, Seq2SeqLM } from '../../src/models/model.js';
import { Rng } from '../../src/generation/sampling.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { joinSafetensors } from '../formats/make.js';

type Mat = number[][]; // [rows][cols]

const V = 40;
const D = 16;
const HEADS = 2;
const FFN = 24;
const MAX_POS = 32;

interface Family {
  modelType: 'bart' | 'marian';
  learnedPositions: boolean;
  embeddingNorm: boolean;
  scaleEmbedding: boolean;
  activation: 'gelu_new' | 'swish';
}

const FAMILIES: Family[] = [
  { modelType: 'bart', learnedPositions: true, embeddingNorm: true, scaleEmbedding: false, activation: 'gelu_new' },
  { modelType: 'marian', learnedPositions: false, embeddingNorm: false, scaleEmbedding: true, activation: 'swish' },
];

/** Seeded tensors: name → [shape, values]. */
function makeWeights(f: Family, seed: number): Map<string, { shape: number[]; data: Float64Array }> {
  const rng = new Rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
  const w = new Map<string, { shape: number[]; data: Float64Array }>();
  const put = (name: string, shape: number[], std: number, mean = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    // round through f32: the file holds f32, and the reference must use the same numbers
    w.set(name, { shape, data: Float64Array.from({ length: n }, () => Math.fround(mean + std * normal())) });
  };
  put('model.shared.weight', [V, D], 0.3);
  put('final_logits_bias', [1, V], 0.1);
  for (const stack of ['encoder', 'decoder'] as const) {
    if (f.learnedPositions) put(`model.${stack}.embed_positions.weight`, [MAX_POS + 2, D], 0.2);
    if (f.embeddingNorm) {
      put(`model.${stack}.layernorm_embedding.weight`, [D], 0.1, 1);
      put(`model.${stack}.layernorm_embedding.bias`, [D], 0.05);
    }
    for (let l = 0; l < 2; l++) {
      const p = `model.${stack}.layers.${l}`;
      for (const a of stack === 'encoder' ? ['self_attn'] : ['self_attn', 'encoder_attn']) {
        for (const x of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
          put(`${p}.${a}.${x}.weight`, [D, D], 0.25);
          put(`${p}.${a}.${x}.bias`, [D], 0.05);
        }
        put(`${p}.${a}_layer_norm.weight`, [D], 0.1, 1);
        put(`${p}.${a}_layer_norm.bias`, [D], 0.05);
      }
      put(`${p}.fc1.weight`, [FFN, D], 0.25);
      put(`${p}.fc1.bias`, [FFN], 0.05);
      put(`${p}.fc2.weight`, [D, FFN], 0.25);
      put(`${p}.fc2.bias`, [D], 0.05);
      put(`${p}.final_layer_norm.weight`, [D], 0.1, 1);
      put(`${p}.final_layer_norm.bias`, [D], 0.05);
    }
  }
  return w;
}

async function writeCheckpoint(dir: string, f: Family, weights: Map<string, { shape: number[]; data: Float64Array }>): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const [name, t] of weights) {
    const bytes = new Uint8Array(Float32Array.from(t.data).buffer);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [at, at + bytes.length] };
    parts.push(bytes);
    at += bytes.length;
  }
  const data = new Uint8Array(at);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  await writeFile(join(dir, 'model.safetensors'), joinSafetensors(header, data));
  const config = {
    model_type: f.modelType,
    vocab_size: V,
    d_model: D,
    encoder_layers: 2,
    decoder_layers: 2,
    encoder_attention_heads: HEADS,
    decoder_attention_heads: HEADS,
    encoder_ffn_dim: FFN,
    decoder_ffn_dim: FFN,
    activation_function: f.activation,
    max_position_embeddings: MAX_POS,
    scale_embedding: f.scaleEmbedding,
    pad_token_id: f.modelType === 'marian' ? 39 : 1,
    bos_token_id: 0,
    eos_token_id: 2,
    decoder_start_token_id: f.modelType === 'marian' ? 39 : 2,
    tie_word_embeddings: true,
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
}

// ---- the float64 reference (plain loops after modeling_bart.py / modeling_marian.py) ---------------------------

function get(w: Map<string, { shape: number[]; data: Float64Array }>, name: string): Mat {
  const t = w.get(name)!;
  const cols = t.shape[t.shape.length - 1];
  return Array.from({ length: t.data.length / cols }, (_, r) => Array.from(t.data.subarray(r * cols, (r + 1) * cols)));
}

function linearRef(x: Mat, W: Mat, b: number[]): Mat {
  return x.map((row) => W.map((wr, o) => wr.reduce((s, wv, i) => s + wv * row[i], b[o])));
}

function layerNormRef(x: Mat, g: number[], b: number[]): Mat {
  return x.map((row) => {
    const mean = row.reduce((a, v) => a + v, 0) / row.length;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * g[i] + b[i]);
  });
}

function act(x: number, a: Family['activation']): number {
  return a === 'swish' ? x / (1 + Math.exp(-x)) : 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/** Multi-head attention of queries `xq` over keys/values from `xkv`; causal masks keys after each query. */
function attentionRef(w: Map<string, { shape: number[]; data: Float64Array }>, p: string, xq: Mat, xkv: Mat, causal: boolean): Mat {
  const proj = (x: Mat, n: string) => linearRef(x, get(w, `${p}.${n}.weight`), get(w, `${p}.${n}.bias`)[0]);
  const q = proj(xq, 'q_proj');
  const k = proj(xkv, 'k_proj');
  const v = proj(xkv, 'v_proj');
  const hd = D / HEADS;
  const out = xq.map(() => new Array<number>(D).fill(0));
  for (let h = 0; h < HEADS; h++) {
    for (let i = 0; i < xq.length; i++) {
      const n = causal ? i + 1 : xkv.length;
      const s = Array.from({ length: n }, (_, j) => {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[i][h * hd + d] * k[j][h * hd + d];
        return dot / Math.sqrt(hd);
      });
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < hd; d++) out[i][h * hd + d] = e.reduce((acc, p, j) => acc + (p / z) * v[j][h * hd + d], 0);
    }
  }
  return proj(out, 'out_proj');
}

function postNorm(w: Map<string, { shape: number[]; data: Float64Array }>, name: string, h: Mat, branch: Mat): Mat {
  return layerNormRef(h.map((r, i) => r.map((v, j) => v + branch[i][j])), get(w, `${name}.weight`)[0], get(w, `${name}.bias`)[0]);
}

function embedRef(w: Map<string, { shape: number[]; data: Float64Array }>, f: Family, stack: string, ids: number[]): Mat {
  const table = get(w, 'model.shared.weight');
  const pos = f.learnedPositions ? get(w, `model.${stack}.embed_positions.weight`) : null;
  const sin = f.learnedPositions ? null : sinusoidalTable(MAX_POS, D);
  const scale = f.scaleEmbedding ? Math.sqrt(D) : 1;
  let h = ids.map((id, t) => table[id].map((v, j) => v * scale + (pos ? pos[t + 2][j] : sin![t * D + j])));
  if (f.embeddingNorm) h = layerNormRef(h, get(w, `model.${stack}.layernorm_embedding.weight`)[0], get(w, `model.${stack}.layernorm_embedding.bias`)[0]);
  return h;
}

function mlpRef(w: Map<string, { shape: number[]; data: Float64Array }>, f: Family, p: string, h: Mat): Mat {
  const mid = linearRef(h, get(w, `${p}.fc1.weight`), get(w, `${p}.fc1.bias`)[0]).map((r) => r.map((x) => act(x, f.activation)));
  return linearRef(mid, get(w, `${p}.fc2.weight`), get(w, `${p}.fc2.bias`)[0]);
}

/** Logits [decoderIds.length × V] of the whole model, from scratch. */
function forwardRef(w: Map<string, { shape: number[]; data: Float64Array }>, f: Family, encoderIds: number[], decoderIds: number[]): Mat {
  let e = embedRef(w, f, 'encoder', encoderIds);
  for (let l = 0; l < 2; l++) {
    const p = `model.encoder.layers.${l}`;
    e = postNorm(w, `${p}.self_attn_layer_norm`, e, attentionRef(w, `${p}.self_attn`, e, e, false));
    e = postNorm(w, `${p}.final_layer_norm`, e, mlpRef(w, f, p, e));
  }
  let h = embedRef(w, f, 'decoder', decoderIds);
  for (let l = 0; l < 2; l++) {
    const p = `model.decoder.layers.${l}`;
    h = postNorm(w, `${p}.self_attn_layer_norm`, h, attentionRef(w, `${p}.self_attn`, h, h, true));
    h = postNorm(w, `${p}.encoder_attn_layer_norm`, h, attentionRef(w, `${p}.encoder_attn`, h, e, false));
    h = postNorm(w, `${p}.final_layer_norm`, h, mlpRef(w, f, p, h));
  }
  return linearRef(h, get(w, 'model.shared.weight'), get(w, 'final_logits_bias')[0]);
}

// ---- the checks ------------------------------------------------------------------------------------------------

describe('BART and Marian against our float64 reference (tiny random checkpoints)', () => {
  let rt: Runtime;
  let tmp: string;
  beforeAll(async () => {
    rt = await Runtime.create();
    tmp = await mkdtemp(join(tmpdir(), 'weft-bart-'));
  });
  afterAll(async () => {
    rt.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  for (const [n, f] of FAMILIES.entries()) {
    it(`${f.modelType}: decoder logits within 2e-5, all at once and through the KV cache; greedy ids as the reference's`, async () => {
      const dir = join(tmp, f.modelType);
      await import('node:fs/promises').then((fs) => fs.mkdir(dir));
      const weights = makeWeights(f, 1234 + n);
      await writeCheckpoint(dir, f, weights);
      const lm = (await loadAny(dir, { runtime: rt })) as LoadedModel<Seq2SeqLM>;
      const { model } = lm;
      try {
        const encoderIds = [0, 17, 5, 33, 8, 21, 2];
        const start = model.config.decoderStartTokenId;
        const decoderIds = [start, 11, 4, 30, 9];
        const want = forwardRef(weights, f, encoderIds, decoderIds);
        model.encode(encoderIds);
        const all = model.forward(decoderIds, { all: true });
        let worst = 0;
        want.flat().forEach((v, i) => (worst = Math.max(worst, Math.abs(all[i] - v))));
        expect(worst).toBeLessThan(2e-5);
        model.reset();
        decoderIds.forEach((id, t) => {
          const row = model.forward([id]);
          want[t].forEach((v, j) => expect(Math.abs(row[j] - v)).toBeLessThan(2e-5));
        });
        // greedy: 5 steps, each the reference's argmax over its full recomputation
        const ids: number[] = [];
        for (let s = 0; s < 5; s++) {
          const logits = forwardRef(weights, f, encoderIds, [start, ...ids]).at(-1)!;
          const sorted = [...logits].sort((a, b) => b - a);
          expect(sorted[0] - sorted[1]).toBeGreaterThan(1e-4); // a clear winner, or the comparison means little
          ids.push(logits.indexOf(sorted[0]));
        }
        const r = await generate(lm as LanguageModel, encoderIds, { temperature: 0, max_new_tokens: 5, eos_token_id: [] });
        expect(r.ids).toEqual(ids);
      } finally {
        model.dispose();
      }
    });
  }

  it('sinusoidal table: column j < dim/2 is sin(pos / 10000^(2j/dim)), column dim/2 + j its cosine', () => {
    const t = sinusoidalTable(5, 6);
    expect(t[3 * 6 + 1]).toBeCloseTo(Math.sin(3 / 10000 ** (2 / 6)), 6);
    expect(t[3 * 6 + 3 + 1]).toBeCloseTo(Math.cos(3 / 10000 ** (2 / 6)), 6);
    expect(t[0 * 6 + 3]).toBe(1);
  });

  it('a config without decoder_start_token_id or bos_token_id is a clear E_MISSING error', async () => {
    const dir = join(tmp, 'no-start');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    const f = FAMILIES[0];
    await writeCheckpoint(dir, f, makeWeights(f, 7));
    const config = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(join(dir, 'config.json'), 'utf8')));
    delete config.decoder_start_token_id;
    delete config.bos_token_id;
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    await expect(loadAny(dir, { runtime: rt })).rejects.toThrow(/decoder_start_token_id/);
  });
});
