/**
 * `npm run bench [-- --json] [-- --runs N] [-- --models gpt2-124m,smollm2-135m]`: generation speed on random-weight
 * models shaped like GPT-2 124M and SmolLM2-135M (bench/make-random-model.ts), one thread, f32 weights.
 *
 * Per model, in a child process of its own (so that its peak resident memory is its own), each run loads the
 * model, prefills a 128-token prompt and decodes 64 tokens greedily; the table shows medians over the runs:
 * load time, time to first token, prefill tokens/s, decode tokens/s, peak memory; and the weight bytes a decoded
 * token reads against the read bandwidth of the same process, measured right after each run (`ReadProbe`: a SIMD
 * sum over a 1 GiB buffer filled with data): decode tokens/s × bytes per token ÷ bandwidth, per run, is the
 * fraction of the memory speed decoding reaches; the table shows its median.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generate } from '../src/generation/generate.js';
import { Rng } from '../src/generation/sampling.js';
import { loadModel } from '../src/models/model.js';
import { Runtime } from '../src/runtime/runtime.js';
import { BENCH_MODELS, ensureBenchModel, weightBytesPerToken } from './make-random-model.js';
import { JSON_OUTPUT, median, printTable, ReadProbe } from './util.js';

const PROMPT_TOKENS = 128;
const DECODE_TOKENS = 64;
/** The KV cache the models get: GPT-2's full context; SmolLM2's 8192 would only cost memory here. */
const CONTEXT_LENGTH = 1024;

interface ModelResult {
  model: string;
  description: string;
  runs: number;
  load_ms: number;
  time_to_first_token_ms: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  weight_bytes_per_token: number;
  read_bandwidth_bytes_per_s: number;
  decode_bandwidth_fraction: number;
  peak_memory_bytes: number;
  /** Which kernel build ran: 'relaxed-SIMD' or 'SIMD128'. */
  build: string;
}

/** Runs in the child: measures one model and prints its ModelResult as JSON. */
async function measure(name: string, runs: number): Promise<ModelResult> {
  const { dir, spec } = await ensureBenchModel(name);
  const rt = await Runtime.create();
  const rng = new Rng(2024);
  const vocab = spec.config.vocab_size as number;
  const prompt = Array.from({ length: PROMPT_TOKENS }, () => rng.nextU32() % vocab);
  const loads: number[] = [];
  const ttft: number[] = [];
  const prefill: number[] = [];
  const decode: number[] = [];
  const bandwidths: number[] = [];
  let peakMemory = 0;
  let probe: ReadProbe | null = null;
  for (let r = 0; r < runs; r++) {
    const lm = await loadModel(dir, { runtime: rt, contextLength: CONTEXT_LENGTH });
    try {
      // DECODE_TOKENS + 1 new tokens: the first comes from the prefill, the other 64 from one-token forwards.
      const out = await generate(lm, prompt, { temperature: 0, max_new_tokens: DECODE_TOKENS + 1, eos_token_id: [] });
      if (out.timings.decodeTokens !== DECODE_TOKENS) throw new Error(`${name}: decoded ${out.timings.decodeTokens} tokens, expected ${DECODE_TOKENS}`);
      loads.push(lm.loadMs);
      ttft.push(out.timings.timeToFirstTokenMs);
      prefill.push(out.timings.prefillTokensPerS);
      decode.push(out.timings.decodeTokensPerS);
    } finally {
      lm.model.dispose();
    }
    // The read probe right after each run, so each run's decode is set against the bandwidth of the same moment of
    // this shared machine. Peak memory is read once, after the first run and before the 1 GiB probe buffer exists.
    if (!probe) {
      peakMemory = process.resourceUsage().maxRSS * 1024;
      probe = new ReadProbe(rt);
    }
    bandwidths.push(probe.bytesPerSecond());
  }
  probe?.free();
  const bandwidth = median(bandwidths);
  const bytesPerToken = weightBytesPerToken(spec);
  const decodeRate = median(decode);
  return {
    model: spec.name,
    description: spec.description,
    runs,
    load_ms: median(loads),
    time_to_first_token_ms: median(ttft),
    prefill_tokens_per_s: median(prefill),
    decode_tokens_per_s: decodeRate,
    weight_bytes_per_token: bytesPerToken,
    read_bandwidth_bytes_per_s: bandwidth,
    decode_bandwidth_fraction: median(decode.map((rate, r) => (rate * bytesPerToken) / bandwidths[r])),
    peak_memory_bytes: peakMemory,
    build: rt.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128',
  };
}

/** Runs `measure` for one model in a fresh Node process with the same loader (tsx) flags. */
function measureInChild(name: string, runs: number): Promise<ModelResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', name, '--runs', String(runs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as ModelResult) : reject(new Error(`bench child for ${name} exited with ${code}`))));
  });
}

function printResults(results: ModelResult[]): void {
  printTable(
    `weft generation: f32 random weights, one thread, ${PROMPT_TOKENS}-token prompt, ${DECODE_TOKENS} decoded tokens, medians of ${results[0]?.runs} runs, ${results[0]?.build} build`,
    ['model', 'load ms', 'TTFT ms', 'prefill tok/s', 'decode tok/s', 'weights MB/token', 'read GB/s', 'decode % of read bw', 'peak RSS MB'],
    results.map((r) => [
      r.model,
      r.load_ms,
      r.time_to_first_token_ms,
      r.prefill_tokens_per_s,
      r.decode_tokens_per_s,
      r.weight_bytes_per_token / 1e6,
      r.read_bandwidth_bytes_per_s / 1e9,
      `${(r.decode_bandwidth_fraction * 100).toFixed(0)}%`,
      r.peak_memory_bytes / 1e6,
    ]),
  );
}

async function main(argv: string[]): Promise<void> {
  const arg = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const runs = Number(arg('--runs') ?? 3);
  if (!(Number.isInteger(runs) && runs > 0)) throw new Error(`--runs must be a positive integer, got ${arg('--runs')}`);
  const child = arg('--child');
  if (child) {
    process.stdout.write(JSON.stringify(await measure(child, runs)));
    return;
  }
  const names = (arg('--models') ?? Object.keys(BENCH_MODELS).join(',')).split(',');
  const results: ModelResult[] = [];
  for (const name of names) {
    await ensureBenchModel(name); // written once, before the timed child starts
    results.push(await measureInChild(name, runs));
  }
  printResults(results);
  if (JSON_OUTPUT) console.log(JSON.stringify({ prompt_tokens: PROMPT_TOKENS, decode_tokens: DECODE_TOKENS, context_length: CONTEXT_LENGTH, threads: 1, dtype: 'f32', results }, null, 2));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
