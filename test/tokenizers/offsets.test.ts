/**
 * Character offsets (`encodeWithOffsets`) against Hugging Face's Rust tokenizers (npm `tokenizers`) on the shared
 * corpus of hard strings, for WordPiece (all-MiniLM-L6-v2: lower-casing, accent stripping, [UNK], CJK, zero-width
 * characters) and byte-level BPE (GPT-2: characters split across byte tokens).
 *
 * Hugging Face reports offsets in Unicode code points; weft in UTF-16 code units (what String.slice takes), so the
 * reference is converted. weft's spans leave out surrounding whitespace (trim_offsets) except for whitespace-only
 * tokens; the reference is trimmed the same way.
 */
import { readFileSync } from 'node:fs';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { expect, it } from 'vitest';
import { loadTokenizer } from '../../src/tokenizers/index.js';
import { dataPath, describeData } from '../helpers/data.js';

describeData('token character offsets against Hugging Face tokenizers', () => {
  const corpus = () =>
    readFileSync(dataPath('tokenizers/corpus.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { text: string }).text);

  for (const name of ['all-MiniLM-L6-v2', 'gpt2']) {
    it(`${name}: every token's span over the 186-string corpus`, async () => {
      const path = dataPath(`tokenizers/${name}/tokenizer.json`);
      const hf = HfTokenizer.fromFile(path);
      hf.setTruncation(100_000); // all-MiniLM's tokenizer.json truncates at 128; compare whole texts
      const ours = await loadTokenizer(path);
      let compared = 0;
      for (const text of corpus()) {
        const e = await hf.encode(text);
        const units = [0];
        for (const ch of text) units.push(units[units.length - 1] + ch.length); // code point index → UTF-16 index
        const special = e.getSpecialTokensMask();
        const expected = e.getOffsets().map(([a, b], i) => {
          if (special[i]) return null;
          let [s, t] = [units[a], units[b]];
          if (text.slice(s, t).trim() !== '') {
            while (/\s/u.test(text[s])) s++;
            while (t > s && /\s/u.test(text[t - 1])) t--;
          }
          return [s, t];
        });
        const got = ours.encodeWithOffsets(text);
        expect(got.ids, JSON.stringify(text)).toEqual(e.getIds());
        expect(got.offsets, JSON.stringify(text)).toEqual(expected);
        compared += got.ids.length;
      }
      expect(compared).toBeGreaterThan(2000);
    });
  }

  it('special tokens added around the text have no span; a special token written in the text has its own', async () => {
    const t = await loadTokenizer(dataPath('tokenizers/all-MiniLM-L6-v2/tokenizer.json'));
    const e = t.encodeWithOffsets('[CLS] Hi');
    expect(e.tokens).toEqual(['[CLS]', '[CLS]', 'hi', '[SEP]']);
    expect(e.offsets).toEqual([null, [0, 5], [6, 8], null]);
  });
});
