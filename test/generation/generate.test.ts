/**
 * The generation loop against a fake model (greedy follows a scripted next-token function) and a fake byte-level
 * tokenizer: stopping (EOS, stop strings split across tokens, length, context, abort), stream == generate,
 * UTF-8-safe pieces, option errors, and KV-cache reuse between chat turns.
 */
import { describe, expect, it } from 'vitest';
import { WeftError } from '../../src/errors.js';
import { chat, chatPromptIds, generate, stream, StopStrings, type GenerateResult } from '../../src/generation/generate.js';
import { FakeLM, fakeLM, fakeTokenizer } from './fakes.js';

// ids:         0        1      2      3    4    5     6      7       8    9    10     11     12    13
const PIECES = ['<unk>', null, null, 'he', 'l', 'lo', ' wo', 'rld', '!', ' ', 'a', 'b', '<|', 'end|>'];
const EOS = 2;

/** Greedy continues the script after the prompt, then repeats its last id. */
function scripted(script: number[]): (ids: readonly number[]) => number {
  return (ids) => script[Math.min(ids.length - 1, script.length - 1)];
}

async function collect(it: AsyncGenerator<string, GenerateResult, void>): Promise<{ pieces: string[]; result: GenerateResult }> {
  const pieces: string[] = [];
  for (;;) {
    const step = await it.next();
    if (step.done) return { pieces, result: step.value };
    pieces.push(step.value);
  }
}

async function expectError(p: Promise<unknown> | (() => unknown), code: string, text: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
    expect.unreachable();
  } catch (e) {
    expect(e).toBeInstanceOf(WeftError);
    expect((e as WeftError).code).toBe(code);
    expect((e as WeftError).message).toContain(text);
  }
}

describe('generate with a fake model', () => {
  // From the prompt [1] (BOS), greedy reads: he l lo ␣wo rld ! EOS
  const story = [3, 4, 5, 6, 7, 8, EOS];
  const make = (opts: ConstructorParameters<typeof FakeLM>[1] = { eos: [EOS] }) => fakeLM(new FakeLM(scripted(story), opts), fakeTokenizer(PIECES));

  it('greedy follows the model and stops at EOS, which is in ids but not in text', async () => {
    const r = await generate(make(), [1], { temperature: 0 });
    expect(r.text).toBe('hello world!');
    expect(r.ids).toEqual([3, 4, 5, 6, 7, 8, EOS]);
    expect(r.promptIds).toEqual([1]);
    expect(r.finishReason).toBe('eos');
    expect(r.timings.prefillTokens).toBe(1);
    expect(r.timings.decodeTokens).toBe(6);
  });

  it('a text prompt goes through the tokenizer with its BOS', async () => {
    const r = await generate(make(), 'he', { temperature: 0, max_new_tokens: 2 });
    expect(r.promptIds).toEqual([1, 3]);
    expect(r.ids).toEqual([4, 5]);
  });

  it('an empty prompt starts from BOS', async () => {
    const r = await generate(make(), [], { temperature: 0, max_new_tokens: 1 });
    expect(r.promptIds).toEqual([1]);
  });

  it('max_new_tokens ends with finishReason length; 0 generates nothing', async () => {
    const r = await generate(make(), [1], { temperature: 0, max_new_tokens: 3 });
    expect(r.ids).toEqual([3, 4, 5]);
    expect(r.text).toBe('hello');
    expect(r.finishReason).toBe('length');
    const none = await generate(make(), [1], { max_new_tokens: 0 });
    expect(none).toMatchObject({ ids: [], text: '', finishReason: 'length' });
  });

  it('eos_token_id overrides the model: [] never stops on a token', async () => {
    const r = await generate(make(), [1], { temperature: 0, max_new_tokens: 9, eos_token_id: [] });
    expect(r.ids).toEqual([3, 4, 5, 6, 7, 8, EOS, EOS, EOS]);
    expect(r.finishReason).toBe('length');
  });

  it('generation ends at the end of the context with finishReason length', async () => {
    const lm = make({ eos: [], contextLength: 4 });
    const r = await generate(lm, [1], { temperature: 0, max_new_tokens: 100 });
    // 4 positions fed (BOS + 3 generated), the 4th generated token comes from the last position's logits
    expect(r.ids).toEqual([3, 4, 5, 6]);
    expect(r.finishReason).toBe('length');
  });

  it('a prompt past the context is the model’s E_CONTEXT error, and the model still works afterwards', async () => {
    const lm = make({ eos: [EOS], contextLength: 4 });
    await expectError(generate(lm, [1, 3, 4, 5, 6], { temperature: 0 }), 'E_CONTEXT', 'exceed');
    expect((await generate(lm, [1], { temperature: 0, max_new_tokens: 2 })).ids).toEqual([3, 4]);
  });

  it('truncate_prompt keeps BOS and the newest prompt tokens that leave room for max_new_tokens', async () => {
    const lm = make({ eos: [EOS], contextLength: 6 });
    // context 6, 2 new tokens: BOS + the last 3 of [3, 4, 5, 6, 7, 8] → prompt [1, 6, 7, 8]
    const truncated = await generate(lm, [1, 3, 4, 5, 6, 7, 8], { temperature: 0, max_new_tokens: 2, truncate_prompt: true });
    expect(truncated.promptIds).toEqual([1, 6, 7, 8]);
    expect(truncated.ids).toHaveLength(2);
    const direct = await generate(lm, [1, 6, 7, 8], { temperature: 0, max_new_tokens: 2 });
    expect(truncated.ids).toEqual(direct.ids);
    await expectError(generate(lm, [1, 3, 4, 5, 6, 7, 8], { temperature: 0, max_new_tokens: 2 }), 'E_CONTEXT', 'exceed');
    await expectError(generate(lm, [1], { truncate_prompt: 'yes' as never }), 'E_OPTION', 'truncate_prompt');
  });

  it('a stop string split across tokens ends generation and is not emitted, nor its prefix', async () => {
    // "he" + "l" + "lo" + " wo": the stop string "lo w" spans the tokens 'lo' and ' wo'
    const { pieces, result } = await collect(stream(make(), [1], { temperature: 0, stop: 'lo w' }));
    expect(result.text).toBe('hel');
    expect(result.finishReason).toBe('stop');
    expect(pieces.join('')).toBe('hel');
    expect(pieces.some((p) => p.includes('lo'))).toBe(false);
    expect(result.ids).toEqual([3, 4, 5, 6]); // ids include the token that completed the stop string
  });

  it('held-back text that turns out not to be a stop string is emitted in full', async () => {
    const { pieces, result } = await collect(stream(make(), [1], { temperature: 0, stop: ['lo!', 'rld?'] }));
    expect(result.text).toBe('hello world!');
    expect(pieces.join('')).toBe('hello world!');
    expect(result.finishReason).toBe('eos');
  });

  it('the earliest of several stop strings wins', async () => {
    const r = await generate(make(), [1], { temperature: 0, stop: ['world', 'lo'] });
    expect(r.text).toBe('hel');
  });

  it('StopStrings holds back exactly the longest possible stop prefix', () => {
    const s = new StopStrings(['abc', 'bd']);
    expect(s.push('xa')).toEqual({ text: 'x', stopped: false });
    expect(s.push('b')).toEqual({ text: '', stopped: false }); // "ab" is a prefix of "abc", "b" of "bd"
    expect(s.push('x')).toEqual({ text: 'abx', stopped: false });
    expect(s.push('abd')).toEqual({ text: 'a', stopped: true });
  });

  it('stream yields the same text as generate, with the same seed', async () => {
    // temperature 8 flattens the fake logits (10 vs ~±0.5) enough that the run is really random: a second seed differs
    const sampled = (ids: readonly number[]) => 3 + (ids.length % 6); // never EOS
    const run = (seed: number) => generate(fakeLM(new FakeLM(sampled), fakeTokenizer(PIECES)), [1], { temperature: 8, seed, max_new_tokens: 40 });
    const a = await run(1234);
    const { pieces, result: b } = await collect(
      stream(fakeLM(new FakeLM(sampled), fakeTokenizer(PIECES)), [1], { temperature: 8, seed: 1234, max_new_tokens: 40 }),
    );
    expect(pieces.join('')).toBe(a.text);
    expect(b.text).toBe(a.text);
    expect(b.ids).toEqual(a.ids);
    expect((await run(1235)).ids).not.toEqual(a.ids);
  });

  it('abort: a signal aborted mid-stream ends with finishReason abort and the text so far', async () => {
    const controller = new AbortController();
    const lm = make({ eos: [] });
    const it = stream(lm, [1], { temperature: 0, signal: controller.signal, max_new_tokens: 50 });
    const pieces: string[] = [];
    let result: GenerateResult | undefined;
    for (;;) {
      const step = await it.next();
      if (step.done) {
        result = step.value;
        break;
      }
      pieces.push(step.value);
      if (pieces.length === 2) controller.abort();
    }
    expect(result.finishReason).toBe('abort');
    expect(result.ids).toEqual([3, 4]);
    expect(result.text).toBe(pieces.join(''));
  });

  it('abort: an already-aborted signal runs nothing', async () => {
    const lm = make();
    const r = await generate(lm, [1], { signal: AbortSignal.abort() });
    expect(r).toMatchObject({ ids: [], text: '', finishReason: 'abort' });
    expect((lm.model as FakeLM).fed).toBe(0);
  });

  it('abort: a timer-driven signal fires during generate() (the loop yields to the event loop)', async () => {
    // A slow fake model (~1 ms per forward) and a signal aborted by a timer: without macrotask yields the timer
    // could never fire and the 100 000-token run would end by length.
    const slow = new FakeLM((ids) => {
      const until = performance.now() + 1;
      while (performance.now() < until);
      return 3 + (ids.length % 6);
    }, { contextLength: 200_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const r = await generate(fakeLM(slow, fakeTokenizer(PIECES)), [1], { temperature: 0, max_new_tokens: 100_000, signal: controller.signal });
    expect(r.finishReason).toBe('abort');
  });

  it('pieces never split a UTF-8 character that spans two tokens', async () => {
    const euro = new TextEncoder().encode('€'); // 3 bytes
    const pieces = [null, null, null, 'a', euro.slice(0, 2), euro.slice(2), 'b'];
    const lm = fakeLM(new FakeLM(scripted([3, 4, 5, 6, 2]), { vocabSize: 7, eos: [2] }), fakeTokenizer(pieces));
    const { pieces: out, result } = await collect(stream(lm, [1], { temperature: 0 }));
    expect(result.text).toBe('a€b');
    expect(out.join('')).toBe('a€b');
    expect(out.some((p) => p.includes('\uFFFD'))).toBe(false);
  });

  it('an id-only model (no tokenizer) generates ids and empty text', async () => {
    const r = await generate(fakeLM(new FakeLM(scripted(story), { eos: [EOS] }), null), [1], { temperature: 0 });
    expect(r.ids).toEqual(story);
    expect(r.text).toBe('');
  });

  it('invalid options are E_OPTION errors naming the option, and the model still works afterwards', async () => {
    const lm = make();
    await expectError(generate(lm, [1], { temperature: -0.5 }), 'E_OPTION', 'temperature');
    await expectError(generate(lm, [1], { max_new_tokens: 1.5 }), 'E_OPTION', 'max_new_tokens');
    await expectError(generate(lm, [1], { stop: [''] }), 'E_OPTION', 'stop');
    await expectError(generate(lm, [1], { top_k: -2 }), 'E_OPTION', 'top_k');
    await expectError(generate(lm, [1, 99]), 'E_OPTION', 'prompt token 1 is 99');
    await expectError(generate(fakeLM(new FakeLM(scripted(story)), null), 'text'), 'E_MISSING', 'tokenizer');
    await expectError(generate(fakeLM(new FakeLM(scripted(story)), null), [1], { stop: 'x' }), 'E_OPTION', 'stop');
    await expectError(generate(fakeLM(new FakeLM(scripted(story), { bos: null }), null), []), 'E_OPTION', 'empty');
    expect((await generate(lm, [1], { temperature: 0 })).text).toBe('hello world!');
  });

  it('generation_config: do_sample false means greedy by default; explicit options win', async () => {
    const sampled = (ids: readonly number[]) => 3 + (ids.length % 6);
    const lm = (gc: Record<string, unknown>) => fakeLM(new FakeLM(sampled), fakeTokenizer(PIECES), gc);
    const greedy = await generate(lm({}), [1], { max_new_tokens: 20 });
    const expected = Array.from({ length: 20 }, (_, i) => 3 + ((i + 1) % 6));
    expect(greedy.ids).toEqual(expected);
    // do_sample with a huge temperature makes the scripted ids unlikely to all win (each has ~1/16 + a bit)
    const hot = await generate(lm({ do_sample: true, temperature: 1000 }), [1], { max_new_tokens: 20, seed: 3 });
    expect(hot.ids).not.toEqual(expected);
    const explicit = await generate(lm({ do_sample: true, temperature: 1000 }), [1], { max_new_tokens: 20, temperature: 0 });
    expect(explicit.ids).toEqual(expected);
  });
});

describe('chat with a template', () => {
  // Pieces for a ChatML-like template (rendered by the fake tokenizer): <|user|>…<|end|><|assistant|>…
  const CHAT = [null, null, null, '<|user|>', '<|assistant|>', '<|end|>', 'hi', ' there', '!', ' again'];
  const END = 5;

  /** The assistant answers " there!" then <|end|>, whatever was said. */
  function replyModel() {
    return new FakeLM((ids) => {
      const last = ids[ids.length - 1];
      return last === 4 ? 7 : last === 7 ? 8 : END;
    }, { vocabSize: CHAT.length, eos: [END] });
  }

  it('renders the messages through the template and answers until the end-of-turn id', async () => {
    const model = replyModel();
    const lm = fakeLM(model, fakeTokenizer(CHAT, { bos: null }));
    expect(chatPromptIds(lm, [{ role: 'user', content: 'hi' }])).toEqual([3, 6, END, 4]);
    const r = await chat(lm, [{ role: 'user', content: 'hi' }], { temperature: 0 });
    expect(r.text).toBe(' there!');
    expect(r.finishReason).toBe('eos');
  });

  it('the second turn reuses the KV cache of the first and gives what a fresh model gives', async () => {
    const model = replyModel();
    const lm = fakeLM(model, fakeTokenizer(CHAT, { bos: null }));
    const messages = [{ role: 'user', content: 'hi' }];
    const first = await chat(lm, messages, { temperature: 0 });
    const fedAfterFirst = model.fed;
    messages.push({ role: 'assistant', content: first.text }, { role: 'user', content: 'hi again' });
    const second = await chat(lm, messages, { temperature: 0 });
    const prompt2 = chatPromptIds(lm, messages);
    // first turn: prompt [3,6,5,4] then the answer 7, 8 fed back (END is sampled, never fed): cache = 6 ids, all a
    // prefix of the second prompt, so only the rest of the new prompt is fed.
    expect(second.timings.prefillTokens).toBe(prompt2.length - 6);
    expect(model.fed - fedAfterFirst).toBe(prompt2.length - 6 + second.timings.decodeTokens);

    const fresh = replyModel();
    const again = await chat(fakeLM(fresh, fakeTokenizer(CHAT, { bos: null })), messages, { temperature: 0 });
    expect(again.ids).toEqual(second.ids);
    expect(again.timings.prefillTokens).toBe(prompt2.length);
  });

  it('generate() does not reuse the cache by default', async () => {
    const model = replyModel();
    const lm = fakeLM(model, fakeTokenizer(CHAT, { bos: null }));
    await generate(lm, [3, 6, END, 4], { temperature: 0 });
    const r = await generate(lm, [3, 6, END, 4], { temperature: 0 });
    expect(r.timings.prefillTokens).toBe(4);
  });

  it('a cache changed behind the generator’s back is not trusted', async () => {
    const model = replyModel();
    const lm = fakeLM(model, fakeTokenizer(CHAT, { bos: null }));
    await chat(lm, [{ role: 'user', content: 'hi' }], { temperature: 0 });
    model.forward([9]); // someone else appended a token
    const r = await chat(lm, [{ role: 'user', content: 'hi' }], { temperature: 0 });
    expect(r.timings.prefillTokens).toBe(4);
    expect(r.text).toBe(' there!');
  });

  it('chat without a tokenizer is an E_MISSING error', async () => {
    await expectError(() => chatPromptIds(fakeLM(replyModel(), null), []), 'E_MISSING', 'tokenizer');
  });
});
