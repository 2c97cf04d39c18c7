import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { tokenizerFromJson } from '../../src/tokenizers/index.js';
import { dataPath, describeData } from '../helpers/data.js';
import { readJson, readJsonl, TOKENIZER_FILES } from './helpers/corpus.js';

interface Expected {
  id: number;
  text: string;
  ids: number[];
  ids_with_special: number[];
  decoded: string;
  decoded_with_special_skipped: string;
}

// Expected values: Hugging Face tokenizers (Rust) 0.23.2 on the same tokenizer.json (tokenizer-data-README §2).
describeData('tokenizer.json vs Hugging Face tokenizers (Rust): 9 tokenizers × 186 strings', () => {
  for (const [name, file] of Object.entries(TOKENIZER_FILES)) {
    it(`${name}: ids, ids_with_special, decoded`, { timeout: 60_000 }, () => {
      const source = dataPath(`tokenizers/${name}/npm-source.json`);
      if (existsSync(source)) {
        // The npm-sourced file must be the one the expected values were made from.
        const { sha256 } = readJson<{ sha256: string }>(source);
        expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(sha256);
      }
      const tokenizer = tokenizerFromJson(readJson(file), undefined, file);
      const cases = readJsonl<Expected>(dataPath(`tokenizers/${name}/expected.jsonl`));
      expect(cases).toHaveLength(186);
      for (const c of cases) {
        const label = `${name} corpus #${c.id} ${JSON.stringify(c.text.slice(0, 40))}`;
        expect(tokenizer.encode(c.text, { add_special_tokens: false }), label).toEqual(c.ids);
        expect(tokenizer.encode(c.text), label).toEqual(c.ids_with_special);
        expect(tokenizer.decode(c.ids), label).toBe(c.decoded);
        expect(tokenizer.decode(c.ids_with_special, { skip_special_tokens: true }), label).toBe(c.decoded_with_special_skipped);
      }
    });
  }
});
