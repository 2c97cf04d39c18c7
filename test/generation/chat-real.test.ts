/**
 * chat() on the real stories260K model. The shipped model has no chat template, so the test gives its tokenizer a
 * small one (the notes allow test data made from shipped files) and checks the invariant that matters: a second
 * turn that reuses the KV cache of the first generates exactly what a fresh prefill of the whole conversation does.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chat, chatPromptIds, generate, type ChatMessage, type LanguageModel } from '../../src/generation/generate.js';
import { loadModel, type LoadedModel } from '../../src/models/model.js';
import { dataPath, describeData } from '../helpers/data.js';

describeData('chat() with a template on stories260K', () => {
  let loaded: LoadedModel;
  let lm: LanguageModel;

  beforeAll(async () => {
    loaded = await loadModel(dataPath('llama2c-stories260k', 'stories260K.bin'), { tokenizer: dataPath('llama2c-stories260k', 'tok512.bin') });
    const base = loaded.tokenizer!;
    // The tok512 tokenizer with a plain-text template: "Q: …\nA: …\n" per turn, "A:" as the generation prompt.
    const tokenizer = Object.create(base) as typeof base;
    tokenizer.applyChatTemplate = (messages: ChatMessage[], o: { add_generation_prompt?: boolean } = {}) =>
      messages.map((m) => `${m.role === 'user' ? 'Q' : 'A'}: ${m.content}\n`).join('') + (o.add_generation_prompt ? 'A:' : '');
    lm = { model: loaded.model, tokenizer, generationConfig: loaded.generationConfig };
  });
  afterAll(() => loaded?.model.dispose());

  it('the second turn reuses the first turn’s cache and matches a fresh run', async () => {
    const options = { temperature: 0, max_new_tokens: 12, stop: '\n' };
    const messages: ChatMessage[] = [{ role: 'user', content: 'Tom had a red ball.' }];
    const first = await chat(lm, messages, options);
    expect(first.text.length).toBeGreaterThan(0);
    messages.push({ role: 'assistant', content: first.text.trim() }, { role: 'user', content: 'Where did the ball go?' });
    const second = await chat(lm, messages, options);
    const prompt = chatPromptIds(lm, messages);
    expect(second.timings.prefillTokens).toBeLessThan(prompt.length - 10);

    const fresh = await generate(lm, prompt, options); // generate() starts from an empty cache
    expect(fresh.timings.prefillTokens).toBe(prompt.length);
    expect(second.ids).toEqual(fresh.ids);
    expect(second.text).toBe(fresh.text);
  });
});
