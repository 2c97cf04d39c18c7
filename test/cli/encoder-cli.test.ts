/**
 * `weft embed` and `weft classify` end to end, as a user runs them (a child process): the bert-a reference through
 * --ids, and bert-shaped models driven through the all-MiniLM-L6-v2 WordPiece tokenizer, checked against the ids of
 * Hugging Face's Rust tokenizers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SPAWN_TIMEOUT, weft } from '../helpers/cli.js';
import { dataPath, describeData } from '../helpers/data.js';
import { writeRandomBert } from '../helpers/random-bert.js';

const maxDiff = (a: number[], b: number[]) => {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i])));
};

describeData('weft embed / classify', () => {
  const MINILM = dataPath('tokenizers/all-MiniLM-L6-v2/tokenizer.json');
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'weft-encoder-cli-'));
    writeRandomBert(join(tmp, 'st'), { vocab: 30522, tokenizerJson: MINILM, sentenceTransformers: { pooling: 'mean', normalize: true } });
    writeRandomBert(join(tmp, 'seq'), { vocab: 30522, tokenizerJson: MINILM, head: { kind: 'sequence', labels: ['negative', 'positive'] } });
    writeRandomBert(join(tmp, 'ner'), { vocab: 30522, tokenizerJson: MINILM, head: { kind: 'token', labels: ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'] } });
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('--ids on bert-a: mean-pooled, normalised vectors equal the float64 reference within 1e-5; --pooling none has no padding rows', async () => {
    const expected = (await import(dataPath('ref-models/bert-a/expected_outputs.json'), { with: { type: 'json' } })).default as {
      input_ids: number[][];
      attention_mask: number[][];
      token_type_ids: number[][];
      mean_pooled_l2_normalized: number[][];
      last_hidden_state: number[][][];
    };
    const unpadded = (rows: number[][]) => rows.map((row, b) => row.filter((_, t) => expected.attention_mask[b][t] === 1).join(',')).join(';');
    const args = ['embed', '--model', dataPath('ref-models/bert-a'), '--ids', unpadded(expected.input_ids), '--token-type-ids', unpadded(expected.token_type_ids), '--json'];
    const r = await weft([...args, '--pooling', 'mean', '--normalize']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { embeddings } = JSON.parse(r.stdout) as { embeddings: number[][] };
    expect(embeddings).toHaveLength(3);
    embeddings.forEach((v, b) => expect(maxDiff(v, expected.mean_pooled_l2_normalized[b])).toBeLessThan(1e-5));

    const none = JSON.parse((await weft([...args, '--pooling', 'none'])).stdout) as { embeddings: number[][][] };
    expect(none.embeddings.map((e) => e.length)).toEqual([5, 12, 9]);
    none.embeddings.forEach((rows, b) => rows.forEach((row, t) => expect(maxDiff(row, expected.last_hidden_state[b][t])).toBeLessThan(5e-5)));
  }, SPAWN_TIMEOUT);

  it('texts through the all-MiniLM-L6-v2 tokenizer give the vectors of the ids Hugging Face tokenizers makes; sentence-transformers pooling and Normalize apply', async () => {
    const texts = ['Hello world!', 'The quick brown fox jumps over the lazy dog, twice.', 'naïve café'];
    const hf = HfTokenizer.fromFile(MINILM);
    const ids = await Promise.all(texts.map(async (t) => (await hf.encode(t)).getIds()));
    const byText = await weft(['embed', '--model', join(tmp, 'st'), '--json', ...texts]);
    expect(byText.stderr).toBe('');
    const byIds = await weft(['embed', '--model', join(tmp, 'st'), '--json', '--ids', ids.map((row) => row.join(',')).join(';')]);
    const a = (JSON.parse(byText.stdout) as { embeddings: number[][] }).embeddings;
    const b = (JSON.parse(byIds.stdout) as { embeddings: number[][] }).embeddings;
    expect(a).toHaveLength(3);
    a.forEach((v, i) => {
      expect(maxDiff(v, b[i])).toBe(0);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5); // the folder's Normalize module
    });
    // Plain output: one line of 32 numbers per text.
    const plain = await weft(['embed', '--model', join(tmp, 'st'), 'one', 'two']);
    expect(plain.stdout.trim().split('\n').map((l) => l.split(' ').length)).toEqual([32, 32]);
  }, SPAWN_TIMEOUT);

  it('a text past the model\'s 64 positions is cut with a warning, or an E_CONTEXT error with --no-truncation; empty input is an error', async () => {
    const long = Array.from({ length: 100 }, (_, i) => `word${i}`).join(' ');
    const cut = await weft(['embed', '--model', join(tmp, 'st'), '--json', 'short text', long]);
    expect(cut.code).toBe(0);
    expect(cut.stderr).toMatch(/warning: text 1 has \d+ tokens; cut to the model's 64/);
    expect((JSON.parse(cut.stdout) as { embeddings: number[][] }).embeddings).toHaveLength(2);
    const refused = await weft(['embed', '--model', join(tmp, 'st'), '--no-truncation', 'short text', long]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/weft: text 1 has \d+ tokens, past this model's 64 positions/);
    const empty = await weft(['embed', '--model', join(tmp, 'st')]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/give at least one TEXT, or --ids/);
    // The empty string still has [CLS] [SEP]: a vector like any other.
    const emptyString = await weft(['embed', '--model', join(tmp, 'st'), '--json', '']);
    expect(emptyString.code).toBe(0);
    expect((JSON.parse(emptyString.stdout) as { embeddings: number[][] }).embeddings[0]).toHaveLength(32);
    const badPooling = await weft(['embed', '--model', join(tmp, 'st'), '--pooling', 'avg', 'x']);
    expect(badPooling.stderr).toMatch(/--pooling must be mean, cls, max, pooler or none/);
  }, SPAWN_TIMEOUT);

  it('classify: sequence head labels with softmax scores; token head entities whose offsets slice the text', async () => {
    const seq = await weft(['classify', '--model', join(tmp, 'seq'), '--json', 'I loved it', 'I hated it']);
    expect(seq.stderr).toBe('');
    const results = (JSON.parse(seq.stdout) as { results: Array<{ label: string; score: number; scores: Array<{ label: string; score: number }> }> }).results;
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(['negative', 'positive']).toContain(r.label);
      expect(r.scores.reduce((s, x) => s + x.score, 0)).toBeCloseTo(1, 6);
      expect(r.score).toBe(r.scores[0].score);
    }
    const text = 'Angela Merkel visited Paris and Zürich yesterday';
    const ner = await weft(['classify', '--model', join(tmp, 'ner'), '--json', text]);
    expect(ner.code).toBe(0);
    const [entities] = (JSON.parse(ner.stdout) as { results: Array<Array<{ entity: string; start: number; end: number; text: string }>> }).results;
    expect(entities.length).toBeGreaterThan(0); // seeded weights: the same labels every run
    for (const e of entities) {
      expect(['PER', 'LOC']).toContain(e.entity);
      expect(text.slice(e.start, e.end)).toBe(e.text);
      expect(e.text.trim()).toBe(e.text);
    }
    const noHead = await weft(['classify', '--model', join(tmp, 'st'), 'x']);
    expect(noHead.code).toBe(1);
    expect(noHead.stderr).toMatch(/no classification head/);
  }, SPAWN_TIMEOUT);
});
