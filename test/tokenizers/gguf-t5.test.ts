import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { bytesSource } from '../../src/formats/source.js';
import { readGguf } from '../../src/formats/gguf.js';
import { tokenizerFromGguf } from '../../src/tokenizers/index.js';
import { dataPath, describeData } from '../helpers/data.js';
import { readJson, readJsonl } from './helpers/corpus.js';
import { writeGguf } from './helpers/gguf-writer.js';

// No GGUF `t5` (Unigram) vocabulary ships, so one is built from legal_t5's tokenizer.json (its pieces, scores and
// precompiled charsmap) and llama.cpp itself (node-llama-cpp 3.21.1, vocab-only) is the reference on the same file.
function buildT5Gguf(): Uint8Array {
  const json = readJson<{ model: { vocab: Array<[string, number]> }; normalizer: { normalizers: Array<{ precompiled_charsmap: string }> } }>(
    dataPath('tokenizers/legal_t5_small_trans_fr_en/tokenizer.json'),
  );
  const pieces = json.model.vocab;
  // SentencePiece types: <pad>, </s> and the <extra_id_N> sentinels are control (3), <unk> unknown (2), the rest normal.
  const types = pieces.map(([piece], i) => (i === 2 ? 2 : i < 2 || piece.startsWith('<extra_id_') ? 3 : 1));
  const u32 = (value: number) => ({ type: 'u32' as const, value });
  return writeGguf([
    ['general.architecture', { type: 'string', value: 't5' }],
    // Hyper-parameters llama.cpp requires before it reads a t5 vocabulary (values of t5-small; no tensors follow).
    ['t5.context_length', u32(512)],
    ['t5.embedding_length', u32(512)],
    ['t5.feed_forward_length', u32(2048)],
    ['t5.block_count', u32(6)],
    ['t5.attention.head_count', u32(8)],
    ['t5.attention.key_length', u32(64)],
    ['t5.attention.value_length', u32(64)],
    ['t5.attention.layer_norm_epsilon', { type: 'f32', value: 1e-6 }],
    ['t5.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-6 }],
    ['t5.attention.relative_buckets_count', u32(32)],
    ['t5.decoder_start_token_id', u32(0)],
    ['tokenizer.ggml.model', { type: 'string', value: 't5' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: pieces.map((p) => p[0]) }],
    ['tokenizer.ggml.scores', { type: 'f32[]', value: pieces.map((p) => p[1]) }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: types }],
    ['tokenizer.ggml.precompiled_charsmap', { type: 'u8[]', value: Buffer.from(json.normalizer.normalizers[0]!.precompiled_charsmap, 'base64') }],
    ['tokenizer.ggml.add_space_prefix', { type: 'bool', value: true }],
    ['tokenizer.ggml.remove_extra_whitespaces', { type: 'bool', value: true }],
    ['tokenizer.ggml.eos_token_id', u32(1)],
    ['tokenizer.ggml.unknown_token_id', u32(2)],
    ['tokenizer.ggml.padding_token_id', u32(0)],
  ]);
}

const dir = mkdtempSync(join(tmpdir(), 'weft-t5-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeData('GGUF t5 (Unigram) vocabulary vs llama.cpp', () => {
  it('all 186 corpus strings, with and without special-token parsing', { timeout: 120_000 }, async () => {
    const bytes = buildT5Gguf();
    const path = join(dir, 'legal-t5-vocab.gguf');
    writeFileSync(path, bytes);
    const weft = await tokenizerFromGguf(await readGguf(bytesSource(bytes, 'legal-t5-vocab.gguf')));

    const { getLlama } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
    const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    try {
      const corpus = readJsonl<{ id: number; text: string }>(dataPath('tokenizers/corpus.jsonl'));
      for (const { id, text } of corpus) {
        const label = `corpus #${id} ${JSON.stringify(text.slice(0, 40))}`;
        expect(weft.encode(text, { add_special_tokens: false, split_special: true }), label).toEqual(Array.from(model.tokenize(text, false)));
        expect(weft.encode(text, { add_special_tokens: false }), label).toEqual(Array.from(model.tokenize(text, true)));
      }
      expect(weft.encode('Hello')).toEqual([...Array.from(model.tokenize('Hello', false)), 1]); // add_eos_token: `$A </s>`
    } finally {
      await model.dispose();
    }
  });
});
