/**
 * The other encoder layouts, checked by rewriting bert-a's weights (../shared/data/ref-models) into them: each
 * file holds the same network under another naming, so each must reproduce bert-a's float64 reference.
 *   - GGUF `bert` (llama.cpp's names and metadata; its converter drops the pooler),
 *   - RoBERTa (positions counted from padding_idx + 1: the table gets padding_idx + 1 rows in front),
 *   - DistilBERT (no token types: token type 0's row is folded into the word table, so only the texts whose token
 *     types are all 0 are compared).
 * And the classification math on bert-b's reference logits.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadEncoder } from '../../src/models/load.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { classify, type Classification } from '../../src/tasks/classify.js';
import { embed } from '../../src/tasks/embed.js';
import { joinSafetensors, splitSafetensors } from '../formats/make.js';
import { dataPath, describeData } from '../helpers/data.js';
import { writeGguf } from '../tokenizers/helpers/gguf-writer.js';
import { readJson } from './helpers.js';

interface BertExpected {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  last_hidden_state: number[][][];
  mean_pooled_l2_normalized: number[][];
  classifier_logits?: number[][];
}

// As for bert-a itself (encoder.test.ts): f32 against float64, ≤ 1.3e-6 measured by the reference's authors.
const HIDDEN_TOLERANCE = 5e-5;
const EMBEDDING_TOLERANCE = 1e-5;

describeData('encoder layouts rebuilt from bert-a', () => {
  let rt: Runtime;
  let tmp: string;
  let tensors: Map<string, { shape: number[]; data: Float32Array }>;
  let expected: BertExpected;
  const unpadded = (b: number) => expected.input_ids[b].filter((_, t) => expected.attention_mask[b][t] === 1);
  const bertConfig = () => JSON.parse(readFileSync(dataPath('ref-models/bert-a/config.json'), 'utf8')) as Record<string, unknown>;

  beforeAll(async () => {
    rt = await Runtime.create();
    tmp = mkdtempSync(join(tmpdir(), 'weft-encoder-families-'));
    expected = readJson<BertExpected>(dataPath('ref-models/bert-a/expected_outputs.json'));
    const { header, data } = splitSafetensors(readFileSync(dataPath('ref-models/bert-a/model.safetensors')));
    tensors = new Map();
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const { shape, data_offsets: [from, to] } = info as { shape: number[]; data_offsets: [number, number] };
      tensors.set(name, { shape, data: new Float32Array(new Uint8Array(data.subarray(from, to)).buffer) }); // a copy: aligned, its own buffer
    }
  });
  afterAll(() => {
    rt.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  const get = (name: string) => tensors.get(name)!;
  const writeFolder = (name: string, config: Record<string, unknown>, entries: Array<[string, { shape: number[]; data: Float32Array }]>) => {
    const dir = join(tmp, name);
    mkdirSync(dir);
    const header: Record<string, unknown> = {};
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const [key, t] of entries) {
      header[key] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
      parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      offset += t.data.byteLength;
    }
    const data = new Uint8Array(offset);
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    writeFileSync(join(dir, 'model.safetensors'), joinSafetensors(header, data));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  };
  /** Hidden states of the texts `which` (unpadded, one batch) against the reference's non-padding rows. */
  const checkHidden = async (path: string, which: number[], withTypes: boolean) => {
    const lm = await loadEncoder(path, { runtime: rt });
    try {
      const ids = which.map(unpadded);
      const tokenTypes = withTypes ? which.map((b) => expected.token_type_ids[b].slice(0, ids[which.indexOf(b)].length)) : undefined;
      const states = await embed(lm, { ids, tokenTypes }, { pooling: 'none' });
      let worst = 0;
      which.forEach((b, k) => states[k].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - expected.last_hidden_state[b][Math.floor(i / 64)][i % 64])))));
      return { worst, lm };
    } catch (e) {
      lm.model.dispose();
      throw e;
    }
  };

  it('GGUF bert (llama.cpp naming): hidden states, and its pooling_type mean + normalised embeddings by default', async () => {
    const layer = (i: number, from: string, to: string) => [`blk.${i}.${to}`, `encoder.layer.${i}.${from}`];
    const names: string[][] = [
      ['token_embd.weight', 'embeddings.word_embeddings.weight'],
      ['position_embd.weight', 'embeddings.position_embeddings.weight'],
      ['token_types.weight', 'embeddings.token_type_embeddings.weight'],
      ['token_embd_norm.weight', 'embeddings.LayerNorm.weight'],
      ['token_embd_norm.bias', 'embeddings.LayerNorm.bias'],
    ];
    for (let i = 0; i < 2; i++) {
      for (const [to, from] of [['attn_q', 'attention.self.query'], ['attn_k', 'attention.self.key'], ['attn_v', 'attention.self.value'], ['attn_output', 'attention.output.dense'], ['attn_output_norm', 'attention.output.LayerNorm'], ['ffn_up', 'intermediate.dense'], ['ffn_down', 'output.dense'], ['layer_output_norm', 'output.LayerNorm']]) {
        for (const part of ['weight', 'bias']) names.push(layer(i, `${from}.${part}`, `${to}.${part}`));
      }
    }
    const path = join(tmp, 'bert-a.gguf');
    writeFileSync(
      path,
      writeGguf(
        [
          ['general.architecture', { type: 'string', value: 'bert' }],
          ['bert.block_count', { type: 'u32', value: 2 }],
          ['bert.context_length', { type: 'u32', value: 64 }],
          ['bert.embedding_length', { type: 'u32', value: 64 }],
          ['bert.feed_forward_length', { type: 'u32', value: 128 }],
          ['bert.attention.head_count', { type: 'u32', value: 4 }],
          ['bert.attention.layer_norm_epsilon', { type: 'f32', value: 1e-12 }],
          ['bert.pooling_type', { type: 'u32', value: 1 }],
        ],
        names.map(([to, from]) => ({ name: to, ...get(from) })),
      ),
    );
    const { worst, lm } = await checkHidden(path, [0, 1, 2], true);
    try {
      expect(worst).toBeLessThan(HIDDEN_TOLERANCE);
      expect(lm.model.hasPooler).toBe(false);
      const vectors = await embed(lm, { ids: [0, 1, 2].map(unpadded), tokenTypes: [0, 1, 2].map((b) => expected.token_type_ids[b].slice(0, unpadded(b).length)) });
      vectors.forEach((v, b) => v.forEach((x, i) => expect(Math.abs(x - expected.mean_pooled_l2_normalized[b][i])).toBeLessThan(EMBEDDING_TOLERANCE)));
    } finally {
      lm.model.dispose();
    }
  });

  it('RoBERTa: positions from padding_idx + 1, bare and roberta.-prefixed keys', async () => {
    const pad = 1;
    const positions = get('embeddings.position_embeddings.weight');
    const shifted = new Float32Array(positions.data.length + (pad + 1) * 64);
    shifted.set(positions.data, (pad + 1) * 64); // rows 0..pad are never read by non-padding tokens
    for (const prefix of ['', 'roberta.']) {
      const entries = [...tensors].filter(([n]) => !n.startsWith('pooler')).map(([n, t]): [string, { shape: number[]; data: Float32Array }] => [prefix + n, n === 'embeddings.position_embeddings.weight' ? { shape: [66, 64], data: shifted } : t]);
      const config = { ...bertConfig(), model_type: 'roberta', architectures: ['RobertaModel'], pad_token_id: pad, max_position_embeddings: 66 };
      const { worst, lm } = await checkHidden(writeFolder(`roberta${prefix}`, config, entries), [0, 1, 2], true);
      lm.model.dispose();
      expect(worst).toBeLessThan(HIDDEN_TOLERANCE);
      expect(lm.model.config.maxPositions).toBe(64);
    }
  });

  it('DistilBERT: its own names, no token types', async () => {
    const word = get('embeddings.word_embeddings.weight');
    const type0 = get('embeddings.token_type_embeddings.weight').data.subarray(0, 64);
    const folded = word.data.map((v, i) => v + type0[i % 64]);
    const entries: Array<[string, { shape: number[]; data: Float32Array }]> = [
      ['distilbert.embeddings.word_embeddings.weight', { shape: word.shape, data: folded }],
      ['distilbert.embeddings.position_embeddings.weight', get('embeddings.position_embeddings.weight')],
      ['distilbert.embeddings.LayerNorm.weight', get('embeddings.LayerNorm.weight')],
      ['distilbert.embeddings.LayerNorm.bias', get('embeddings.LayerNorm.bias')],
    ];
    for (let i = 0; i < 2; i++) {
      for (const [to, from] of [['attention.q_lin', 'attention.self.query'], ['attention.k_lin', 'attention.self.key'], ['attention.v_lin', 'attention.self.value'], ['attention.out_lin', 'attention.output.dense'], ['sa_layer_norm', 'attention.output.LayerNorm'], ['ffn.lin1', 'intermediate.dense'], ['ffn.lin2', 'output.dense'], ['output_layer_norm', 'output.LayerNorm']]) {
        for (const part of ['weight', 'bias']) entries.push([`distilbert.transformer.layer.${i}.${to}.${part}`, get(`encoder.layer.${i}.${from}.${part}`)]);
      }
    }
    const config = { model_type: 'distilbert', architectures: ['DistilBertModel'], vocab_size: 300, dim: 64, n_layers: 2, n_heads: 4, hidden_dim: 128, activation: 'gelu', max_position_embeddings: 64, pad_token_id: 0 };
    const { worst, lm } = await checkHidden(writeFolder('distilbert', config, entries), [0, 2], false);
    lm.model.dispose();
    expect(worst).toBeLessThan(HIDDEN_TOLERANCE);
  });

  it('classify on bert-b: softmax of the reference classifier logits, labels from id2label; multi-label uses sigmoid', async () => {
    const b = readJson<BertExpected>(dataPath('ref-models/bert-b/expected_outputs.json'));
    const ids = b.input_ids.map((row, k) => row.filter((_, t) => b.attention_mask[k][t] === 1));
    const tokenTypes = b.token_type_ids.map((row, k) => row.slice(0, ids[k].length));
    const lm = await loadEncoder(dataPath('ref-models/bert-b'), { runtime: rt });
    try {
      const results = (await classify(lm, { ids, tokenTypes })) as Classification[];
      results.forEach((r, k) => {
        const [l0, l1] = b.classifier_logits![k];
        const p1 = 1 / (1 + Math.exp(l0 - l1));
        const score = (label: string) => r.scores.find((s) => s.label === label)!.score;
        expect(Math.abs(score('LABEL_1') - p1)).toBeLessThan(1e-5);
        expect(Math.abs(score('LABEL_0') - (1 - p1))).toBeLessThan(1e-5);
        expect(r.label).toBe(p1 > 0.5 ? 'LABEL_1' : 'LABEL_0');
      });
    } finally {
      lm.model.dispose();
    }
    // The same weights read as a multi-label head: independent sigmoids.
    const config = { ...JSON.parse(readFileSync(dataPath('ref-models/bert-b/config.json'), 'utf8')), problem_type: 'multi_label_classification' };
    const dir = join(tmp, 'bert-b-multi');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'model.safetensors'), readFileSync(dataPath('ref-models/bert-b/model.safetensors')));
    const multi = await loadEncoder(dir, { runtime: rt });
    try {
      const results = (await classify(multi, { ids, tokenTypes })) as Classification[];
      results.forEach((r, k) => {
        const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
        expect(Math.abs(r.scores.find((s) => s.label === 'LABEL_0')!.score - sigmoid(b.classifier_logits![k][0]))).toBeLessThan(1e-5);
        expect(Math.abs(r.scores.find((s) => s.label === 'LABEL_1')!.score - sigmoid(b.classifier_logits![k][1]))).toBeLessThan(1e-5);
      });
    } finally {
      multi.model.dispose();
    }
  });
});
