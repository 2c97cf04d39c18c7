/**
 * The tokenizer benchmark's text: a few MB of mixed documents drawn with a fixed seed from the project's reference
 * strings (shared/data/tokenizers/corpus.jsonl — English, code, many scripts, emoji, whitespace oddities — and the
 * llama.cpp .inp test strings). Same seed, same text, on every machine.
 *
 *   npx tsx bench/make-tokenize-corpus.ts [out.txt] [--mb 3]   (writes one JSON string per line)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Rng } from '../src/generation/sampling.js';

const DATA_DIR = resolve(process.env.WEFT_TEST_DATA ?? resolve(import.meta.dirname, '../../shared/data'));

function sourceStrings(): string[] {
  const corpus = readFileSync(resolve(DATA_DIR, 'tokenizers/corpus.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { text: string }).text);
  const inp = readFileSync(resolve(DATA_DIR, 'llamacpp-vocab/ggml-vocab-llama-spm.gguf.inp'), 'utf8').split('\n__ggml_vocab_test__\n');
  return [...corpus, ...inp].filter((s) => s.length > 0);
}

/** Documents of 1–8 source strings each, until `megabytes` of UTF-8. */
export function makeTokenizeCorpus(megabytes = 3, seed = 20240531): string[] {
  const strings = sourceStrings();
  const rng = new Rng(seed); // the project's documented PRNG: the corpus does not depend on Math.random
  const random = () => rng.nextFloat();
  const encoder = new TextEncoder();
  const documents: string[] = [];
  let bytes = 0;
  while (bytes < megabytes * 1024 * 1024) {
    const parts: string[] = [];
    const count = 1 + Math.floor(random() * 8);
    for (let i = 0; i < count; i++) parts.push(strings[Math.floor(random() * strings.length)]!);
    const doc = parts.join(random() < 0.5 ? '\n' : ' ');
    documents.push(doc);
    bytes += encoder.encode(doc).length;
  }
  return documents;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mbIndex = process.argv.indexOf('--mb');
  const mb = mbIndex > 0 ? Number(process.argv[mbIndex + 1]) : 3;
  const out = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'tokenize-corpus.jsonl';
  const docs = makeTokenizeCorpus(mb);
  writeFileSync(out, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  console.log(`wrote ${docs.length} documents (${mb} MB) to ${out}`);
}
