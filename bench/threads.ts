/**
 * `npm run bench:threads [-- --threads 1,2] [-- --runs 3] [-- --models …] [-- --dtypes f32,f16] [-- --json]`: how
 * prefill and decode scale with threads, weft beside llama.cpp (node-llama-cpp, `threads` in its context options) on
 * the same GGUF files, in the same run.
 *
 *   - random-weight models shaped like SmolLM2-135M and GPT-2 124M, F32 and F16 GGUF files written by
 *     bench/make-random-model.ts (`ensureBenchGguf`, the files `npm run bench` uses);
 *   - stories260K GGUF, F32 / F16 / BF16 (../shared/data).
 *
 * `--models` picks among smollm2-135m, gpt2-124m, stories260K; `--dtypes` among f32, f16, bf16 (bf16: stories260K
 * only by default, as the random models' bf16 rows add little to the scaling question and cost a run each).
 *
 * Per model, every (engine, thread count) contender is loaded once; each run then goes through all of them in turn
 * (alternating, so that the shared machine's load spreads over all of them), prefilling a 128-token prompt and
 * decoding 64 tokens greedily. The table shows medians over the runs, each contender's ratio to its own engine at
 * the first thread count, and (weft rows) decode ÷ llama.cpp's best decode over the thread counts on the same file:
 * the issue's target is weft's 2-thread decode ahead of native llama.cpp's best thread count.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '../src/generation/generate.js';
import { loadModel } from '../src/models/model.js';
import { Runtime } from '../src/runtime/runtime.js';
import { ensureBenchGguf, type BenchGgufDType } from './make-random-model.js';
import { JSON_OUTPUT, log, median, printTable, randomPromptIds } from './util.js';

/** The shared reference data: $WEFT_TEST_DATA or ../shared/data beside the repository. */
const DATA_DIR = process.env.WEFT_TEST_DATA ?? fileURLToPath(new URL('../../shared/data', import.meta.url));
const dataPath = (...parts: string[]) => join(DATA_DIR, ...parts);

const PROMPT_TOKENS = 128;
const DECODE_TOKENS = 64;

interface Contender {
  engine: 'weft' | 'llama.cpp';
  threads: number;
  /** One prefill of `prompt` and DECODE_TOKENS greedy tokens from an empty cache: tokens/s of each phase. */
  run(prompt: number[]): Promise<{ prefill: number; decode: number }>;
  dispose(): Promise<void>;
}

interface BenchModel {
  name: string;
  dtype: string;
  /** The GGUF file both engines load. */
  path: string;
  vocab: number;
  contextLength: number;
}

async function weftContender(m: BenchModel, threads: number): Promise<Contender> {
  const rt = await Runtime.create({ threads });
  if (rt.threads !== threads) throw new Error(`weft runs ${rt.threads} threads, not ${threads}`);
  const lm = await loadModel(m.path, { runtime: rt, contextLength: m.contextLength });
  return {
    engine: 'weft',
    threads,
    async run(prompt) {
      const out = await generate(lm, prompt, { temperature: 0, max_new_tokens: DECODE_TOKENS + 1, eos_token_id: [] });
      return { prefill: out.timings.prefillTokensPerS, decode: out.timings.decodeTokensPerS };
    },
    async dispose() {
      lm.model.dispose();
      rt.dispose();
    },
  };
}

async function llamaContender(m: BenchModel, threads: number): Promise<Contender> {
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  const model = await llama.loadModel({ modelPath: m.path });
  const context = await model.createContext({ contextSize: m.contextLength, batchSize: PROMPT_TOKENS, threads });
  const sequence = context.getSequence();
  return {
    engine: 'llama.cpp',
    threads,
    async run(prompt) {
      sequence.clearHistory();
      const start = performance.now();
      let firstAt = 0;
      let n = 0;
      for await (const _token of sequence.evaluate(prompt as never, { temperature: 0 })) {
        if (n === 0) firstAt = performance.now();
        if (++n > DECODE_TOKENS) break;
      }
      const end = performance.now();
      return { prefill: (PROMPT_TOKENS * 1000) / (firstAt - start), decode: (DECODE_TOKENS * 1000) / (end - firstAt) };
    },
    async dispose() {
      await context.dispose();
      await model.dispose();
    },
  };
}

const RANDOM_MODELS = ['smollm2-135m', 'gpt2-124m'];
const STORIES_FILES: Record<BenchGgufDType, string[]> = {
  f32: ['llama2c-stories260k', 'stories260K.gguf'],
  f16: ['stories260k-gguf-quantized', 'stories260K-F16.gguf'],
  bf16: ['stories260k-gguf-quantized', 'stories260K-BF16.gguf'],
};

/** The (model, dtype) rows asked for, random-model files written before any timing. */
async function benchModels(names: string[] | null, dtypes: BenchGgufDType[] | null): Promise<BenchModel[]> {
  const out: BenchModel[] = [];
  for (const name of names ?? [...RANDOM_MODELS, 'stories260K']) {
    if (name === 'stories260K') {
      for (const dtype of dtypes ?? (['f32', 'f16', 'bf16'] as const)) {
        out.push({ name, dtype: dtype.toUpperCase(), path: dataPath(...STORIES_FILES[dtype]), vocab: 512, contextLength: 512 });
      }
    } else if (RANDOM_MODELS.includes(name)) {
      for (const dtype of dtypes ?? (['f32', 'f16'] as const)) {
        const { path, spec } = await ensureBenchGguf(name, dtype);
        // the KV cache: GPT-2's full context, as in `npm run bench`; SmolLM2's 8192 would only cost memory here
        out.push({ name, dtype: dtype.toUpperCase(), path, vocab: spec.config.vocab_size as number, contextLength: 1024 });
      }
    } else throw new Error(`--models: unknown model '${name}' (known: ${[...RANDOM_MODELS, 'stories260K'].join(', ')})`);
  }
  return out;
}

/** The cost of the pool's protocol alone: calls whose chunks are all empty, split however small (minSplitWork 0). */
async function roundTripMicroseconds(threads: number): Promise<number> {
  const rt = await Runtime.create({ threads, minSplitWork: 0 });
  const call = { kernel: 'add' as const, args: [0, 0, 0], start: 0, end: 0, unit: 1, work: 0 };
  const samples: number[] = [];
  for (let s = 0; s < 9; s++) {
    const start = performance.now();
    for (let i = 0; i < 1000; i++) rt.parallel(call);
    samples.push(performance.now() - start); // ms per 1000 calls = µs per call
  }
  rt.dispose();
  return median(samples);
}

interface Row {
  model: string;
  dtype: string;
  engine: string;
  threads: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  prefill_ratio: number;
  decode_ratio: number;
  /** weft rows: decode ÷ llama.cpp's best decode (over the thread counts) on the same file; null on llama.cpp rows. */
  decode_vs_llama_best: number | null;
}

async function main(argv: string[]): Promise<void> {
  const arg = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const runs = Number(arg('--runs') ?? 3);
  const threadCounts = (arg('--threads') ?? '1,2').split(',').map(Number);
  if (!(Number.isInteger(runs) && runs > 0) || threadCounts.some((t) => !(Number.isInteger(t) && t > 0))) throw new Error('--runs and --threads take positive integers');
  const dtypes = (arg('--dtypes')?.split(',') ?? null) as BenchGgufDType[] | null;
  for (const d of dtypes ?? []) if (!(d in STORIES_FILES)) throw new Error(`--dtypes: unknown dtype '${d}' (known: ${Object.keys(STORIES_FILES).join(', ')})`);
  const models = await benchModels(arg('--models')?.split(',') ?? null, dtypes);
  const rows: Row[] = [];
  for (const m of models) {
    if (!existsSync(m.path)) throw new Error(`${m.path} is missing (../shared/data, or $WEFT_TEST_DATA)`);
    log(`${m.name} ${m.dtype}: ${runs} runs × threads ${threadCounts.join(', ')}, weft and llama.cpp…`);
    const contenders: Contender[] = [];
    for (const t of threadCounts) contenders.push(await weftContender(m, t));
    for (const t of threadCounts) contenders.push(await llamaContender(m, t));
    const prompt = randomPromptIds(m.vocab, PROMPT_TOKENS);
    const results = contenders.map(() => ({ prefill: [] as number[], decode: [] as number[] }));
    for (let r = 0; r < runs; r++) {
      for (const [i, c] of contenders.entries()) {
        const { prefill, decode } = await c.run(prompt);
        results[i].prefill.push(prefill);
        results[i].decode.push(decode);
      }
    }
    for (const c of contenders) await c.dispose();
    const base = (engine: string) => contenders.findIndex((c) => c.engine === engine && c.threads === threadCounts[0]);
    const llamaBest = Math.max(...contenders.map((c, i) => (c.engine === 'llama.cpp' ? median(results[i].decode) : 0)));
    contenders.forEach((c, i) => {
      const b = base(c.engine);
      rows.push({
        model: m.name,
        dtype: m.dtype,
        engine: c.engine,
        threads: c.threads,
        prefill_tokens_per_s: median(results[i].prefill),
        decode_tokens_per_s: median(results[i].decode),
        prefill_ratio: median(results[i].prefill) / median(results[b].prefill),
        decode_ratio: median(results[i].decode) / median(results[b].decode),
        decode_vs_llama_best: c.engine === 'weft' ? median(results[i].decode) / llamaBest : null,
      });
    });
  }
  const roundTrips = await Promise.all(threadCounts.filter((t) => t > 1).map(async (t) => [t, await roundTripMicroseconds(t)] as const));
  for (const [t, us] of roundTrips) log(`weft: the pool's own cost per kernel call, ${t} threads (empty chunks, claimed by whichever thread gets there): ${us.toFixed(1)} µs (median)`);
  printTable(
    `thread scaling: ${PROMPT_TOKENS}-token prompt, ${DECODE_TOKENS} decoded tokens, medians of ${runs} runs; × = ratio to the same engine at ${threadCounts[0]} thread(s); ÷ l best = weft decode ÷ llama.cpp's best decode on the file`,
    ['model', 'dtype', 'engine', 'threads', 'prefill tok/s', 'prefill ×', 'decode tok/s', 'decode ×', 'decode ÷ l best'],
    rows.map((r) => [r.model, r.dtype, r.engine, String(r.threads), r.prefill_tokens_per_s, r.prefill_ratio, r.decode_tokens_per_s, r.decode_ratio, r.decode_vs_llama_best ?? '']),
  );
  if (JSON_OUTPUT) console.log(JSON.stringify({ prompt_tokens: PROMPT_TOKENS, decode_tokens: DECODE_TOKENS, runs, round_trip_us: Object.fromEntries(roundTrips), rows }, null, 2));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
