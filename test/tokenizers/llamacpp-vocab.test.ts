import { expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizers/index.js';
import { dataPath, describeData } from '../helpers/data.js';
import { readVocabTestInputs, readVocabTestOutputs } from './helpers/corpus.js';

// llama.cpp's tokenizer tests (models/ggml-vocab-*.gguf.inp/.out), encoded without special tokens and with special
// tokens as plain text (test-tokenizer-0.cpp: add_special=false, parse_special=false). Both versions of the files.
const SUITES = ['llama-spm', 'phi-3', 'bert-bge', 'deepseek-coder', 'gpt-2'];
const VERSIONS = ['', 'upstream-2025-07/'];

function checkSuite(tokenizer: Tokenizer, suite: string, version: string): void {
  const inputs = readVocabTestInputs(dataPath(`llamacpp-vocab/${version}ggml-vocab-${suite}.gguf.inp`));
  const outputs = readVocabTestOutputs(dataPath(`llamacpp-vocab/${version}ggml-vocab-${suite}.gguf.out`), inputs.length);
  expect(inputs).toHaveLength(46);
  inputs.forEach((text, i) => {
    expect(tokenizer.encode(text, { add_special_tokens: false, split_special: true }), `${version}${suite} test #${i} ${JSON.stringify(text.slice(0, 40))}`).toEqual(outputs[i]);
  });
}

describeData('llama.cpp vocabulary suites', () => {
  for (const suite of SUITES) {
    it(`${suite} (GGUF vocabulary), both versions`, { timeout: 60_000 }, async () => {
      const tokenizer = await loadTokenizer(dataPath(`llamacpp-vocab/ggml-vocab-${suite}.gguf`));
      for (const version of VERSIONS) checkSuite(tokenizer, suite, version);
    });
  }

  it('gpt-2 through tokenizers/gpt2/tokenizer.json (the same vocabulary), both versions', { timeout: 60_000 }, async () => {
    const tokenizer = await loadTokenizer(dataPath('tokenizers/gpt2/tokenizer.json'));
    for (const version of VERSIONS) checkSuite(tokenizer, 'gpt-2', version);
  });

  it('bert-bge through tokenizers/all-MiniLM-L6-v2 (bert-base-uncased vocabulary), both versions', { timeout: 60_000 }, async () => {
    const tokenizer = await loadTokenizer(dataPath('tokenizers/all-MiniLM-L6-v2'));
    for (const version of VERSIONS) checkSuite(tokenizer, 'bert-bge', version);
  });
});
