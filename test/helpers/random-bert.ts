/**
 * Small random BERT folders for end-to-end tests: the tensor list of bench/make-random-model.ts's `bertSpec` at a
 * small size, seeded values (std ~0.1, so layers mix tokens visibly), optional classifier head, written with a
 * tokenizer.json and, optionally, a sentence-transformers layout (modules.json, 1_Pooling, Normalize).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bertSpec } from '../../bench/make-random-model.js';
import { Rng } from '../../src/generation/sampling.js';
import { joinSafetensors } from '../formats/make.js';

export interface RandomBertOptions {
  vocab: number;
  tokenizerJson: string | null;
  head?: { kind: 'sequence' | 'token'; labels: string[]; problemType?: string };
  sentenceTransformers?: { pooling: 'mean' | 'cls' | 'max'; normalize: boolean };
  positions?: number;
}

export function writeRandomBert(dir: string, o: RandomBertOptions): void {
  mkdirSync(dir, { recursive: true });
  const spec = bertSpec({ name: 'test-bert', d: 32, layers: 2, heads: 4, ffn: 64, vocab: o.vocab, positions: o.positions ?? 64 });
  const tensors = spec.tensors.map((t) => ({ name: t.name, shape: t.shape, init: t.init }));
  const config: Record<string, unknown> = { ...spec.config };
  if (o.head) {
    const n = o.head.labels.length;
    tensors.push({ name: 'classifier.weight', shape: [n, 32], init: 'random' }, { name: 'classifier.bias', shape: [n], init: 'random' });
    config.architectures = [o.head.kind === 'sequence' ? 'BertForSequenceClassification' : 'BertForTokenClassification'];
    config.id2label = Object.fromEntries(o.head.labels.map((l, i) => [String(i), l]));
    if (o.head.problemType) config.problem_type = o.head.problemType;
  }
  // The task models prefix the encoder's keys with "bert."; the bare model does not.
  const prefix = o.head ? 'bert.' : '';
  const rng = new Rng(11);
  const header: Record<string, unknown> = {};
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = t.init === 'ones' ? 1 + (rng.nextFloat() - 0.5) * 0.2 : (rng.nextFloat() - 0.5) * 0.35;
    const name = t.name.startsWith('classifier') ? t.name : prefix + t.name;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
    chunks.push(values);
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    data.set(new Uint8Array(c.buffer), at);
    at += c.byteLength;
  }
  writeFileSync(join(dir, 'model.safetensors'), joinSafetensors(header, data));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  if (o.tokenizerJson) copyFileSync(o.tokenizerJson, join(dir, 'tokenizer.json'));
  const st = o.sentenceTransformers;
  if (st) {
    const modules = [
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      ...(st.normalize ? [{ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' }] : []),
    ];
    writeFileSync(join(dir, 'modules.json'), JSON.stringify(modules));
    mkdirSync(join(dir, '1_Pooling'), { recursive: true });
    writeFileSync(
      join(dir, '1_Pooling', 'config.json'),
      JSON.stringify({ word_embedding_dimension: 32, pooling_mode_cls_token: st.pooling === 'cls', pooling_mode_mean_tokens: st.pooling === 'mean', pooling_mode_max_tokens: st.pooling === 'max', pooling_mode_mean_sqrt_len_tokens: false }),
    );
  }
}
