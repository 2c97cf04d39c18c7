/**
 * `npm run bench [-- --json] [-- --runs N] [-- --models gpt2-124m,smollm2-135m] [-- --dtypes f32,f16,…]`: generation
 * speed of weft beside native llama.cpp (node-llama-cpp's prebuilt library) on the same GGUF files, one thread, on
 * random-weight models shaped like GPT-2 124M and SmolLM2-135M (bench/make-random-model.ts writes them once).
 *
 *   for each model × dtype (a row):
 *     for each run:  weft child  → load, prefill a 128-token prompt, decode 64 tokens greedily; read bandwidth
 *                    llama child → the same on the same file, node-llama-cpp with threads: 1
 *     agreement:     on the first run both children compute the argmax after every position of the same sequence
 *                    (prompt + weft's 65 tokens, teacher-forced): a speed figure never comes from a wrong answer
 *   print medians over runs, and weft ÷ llama.cpp per row
 *
 * Warm-up: after loading, each child runs one untimed generation of the same size before the timed one, as
 * llama-bench's warm-up run does. For weft it lets V8 replace its baseline (Liftoff) code of the hot wasm functions
 * by optimized code, which it compiles in the background only once they have run (no on-stack replacement in wasm):
 * without it, the timed run of a fresh process measured 0.75–0.8× prefill and ~0.9× decode of a second run (q4_0:
 * 132 vs 167–182 prefill tok/s, 81 vs 88), and a 16-token warm-up recovered only half of it. Load time is
 * measured before the warm-up, time to first token after it.
 *
 * Each measurement is a fresh Node process, so its peak resident memory is its own, and the two engines alternate,
 * so a change of load on a shared machine falls on both. Decode as a fraction of the read bandwidth: decode tok/s ×
 * weight bytes per token ÷ the read probe (`ReadProbe`: a SIMD sum over 1 GiB) measured in weft's child right after
 * its run. Rows: f32, f16 and bf16 GGUF files; q8_0, q4_0 and q4_K are the f32 file quantized by llama.cpp's own
 * quantizer (llama_model_quantize in node-llama-cpp's bundled libllama, through test/helpers/llama-quantize.py:
 * Q8_0, Q4_0, Q4_K_M), and both engines load that same file. Every row carries `threads` (1 for now).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ControlledEvaluateInputItem, Token } from 'node-llama-cpp';
import { generate } from '../src/generation/generate.js';
import { loadModel } from '../src/models/load.js';
import { Runtime } from '../src/runtime/runtime.js';
import { BENCH_MODELS, ensureBenchFile, weightBytesPerToken, type BenchDType, type BenchModelSpec } from './make-random-model.js';
import { JSON_OUTPUT, log, median, printTable, randomPromptIds, ReadProbe } from './util.js';

const PROMPT_TOKENS = 128;
const DECODE_TOKENS = 64;
/** The untimed warm-up generation each child runs first (see the top): as long as the timed one. */
const WARMUP_PROMPT_TOKENS = PROMPT_TOKENS;
const WARMUP_NEW_TOKENS = DECODE_TOKENS;
/** The KV cache both engines get: GPT-2's full context; SmolLM2's 8192 would only cost memory here. */
const CONTEXT_LENGTH = 1024;
const THREADS = 1;

const DTYPES: BenchDType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k'];
/** Bytes per weight of each dtype (block formats: scale bytes included). */
const BYTES_PER_WEIGHT: Record<BenchDType, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32, q4_0: 18 / 32, q4_k: 144 / 256 };

/** One engine's figures for one run. */
interface RunResult {
  load_ms: number;
  time_to_first_token_ms: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  peak_memory_bytes: number;
  /** weft only: the read probe right after the run. */
  read_bandwidth_bytes_per_s?: number;
  /** The greedy ids (weft), and the argmax after every position of the teacher-forced sequence (first run only). */
  generated?: number[];
  argmax?: number[];
}

interface EngineSummary {
  runs: number;
  load_ms: number;
  time_to_first_token_ms: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  peak_memory_bytes: number;
  decode_bandwidth_fraction: number;
}

interface RowResult {
  model: string;
  dtype: BenchDType;
  threads: number;
  file: string;
  weight_bytes_per_token: number;
  read_bandwidth_bytes_per_s: number | null;
  weft: EngineSummary | { unsupported: string };
  llama_cpp: EngineSummary | { unsupported: string };
  /** weft ÷ llama.cpp (medians). */
  ratio: { prefill: number; decode: number; time_to_first_token: number } | null;
  /** Positions of the teacher-forced sequence where weft's argmax equals llama.cpp's, and how many there were. */
  argmax_agreement: { equal: number; positions: number } | null;
}

function promptIds(spec: BenchModelSpec): number[] {
  return randomPromptIds(spec.config.vocab_size as number, PROMPT_TOKENS);
}

function argmaxRows(logits: Float32Array, vocab: number): number[] {
  const out: number[] = [];
  for (let r = 0; r * vocab < logits.length; r++) {
    let best = 0;
    for (let i = 1; i < vocab; i++) if (logits[r * vocab + i] > logits[r * vocab + best]) best = i;
    out.push(best);
  }
  return out;
}

// ---- the children ------------------------------------------------------------------------------------------------

async function weftRun(model: string, dtype: BenchDType, teacherForce: boolean): Promise<RunResult> {
  const { path, spec } = await ensureBenchFile(model, dtype);
  const rt = await Runtime.create({ threads: THREADS });
  const lm = await loadModel(path, { runtime: rt, contextLength: CONTEXT_LENGTH });
  const prompt = promptIds(spec);
  await generate(lm, prompt.slice(0, WARMUP_PROMPT_TOKENS), { temperature: 0, max_new_tokens: WARMUP_NEW_TOKENS, eos_token_id: [] });
  lm.model.reset();
  const result: RunResult = { load_ms: lm.loadMs, time_to_first_token_ms: 0, prefill_tokens_per_s: 0, decode_tokens_per_s: 0, peak_memory_bytes: 0 };
  try {
    // DECODE_TOKENS + 1 new tokens: the first comes from the prefill, the other 64 from one-token forwards.
    const out = await generate(lm, prompt, { temperature: 0, max_new_tokens: DECODE_TOKENS + 1, eos_token_id: [] });
    if (out.timings.decodeTokens !== DECODE_TOKENS) throw new Error(`${model}: decoded ${out.timings.decodeTokens} tokens, expected ${DECODE_TOKENS}`);
    Object.assign(result, {
      time_to_first_token_ms: out.timings.timeToFirstTokenMs,
      prefill_tokens_per_s: out.timings.prefillTokensPerS,
      decode_tokens_per_s: out.timings.decodeTokensPerS,
      peak_memory_bytes: process.resourceUsage().maxRSS * 1024, // before the probe's 1 GiB exists
      generated: out.ids,
    });
    if (teacherForce) {
      lm.model.reset();
      result.argmax = argmaxRows(lm.model.forward([...prompt, ...out.ids], { all: true }), spec.config.vocab_size as number);
    }
  } finally {
    lm.model.dispose();
  }
  const probe = new ReadProbe(rt);
  result.read_bandwidth_bytes_per_s = probe.bytesPerSecond();
  probe.free();
  return result;
}

async function llamaRun(model: string, dtype: BenchDType, sequence: number[] | null): Promise<RunResult> {
  const { path, spec } = await ensureBenchFile(model, dtype);
  const { getLlama } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  let t = performance.now();
  const lm = await llama.loadModel({ modelPath: path });
  const context = await lm.createContext({ contextSize: CONTEXT_LENGTH, threads: THREADS, batchSize: PROMPT_TOKENS, sequences: 1 });
  const load = performance.now() - t;
  // node-llama-cpp's Token is a branded number
  const next = (token: number): ControlledEvaluateInputItem => [token as Token, { generateNext: { token: true, options: { temperature: 0 } } }];
  const seq = context.getSequence();
  const prompt = promptIds(spec);
  const warm = await seq.controlledEvaluate([...(prompt.slice(0, WARMUP_PROMPT_TOKENS - 1) as Token[]), next(prompt[WARMUP_PROMPT_TOKENS - 1])]);
  let w: number = warm[warm.length - 1]!.next.token!;
  for (let i = 1; i < WARMUP_NEW_TOKENS; i++) w = (await seq.controlledEvaluate([next(w)]))[0]!.next.token!;
  await seq.clearHistory();
  t = performance.now();
  const first = await seq.controlledEvaluate([...(prompt.slice(0, -1) as Token[]), next(prompt[prompt.length - 1])]);
  const ttft = performance.now() - t;
  let token: number = first[first.length - 1]!.next.token!;
  t = performance.now();
  for (let i = 0; i < DECODE_TOKENS; i++) token = (await seq.controlledEvaluate([next(token)]))[0]!.next.token!;
  const decodeMs = performance.now() - t;
  const result: RunResult = {
    load_ms: load,
    time_to_first_token_ms: ttft,
    prefill_tokens_per_s: PROMPT_TOKENS / (ttft / 1000),
    decode_tokens_per_s: DECODE_TOKENS / (decodeMs / 1000),
    peak_memory_bytes: process.resourceUsage().maxRSS * 1024,
  };
  if (sequence) {
    await seq.clearHistory();
    const out = await seq.controlledEvaluate(sequence.map(next));
    result.argmax = out.map((o) => o!.next.token!);
  }
  await context.dispose();
  await lm.dispose();
  return result;
}

// ---- the parent --------------------------------------------------------------------------------------------------

/** Runs one measurement in a fresh Node process with the same loader (tsx) flags; the result, or why not. */
function child(engine: 'weft' | 'llama', model: string, dtype: BenchDType, sequence: number[] | null, teacherForce: boolean): Promise<RunResult | { unsupported: string }> {
  const args = ['--child', engine, '--model', model, '--dtype', dtype, ...(teacherForce ? ['--teacher-force'] : []), ...(sequence ? ['--sequence', sequence.join(',')] : [])];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`bench child ${engine} ${model} ${dtype} exited with ${code}`))));
  });
}

function summarize(runs: RunResult[], bytesPerToken: number, bandwidths: number[]): EngineSummary {
  return {
    runs: runs.length,
    load_ms: median(runs.map((r) => r.load_ms)),
    time_to_first_token_ms: median(runs.map((r) => r.time_to_first_token_ms)),
    prefill_tokens_per_s: median(runs.map((r) => r.prefill_tokens_per_s)),
    decode_tokens_per_s: median(runs.map((r) => r.decode_tokens_per_s)),
    peak_memory_bytes: median(runs.map((r) => r.peak_memory_bytes)),
    decode_bandwidth_fraction: median(runs.map((r, i) => (r.decode_tokens_per_s * bytesPerToken) / bandwidths[Math.min(i, bandwidths.length - 1)])),
  };
}

async function measureRow(model: string, dtype: BenchDType, runs: number): Promise<RowResult> {
  const { path, spec } = await ensureBenchFile(model, dtype); // written (and quantized) before any timing
  const bytesPerToken = (weightBytesPerToken(spec) / 4) * BYTES_PER_WEIGHT[dtype];
  const weft: RunResult[] = [];
  const llama: RunResult[] = [];
  let weftUnsupported: string | null = null;
  let llamaUnsupported: string | null = null;
  let agreement: RowResult['argmax_agreement'] = null;
  for (let r = 0; r < runs; r++) {
    const w: RunResult | { unsupported: string } | null = weftUnsupported ? null : await child('weft', model, dtype, null, r === 0);
    if (w && 'unsupported' in w) weftUnsupported = w.unsupported;
    else if (w) weft.push(w);
    // the teacher-forced sequence: prompt + weft's greedy ids (first run), so both engines see the same tokens
    const sequence = r === 0 && weft[0]?.generated ? [...promptIds(spec), ...weft[0].generated] : null;
    const l: RunResult | { unsupported: string } | null = llamaUnsupported ? null : await child('llama', model, dtype, sequence, false);
    if (l && 'unsupported' in l) llamaUnsupported = l.unsupported;
    else if (l) llama.push(l);
    if (r === 0 && weft[0]?.argmax && llama[0]?.argmax) {
      const a = weft[0].argmax;
      const b = llama[0].argmax;
      agreement = { equal: a.filter((t, i) => t === b[i]).length, positions: Math.min(a.length, b.length) };
    }
  }
  const bandwidths = weft.map((r) => r.read_bandwidth_bytes_per_s!);
  const weftSummary = weft.length ? summarize(weft, bytesPerToken, bandwidths) : null;
  const llamaSummary = llama.length && bandwidths.length ? summarize(llama, bytesPerToken, bandwidths) : null;
  return {
    model,
    dtype,
    threads: THREADS,
    file: path,
    weight_bytes_per_token: bytesPerToken,
    read_bandwidth_bytes_per_s: bandwidths.length ? median(bandwidths) : null,
    weft: weftSummary ?? { unsupported: weftUnsupported ?? 'no run' },
    llama_cpp: llamaSummary ?? { unsupported: llamaUnsupported ?? 'no run' },
    ratio: weftSummary && llamaSummary ? {
      prefill: weftSummary.prefill_tokens_per_s / llamaSummary.prefill_tokens_per_s,
      decode: weftSummary.decode_tokens_per_s / llamaSummary.decode_tokens_per_s,
      time_to_first_token: weftSummary.time_to_first_token_ms / llamaSummary.time_to_first_token_ms,
    } : null,
    argmax_agreement: agreement,
  };
}

function printResults(rows: RowResult[], runs: number): void {
  const cell = (s: EngineSummary | { unsupported: string }, f: (s: EngineSummary) => number | string) => ('unsupported' in s ? '—' : f(s));
  printTable(
    `weft (w) and llama.cpp (l, node-llama-cpp) on the same random-weight GGUF files: ${THREADS} thread, ${PROMPT_TOKENS}-token prompt, ${DECODE_TOKENS} decoded tokens, medians of ${runs} alternating runs`,
    ['model', 'dtype', 'load ms w/l', 'TTFT ms w/l', 'prefill tok/s w', 'l', 'w÷l', 'decode tok/s w', 'l', 'w÷l', 'MB/token', 'read GB/s', '% of read w/l', 'peak MB w/l', 'argmax agree'],
    rows.map((r) => [
      r.model,
      r.dtype,
      `${cell(r.weft, (s) => s.load_ms.toFixed(0))}/${cell(r.llama_cpp, (s) => s.load_ms.toFixed(0))}`,
      `${cell(r.weft, (s) => s.time_to_first_token_ms.toFixed(0))}/${cell(r.llama_cpp, (s) => s.time_to_first_token_ms.toFixed(0))}`,
      cell(r.weft, (s) => s.prefill_tokens_per_s),
      cell(r.llama_cpp, (s) => s.prefill_tokens_per_s),
      r.ratio ? r.ratio.prefill : '',
      cell(r.weft, (s) => s.decode_tokens_per_s),
      cell(r.llama_cpp, (s) => s.decode_tokens_per_s),
      r.ratio ? r.ratio.decode : '',
      r.weight_bytes_per_token / 1e6,
      r.read_bandwidth_bytes_per_s ? r.read_bandwidth_bytes_per_s / 1e9 : '',
      `${cell(r.weft, (s) => (100 * s.decode_bandwidth_fraction).toFixed(0))}/${cell(r.llama_cpp, (s) => (100 * s.decode_bandwidth_fraction).toFixed(0))}`,
      `${cell(r.weft, (s) => (s.peak_memory_bytes / 1e6).toFixed(0))}/${cell(r.llama_cpp, (s) => (s.peak_memory_bytes / 1e6).toFixed(0))}`,
      r.argmax_agreement ? `${r.argmax_agreement.equal}/${r.argmax_agreement.positions}` : '',
    ]),
  );
  for (const r of rows) {
    for (const [engine, s] of [['weft', r.weft], ['llama.cpp', r.llama_cpp]] as const) {
      if ('unsupported' in s) log(`${r.model} ${r.dtype}: ${engine} unsupported: ${s.unsupported}`);
    }
  }
}

async function main(argv: string[]): Promise<void> {
  const arg = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const engine = arg('--child');
  if (engine) {
    const [model, dtype] = [arg('--model')!, arg('--dtype') as BenchDType];
    const sequence = arg('--sequence')?.split(',').map(Number) ?? null;
    try {
      const result = engine === 'weft' ? await weftRun(model, dtype, argv.includes('--teacher-force')) : await llamaRun(model, dtype, sequence);
      process.stdout.write(JSON.stringify(result));
    } catch (e) {
      const unsupported = (e as { code?: string }).code === 'E_UNSUPPORTED';
      if (!unsupported) throw e;
      process.stdout.write(JSON.stringify({ unsupported: (e as Error).message }));
    }
    return;
  }
  const runs = Number(arg('--runs') ?? 3);
  if (!(Number.isInteger(runs) && runs > 0)) throw new Error(`--runs must be a positive integer, got ${arg('--runs')}`);
  const models = (arg('--models') ?? Object.keys(BENCH_MODELS).join(',')).split(',');
  const dtypes = (arg('--dtypes') ?? DTYPES.join(',')).split(',') as BenchDType[];
  for (const d of dtypes) if (!DTYPES.includes(d)) throw new Error(`--dtypes: unknown dtype '${d}' (known: ${DTYPES.join(', ')})`);
  const rows: RowResult[] = [];
  for (const model of models) for (const dtype of dtypes) rows.push(await measureRow(model, dtype, runs));
  printResults(rows, runs);
  if (JSON_OUTPUT) console.log(JSON.stringify({ prompt_tokens: PROMPT_TOKENS, decode_tokens: DECODE_TOKENS, context_length: CONTEXT_LENGTH, threads: THREADS, rows }, null, 2));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
