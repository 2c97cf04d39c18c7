/**
 * Invisible Unicode format characters with SentencePiece vocabularies read from GGUF, against llama.cpp itself
 * (node-llama-cpp 3.21.1, vocab-only) on the same files.
 *
 * The defect this pins: the GGUF string reader used a default TextDecoder, which strips a leading U+FEFF
 * ZERO WIDTH NO-BREAK SPACE (the byte-order mark) from every string it decodes. Llama 2's vocabulary has the
 * piece "\uFEFF" (id 30143); it was read as "", so a text holding a BOM fell back to its three UTF-8 byte
 * tokens (<0xEF> <0xBB> <0xBF>) where llama.cpp gives the one piece.
 */
import { expect, it } from 'vitest';
import { readGguf } from '../../src/formats/gguf.js';
import { fileSource } from '../../src/files/local.js';
import { bytesSource } from '../../src/formats/source.js';
import { tokenizerFromGguf } from '../../src/tokenizers/index.js';
import { dataPath, describeData } from '../helpers/data.js';
import { writeGguf } from './helpers/gguf-writer.js';

const FORMAT_CHARACTERS: Array<[string, string]> = [
  ['\uFEFF', 'U+FEFF ZERO WIDTH NO-BREAK SPACE (byte-order mark)'],
  ['\u200B', 'U+200B ZERO WIDTH SPACE'],
  ['\u200C', 'U+200C ZERO WIDTH NON-JOINER'],
  ['\u200D', 'U+200D ZERO WIDTH JOINER'],
  ['\u2060', 'U+2060 WORD JOINER'],
  ['\u00AD', 'U+00AD SOFT HYPHEN'],
  ['\u200E', 'U+200E LEFT-TO-RIGHT MARK'],
  ['\u202E', 'U+202E RIGHT-TO-LEFT OVERRIDE'],
];

it('the GGUF reader keeps a leading U+FEFF in strings (metadata values and array elements)', async () => {
  const file = await readGguf(bytesSource(writeGguf([['test.bom', { type: 'string', value: '\uFEFFx' }], ['test.list', { type: 'string[]', value: ['\uFEFF', 'a\uFEFF'] }]]), 'bom.gguf'));
  expect(file.metadata.get('test.bom')).toBe('\uFEFFx');
  expect(file.metadata.get('test.list')).toEqual(['\uFEFF', 'a\uFEFF']);
});

describeData('format characters with GGUF SentencePiece vocabularies vs llama.cpp', () => {
  for (const name of ['llama-spm', 'phi-3']) {
    it(`${name}: U+FEFF is one piece (id 30143), and every format character tokenizes as llama.cpp does`, { timeout: 120_000 }, async () => {
      const path = dataPath(`llamacpp-vocab/ggml-vocab-${name}.gguf`);
      const weft = await tokenizerFromGguf(await readGguf(await fileSource(path)));
      expect(weft.encode('a\uFEFFb', { add_special_tokens: false })).toEqual([263, 30143, 29890]);
      const { getLlama } = await import('node-llama-cpp');
      const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
      const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
      try {
        for (const [c, label] of FORMAT_CHARACTERS) {
          for (const text of [`a${c}b`, `${c}hello`, `hello${c}`, `zero${c}width ${c} x`, c, `${c}${c}`]) {
            expect(weft.encode(text, { add_special_tokens: false }), `${label} in ${JSON.stringify(text)}`).toEqual(Array.from(model.tokenize(text, false)));
          }
        }
      } finally {
        await model.dispose();
      }
    });
  }
});
