import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WeftError } from '../../src/errors.js';
import { bytesSource } from '../../src/formats/source.js';
import { readGguf } from '../../src/formats/gguf.js';
import { loadTokenizer, tokenizerFromGguf, tokenizerFromJson, tokenizerFromLlama2c } from '../../src/tokenizers/index.js';
import { dataPath, describeData } from '../helpers/data.js';
import { readJson } from './helpers/corpus.js';

describeData('llama2.c tok512.bin (stories260K)', () => {
  it('encodes with BOS and the dummy prefix, decodes like run.c', async () => {
    const tokenizer = await loadTokenizer(dataPath('llama2c-stories260k/tok512.bin'));
    expect(tokenizer.vocabSize).toBe(512);
    expect(tokenizer.bosTokenId).toBe(1);
    expect(tokenizer.eosTokenIds).toEqual([2]);
    const ids = tokenizer.encode('Once upon a time');
    expect(ids[0]).toBe(1);
    expect(tokenizer.idToToken(ids[1]!)!.startsWith(' ')).toBe(true); // the dummy-prefix space is merged in
    expect(tokenizer.encode('', { add_special_tokens: true })).toEqual([1]); // run.c: no dummy prefix for ""
    // run.c strips the space after BOS; byte-fallback pieces are raw bytes (镇 is not in the 512-token vocabulary).
    expect(tokenizer.decode(tokenizer.encode('Once upon a 镇'), { skip_special_tokens: true })).toBe('Once upon a 镇');
    expect(tokenizer.encode('镇', { add_special_tokens: false }).map((id) => tokenizer.idToToken(id))).toEqual([' ', '<0xE9>', '<0x95>', '<0x87>']);
  });

  it('rejects a truncated file with an error naming the byte offset', () => {
    const bytes = new Uint8Array(readFileSync(dataPath('llama2c-stories260k/tok512.bin')));
    // Byte 28 is inside token 1 ("\n<s>\n", whose 8-byte header starts at byte 17 after the 13 bytes of <unk>).
    expect(() => tokenizerFromLlama2c(bytes.subarray(0, 28), 'tok512.bin')).toThrow(/tok512\.bin: token 1 at byte 17 has length 5/);
    expect(() => tokenizerFromLlama2c(bytes.subarray(0, 2), 'tok512.bin')).toThrow(/too short/);
  });
});

describeData('streaming decode', () => {
  it('never emits half of a character split across byte tokens, and the pieces add up to decode()', async () => {
    const tokenizer = await loadTokenizer(dataPath('llamacpp-vocab/ggml-vocab-llama-spm.gguf'));
    const text = 'Hi 🦙 and 镇 — ok';
    const ids = tokenizer.encode(text);
    expect(ids.some((id) => /^<0x/.test(tokenizer.idToToken(id)!))).toBe(true); // the emoji is byte-fallback pieces
    const stream = tokenizer.streamDetokenizer({ skip_special_tokens: true });
    const pieces = ids.map((id) => stream.push(id));
    pieces.push(stream.flush());
    for (const piece of pieces) expect(piece).not.toMatch(/\uFFFD/);
    expect(pieces.join('')).toBe(tokenizer.decode(ids, { skip_special_tokens: true }));
    expect(pieces.join('')).toBe(text);
  });

  it('byte-level BPE: an emoji split over tokens comes out whole', async () => {
    const tokenizer = await loadTokenizer(dataPath('tokenizers/gpt2/tokenizer.json'));
    const ids = tokenizer.encode(' 🦙🦙 x');
    const stream = tokenizer.streamDetokenizer();
    const pieces = ids.map((id) => stream.push(id));
    expect(pieces.filter((p) => p.length > 0).every((p) => !p.includes('\uFFFD'))).toBe(true);
    expect(pieces.join('') + stream.flush()).toBe(' 🦙🦙 x');
  });
});

describeData('batch encoding', () => {
  it('pads left or right with the pad id, masks the padding, truncates keeping special tokens', async () => {
    const tokenizer = await loadTokenizer(dataPath('tokenizers/all-MiniLM-L6-v2'));
    const texts = ['hello world', 'a much longer sentence than the first one'];
    const single = texts.map((t) => tokenizer.encode(t));
    const right = tokenizer.encodeBatch(texts);
    expect(right.input_ids[1]).toEqual(single[1]);
    expect(right.input_ids[0]).toEqual([...single[0]!, ...new Array(single[1]!.length - single[0]!.length).fill(0)]); // [PAD] = 0
    expect(right.attention_mask[0]).toEqual([...single[0]!.map(() => 1), ...new Array(single[1]!.length - single[0]!.length).fill(0)]);
    const left = tokenizer.encodeBatch(texts, { padding: 'left' });
    expect(left.input_ids[0]!.slice(-single[0]!.length)).toEqual(single[0]);
    expect(left.attention_mask[0]![0]).toBe(0);
    const cut = tokenizer.encodeBatch(texts, { truncation: true, max_length: 4, padding: false });
    expect(cut.input_ids[1]).toEqual([101, single[1]![1], single[1]![2], 102]); // [CLS] two tokens [SEP]
    expect(tokenizer.encodeBatch(texts, { padding: false }).input_ids).toEqual(single);
  });
});

describeData('bad input', () => {
  it('lone surrogates become U+FFFD, the empty string gives no tokens', async () => {
    const gpt2 = await loadTokenizer(dataPath('tokenizers/gpt2/tokenizer.json'));
    expect(gpt2.encode('a\uD800b')).toEqual(gpt2.encode('a\uFFFDb'));
    expect(gpt2.encode('\uDC00')).toEqual(gpt2.encode('\uFFFD'));
    expect(gpt2.encode('')).toEqual([]);
    const bert = await loadTokenizer(dataPath('tokenizers/all-MiniLM-L6-v2'));
    expect(bert.encode('')).toEqual([101, 102]);
    expect(bert.encode('x\uDBFFy', { add_special_tokens: false })).toEqual(bert.encode('x\uFFFDy', { add_special_tokens: false }));
  });

  it('1 MB strings finish (no quadratic merging on one long pre-token)', { timeout: 60_000 }, async () => {
    const gpt2 = await loadTokenizer(dataPath('tokenizers/gpt2/tokenizer.json'));
    const mixed = 'The quick brown fox jumps over the lazy dog. '.repeat(23_000); // ~1 MB of ordinary words
    expect(gpt2.decode(gpt2.encode(mixed))).toBe(mixed);
    const oneWord = 'ab'.repeat(500_000); // a single 1 MB pre-token: the merge heap keeps it O(n log n)
    expect(gpt2.decode(gpt2.encode(oneWord))).toBe(oneWord);
    const llama2c = await loadTokenizer(dataPath('llama2c-stories260k/tok512.bin')); // run.c merges the whole text at once
    const story = 'Once upon a time, there was a little girl. '.repeat(23_000);
    expect(llama2c.decode(llama2c.encode(story), { skip_special_tokens: true })).toBe(story);
  });

  it('a malformed tokenizer.json is a WeftError naming what is wrong', () => {
    const gpt2 = readJson<Record<string, unknown>>(dataPath('tokenizers/gpt2/tokenizer.json'));
    const broken = (patch: Record<string, unknown>) => () => tokenizerFromJson({ ...gpt2, ...patch });
    expect(broken({ model: undefined })).toThrow(/"model" entry is missing/);
    expect(broken({ model: { type: 'BPE', vocab: { a: 0 }, merges: ['a b'] } })).toThrow(/merge #0 "a b" uses a token missing/);
    expect(broken({ model: { type: 'Quantum' } })).toThrow(/model type "Quantum" is not supported/);
    expect(broken({ pre_tokenizer: { type: 'Split', pattern: { Regex: '(' }, behavior: 'Isolated' } })).toThrow(/regex "\(" is not supported/);
    expect(broken({ normalizer: { type: 'Replace', pattern: 5 } })).toThrow(/pattern must be/);
    expect(broken({ added_tokens: [{ id: 'x' }] })).toThrow(/added_tokens\[0\]/);
    expect(() => tokenizerFromJson(null as unknown as object)).toThrow(WeftError);
  });

  it('a truncated or vocabulary-less GGUF is a clear error', async () => {
    const bytes = new Uint8Array(readFileSync(dataPath('llamacpp-vocab/ggml-vocab-gpt-2.gguf')));
    await expect(readGguf(bytesSource(bytes.subarray(0, bytes.length >> 1), 'half.gguf'))).rejects.toThrow(/half\.gguf: .*byte offset/);
    const model = await readGguf(bytesSource(new Uint8Array(readFileSync(dataPath('llama2c-stories260k/stories260K.gguf'))), 'stories260K.gguf'));
    model.metadata.delete('tokenizer.ggml.model');
    expect(() => tokenizerFromGguf(model)).toThrow(/stories260K\.gguf: no tokenizer\.ggml\.model/);
    model.metadata.set('tokenizer.ggml.model', 'rwkv');
    expect(() => tokenizerFromGguf(model)).toThrow(/"rwkv" is not supported/);
  });
});

describe('split_special (llama.cpp parse_special=false)', () => {
  it('keeps special tokens in the text as text', () => {
    const json = {
      model: { type: 'BPE', vocab: { '<': 0, s: 1, '>': 2, '<s>': 3 }, merges: [] },
      added_tokens: [{ id: 3, content: '<s>', special: true, normalized: false }],
    };
    const tokenizer = tokenizerFromJson(json);
    expect(tokenizer.encode('<s>')).toEqual([3]);
    expect(tokenizer.encode('<s>', { split_special: true })).toEqual([0, 1, 2]);
    expect(tokenizer.decode([3, 0], { skip_special_tokens: true })).toBe('<');
  });
});
