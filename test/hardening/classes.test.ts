/**
 * Regression tests for the classes of bad input a fuzzer found (issue 16): each used to hang, end in a
 * JavaScript-internal error, or be accepted and give a wrong result. Each case here names its class; every check
 * asserts a WeftError with the code and the words that say what is wrong, and that nothing hangs (vitest's
 * per-test timeout is the bound).
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeftError } from '../../src/errors.js';
import { generate, chat } from '../../src/generation/generate.js';
import { loadModel } from '../../src/models/load.js';
import type { LoadedModel } from '../../src/models/model.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { loadTokenizer, tokenizerFromJson, tokenizerFromLlama2c } from '../../src/tokenizers/index.js';
import { renderChatTemplate } from '../../src/tokenizers/chat-template.js';
import { expectWeftError } from '../formats/expect-error.js';
import { FakeLM, fakeLM } from '../generation/fakes.js';
import { dataPath, describeData } from '../helpers/data.js';

function expectThrowsWeft(fn: () => unknown, code: string, ...patterns: RegExp[]): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a WeftError').toBeInstanceOf(WeftError);
  expect((error as WeftError).code, (error as Error).message).toBe(code);
  for (const p of patterns) expect((error as Error).message).toMatch(p);
}

/** A small valid tokenizer.json: byte-level BPE over a handful of tokens. */
function tinyTokenizerJson(): Record<string, any> {
  return {
    model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2, ' ': 3, '<s>': 4 }, merges: ['a b'] },
    added_tokens: [{ id: 4, content: '<s>', special: true }],
    pre_tokenizer: null,
    normalizer: null,
    decoder: null,
    post_processor: null,
  };
}

describe('tokenizer.json: hangs', () => {
  it('a Split pattern that matches the empty string, on text outside the BMP, finishes', () => {
    for (const pattern of ['', 'x*']) {
      const json = { ...tinyTokenizerJson(), pre_tokenizer: { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated' } };
      const t = tokenizerFromJson(json);
      expect(Array.isArray(t.encode('a🦙b😀😀a', { add_special_tokens: false }))).toBe(true);
    }
  });

  it('a Metaspace pre-tokenizer or decoder with an empty replacement is refused', () => {
    for (const where of ['pre_tokenizer', 'decoder']) {
      const json = { ...tinyTokenizerJson(), [where]: { type: 'Metaspace', replacement: '', prepend_scheme: 'always' } };
      expectThrowsWeft(() => tokenizerFromJson(json), 'E_TOKENIZER', /Metaspace: "replacement" must be one character/);
    }
  });

  it('a chat template with an unbounded loop stops with an error naming the template', () => {
    const t0 = performance.now();
    expectThrowsWeft(() => renderChatTemplate('{% for i in range(100000000) %}x{% endfor %}', [], {}, 'my.json: chat_template'), 'E_TOKENIZER', /my\.json: chat_template did not finish rendering within \d+ steps/);
    expectThrowsWeft(
      () => renderChatTemplate('{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}', [], {}),
      'E_TOKENIZER',
      /an unbounded loop/,
    );
    expect(performance.now() - t0).toBeLessThan(20_000); // bounded: it returns (the timing itself is not the check)
  });

  it('a 2-million-character prompt fails with E_CONTEXT before it is all tokenized', async () => {
    const t = tokenizerFromJson({ ...tinyTokenizerJson(), pre_tokenizer: { type: 'WhitespaceSplit' } });
    const lm = fakeLM(new FakeLM(() => 0, { vocabSize: 5, contextLength: 64 }), t as never);
    await expectWeftError(generate(lm, 'ab '.repeat(700_000), { max_new_tokens: 1 }), 'E_CONTEXT', /more than 64 tokens/);
  });
});

describe('tokenizer.json: internal errors become WeftErrors', () => {
  it('deeply nested Sequences (normalizer, pre-tokenizer, decoder) are refused', () => {
    const nest = (key: string, list: string, depth: number): unknown => {
      let v: unknown = null;
      for (let i = 0; i < depth; i++) v = { type: 'Sequence', [list]: v === null ? [] : [v] };
      return { key, v };
    };
    for (const [key, list] of [['normalizer', 'normalizers'], ['pre_tokenizer', 'pretokenizers'], ['decoder', 'decoders']] as const) {
      const json = { ...tinyTokenizerJson(), [key]: (nest(key, list, 100_000) as { v: unknown }).v };
      expectThrowsWeft(() => tokenizerFromJson(json), 'E_TOKENIZER', /nested more than 64 levels/);
    }
  });

  it('invalid base64 or invalid UTF-8 in precompiled_charsmap names the normalizer', () => {
    const bad64 = { ...tinyTokenizerJson(), normalizer: { type: 'Precompiled', precompiled_charsmap: '@@not base64@@' } };
    expectThrowsWeft(() => tokenizerFromJson(bad64, undefined, 'x.json'), 'E_TOKENIZER', /x\.json: normalizer\.Precompiled: precompiled_charsmap is not valid base64/);
    // trie of 0 bytes, then a blob holding an invalid UTF-8 byte
    const map = Uint8Array.from([0, 0, 0, 0, 0x61, 0xff, 0x00]);
    const badUtf8 = { ...tinyTokenizerJson(), normalizer: { type: 'Precompiled', precompiled_charsmap: btoa(String.fromCharCode(...map)) } };
    expectThrowsWeft(() => tokenizerFromJson(badUtf8), 'E_TOKENIZER', /invalid UTF-8 at byte 5/);
  });

  it('null entries in a post-processor template', () => {
    for (const single of [[null], [{ SpecialToken: null }], [{ Sequence: { id: 'A' } }, 7]]) {
      const json = { ...tinyTokenizerJson(), post_processor: { type: 'TemplateProcessing', single, special_tokens: {} } };
      expectThrowsWeft(() => tokenizerFromJson(json), 'E_TOKENIZER', /TemplateProcessing: single\[\d\]/);
    }
  });

  it('tokenizer.decode(null) and other misuse say what was expected', () => {
    const t = tokenizerFromJson(tinyTokenizerJson());
    expectThrowsWeft(() => t.decode(null as never), 'E_OPTION', /decode\(\) takes an array of integer token ids, got null/);
    expectThrowsWeft(() => t.decode([1.5]), 'E_OPTION', /decode\(\)/);
    expectThrowsWeft(() => t.encode(42 as never), 'E_OPTION', /encode\(\) takes a string/);
  });
});

describe('tokenizer.json: accepted and silently wrong, now refused', () => {
  it('ids that no model can have: negative, huge, 2^53 in the vocabulary, added tokens or post-processor', () => {
    for (const id of [-1, 2 ** 53, 1e9, 2.5]) {
      const vocab = { ...tinyTokenizerJson(), model: { ...tinyTokenizerJson().model, vocab: { a: 0, b: 1, ab: id, ' ': 3, '<s>': 4 } } };
      expectThrowsWeft(() => tokenizerFromJson(vocab), 'E_TOKENIZER', /vocab entry "ab" has id/);
      const added = { ...tinyTokenizerJson(), added_tokens: [{ id, content: '<x>', special: true }] };
      expectThrowsWeft(() => tokenizerFromJson(added), 'E_TOKENIZER', /added/);
      const post = {
        ...tinyTokenizerJson(),
        post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>' } }, { Sequence: { id: 'A' } }], special_tokens: { '<s>': { ids: [id] } } },
      };
      expect(() => tokenizerFromJson(post)).toThrow(WeftError);
    }
  });

  it('a Unigram vocabulary with NaN or infinite scores, or a bad unk_id', () => {
    const unigram = (vocab: unknown[], unk_id: unknown) => ({ ...tinyTokenizerJson(), model: { type: 'Unigram', vocab, unk_id } });
    const good: Array<[string, number]> = [['<unk>', 0], ['a', -1], ['b', -2]];
    expect(tokenizerFromJson(unigram(good, 0)).encode('ab', { add_special_tokens: false }).length).toBeGreaterThan(0);
    for (const score of [NaN, Infinity, -Infinity]) {
      expectThrowsWeft(() => tokenizerFromJson(unigram([...good, ['c', score]], 0)), 'E_TOKENIZER', /vocab\[3\] is not \[piece, finite score\]/);
    }
    for (const unk of ['0', 1.5, -1, 3]) {
      expectThrowsWeft(() => tokenizerFromJson(unigram(good, unk)), 'E_TOKENIZER', /unk_id .* is not an id of the vocabulary/);
    }
  });

  it('flags that are not booleans, and tokenizer_config.json fields of the wrong type', () => {
    const added = { ...tinyTokenizerJson(), added_tokens: [{ id: 4, content: '<s>', special: true, single_word: 'x'.repeat(100) }] };
    expectThrowsWeft(() => tokenizerFromJson(added), 'E_TOKENIZER', /added_tokens\[0\]\.single_word must be true or false/);
    const bpe = { ...tinyTokenizerJson(), model: { ...tinyTokenizerJson().model, byte_fallback: 1.5 } };
    expectThrowsWeft(() => tokenizerFromJson(bpe), 'E_TOKENIZER', /"byte_fallback" must be true or false/);
    for (const [key, value] of [['bos_token', 0], ['model_max_length', -1], ['model_max_length', 'a'], ['add_bos_token', 'yes'], ['chat_template', 7]] as const) {
      expectThrowsWeft(() => tokenizerFromJson(tinyTokenizerJson(), { [key]: value }, 'm/tokenizer.json'), 'E_TOKENIZER', new RegExp(`m/tokenizer_config\\.json: "${key}" should be`));
    }
  });

  it('invalid UTF-8 in tokenizer.json is refused, naming the byte offset', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-utf8-'));
    try {
      const text = JSON.stringify(tinyTokenizerJson());
      const bytes = new TextEncoder().encode(text);
      const at = text.indexOf('"ab"') + 1;
      bytes[at] = 0xc3; // a lead byte followed by 'b', not a continuation byte
      await writeFile(join(dir, 'tokenizer.json'), bytes);
      await expectWeftError(loadTokenizer(join(dir, 'tokenizer.json')), 'E_TOKENIZER', new RegExp(`tokenizer\\.json: invalid UTF-8 at byte ${at}\\b`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describeData('llama2.c tokenizer.bin shorter than the model vocabulary', () => {
  it('is read to exactly vocab_size tokens, as run.c does: fewer is an error', async () => {
    const bytes = new Uint8Array(await readFile(dataPath('llama2c-stories260k/tok512.bin')));
    expect(tokenizerFromLlama2c(bytes, 'tok512.bin', 512).vocabSize).toBe(512);
    expectThrowsWeft(() => tokenizerFromLlama2c(bytes, 'tok512.bin', 600), 'E_FORMAT', /tok512\.bin: truncated at byte \d+: token 512 of the model's 600 has no score\/length/);
  });
});

describe('generation requests', () => {
  const lm = fakeLM(new FakeLM((ids) => (ids.length % 3) + 2, { vocabSize: 8 }), null);

  it('API misuse is E_OPTION saying what was expected', async () => {
    await expectWeftError(generate(lm, {} as never), 'E_OPTION', /prompt must be a string or an array of token ids/);
    await expectWeftError(generate(lm, null as never), 'E_OPTION', /prompt must be/);
    await expectWeftError(generate(lm, 42 as never), 'E_OPTION', /prompt must be/);
    await expectWeftError(generate(lm, [1], null as never), 'E_OPTION', /options must be an object/);
    await expectWeftError(generate(lm, [1], 'x' as never), 'E_OPTION', /options must be an object/);
    await expectWeftError(generate({} as never, [1]), 'E_OPTION', /first argument must be what loadModel returns/);
    await expectWeftError(generate(lm, [1], { eos_token_id: 'a' as never }), 'E_OPTION', /eos_token_id must be a token id/);
    await expectWeftError(generate(lm, [1], { temperature: '0.5' as never }), 'E_OPTION', /option temperature must be a number/);
    await expectWeftError(chat(lm, 'hi' as never), 'E_OPTION', /messages must be an array/);
  });

  it('banning every id with logit_bias is an error, not id 0', async () => {
    const bias = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [i, -Infinity]));
    await expectWeftError(generate(lm, [1], { logit_bias: bias, max_new_tokens: 2 }), 'E_OPTION', /banned every token/);
    await expectWeftError(generate(lm, [1], { logit_bias: bias, max_new_tokens: 2, temperature: 0.7, seed: 1 }), 'E_OPTION', /banned every token/);
  });

  it('a bad value in generation_config.json names the file, not a caller option', async () => {
    const withConfig = fakeLM(new FakeLM(() => 2, { vocabSize: 8 }), null, { do_sample: true, temperature: -1 });
    await expectWeftError(generate(withConfig, [1], { max_new_tokens: 1 }), 'E_OPTION', /^generation_config\.json: field temperature must be a number ≥ 0/);
  });

  it('NaN logits stop generation with E_NUMERIC instead of emitting id 0 forever', async () => {
    const model = new FakeLM(() => 2, { vocabSize: 8 });
    const forward = model.forward.bind(model);
    model.forward = (ids: number[]) => forward(ids).map((v, i) => (i === 3 ? NaN : v));
    await expectWeftError(generate(fakeLM(model, null), [1], { max_new_tokens: 3 }), 'E_NUMERIC', /NaN logit \(token 3\) at generation step 0/);
  });
});

describeData('model files: impossible hyper-parameters and budgets', () => {
  let rt: Runtime;
  let tmp: string;
  beforeAll(async () => {
    rt = await Runtime.create();
    tmp = await mkdtemp(join(tmpdir(), 'weft-hyper-'));
  });
  afterAll(async () => {
    rt.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  async function withConfig(name: string, edit: (c: Record<string, unknown>) => void): Promise<string> {
    const dir = join(tmp, name);
    await mkdir(dir, { recursive: true });
    const config = JSON.parse(await readFile(dataPath('ref-models/llama-a/config.json'), 'utf8')) as Record<string, unknown>;
    edit(config);
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    await copyFile(dataPath('ref-models/llama-a/model.safetensors'), join(dir, 'model.safetensors'));
    return dir;
  }

  /** The load fails as described and the runtime still loads and runs the good model. */
  async function expectRefused(dir: string, code: Parameters<typeof expectWeftError>[1], pattern: RegExp, options: Record<string, unknown> = {}): Promise<void> {
    const before = rt.heap.usedBytes;
    const memoryBefore = rt.memory.buffer.byteLength;
    await expectWeftError(loadModel(dir, { runtime: rt, ...options }), code, pattern);
    expect(rt.heap.usedBytes).toBe(before);
    expect(rt.memory.buffer.byteLength - memoryBefore).toBeLessThan(64 << 20); // no gigabytes grown on the way
    const good: LoadedModel = await loadModel(dataPath('ref-models/llama-a'), { runtime: rt });
    expect(good.model.forward([1, 2]).every(Number.isFinite)).toBe(true);
    good.model.dispose();
  }

  it('BOS/EOS ids outside the vocabulary', async () => {
    await expectRefused(await withConfig('eos-big', (c) => (c.eos_token_id = 2 ** 31)), 'E_FORMAT', /EOS token id 2147483648 is outside the vocabulary of 512/);
  });

  it('rope_theta 0 or negative, a negative norm epsilon', async () => {
    await expectRefused(await withConfig('theta0', (c) => (c.rope_theta = 0)), 'E_FORMAT', /"rope_theta" should be a number > 0, not 0/);
    await expectRefused(await withConfig('theta-', (c) => (c.rope_theta = -10000)), 'E_FORMAT', /"rope_theta" should be a number > 0/);
    await expectRefused(await withConfig('eps-', (c) => (c.rms_norm_eps = -1)), 'E_FORMAT', /"rms_norm_eps" should be a number ≥ 0/);
  });

  it('a huge context fails in arithmetic with E_MEMORY naming the sizes, before tables are built', async () => {
    const dir = await withConfig('huge-context', (c) => (c.max_position_embeddings = 100_000_000));
    const t0 = performance.now();
    await expectRefused(dir, 'E_MEMORY', /a context of 100000000 positions needs .*KV cache .*RoPE table .* but only .* are free/, { contextLength: 100_000_000 });
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('loadModel options that are not options', async () => {
    await expectWeftError(loadModel(dataPath('ref-models/llama-a'), { runtime: {} as never }), 'E_OPTION', /runtime must be a Runtime/);
    await expectWeftError(loadModel(dataPath('ref-models/llama-a'), null as never), 'E_OPTION', /options must be an object/);
  });
});
