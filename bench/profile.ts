/**
 * `npm run bench:profile -- <model file or bench name> [--dtype q4_k] [--json]`: where a forward's time goes, by
 * kernel. One thread; a 128-token prefill and 64 one-token decode steps, after one untimed warm-up of the same size
 * (see bench/generate.ts); every wasm kernel call is timed by a wrapper on `rt.kernels` (a call costs ~0.1 µs
 * more, against the ~10–500 µs of a matmul), and "host" is the rest: JS between the calls.
 *
 *   model ──▶ warm-up (prefill 128 + decode 64) ──▶ timed prefill 128 ──▶ timed decode 64 ──▶ table per phase
 *
 * A bench name (`smollm2-135m`, `gpt2-124m`) with `--dtype` picks the file `npm run bench` measures.
 */
import { existsSync } from 'node:fs';
import { loadModel } from '../src/models/load.js';
import { Runtime } from '../src/runtime/runtime.js';
import { BENCH_MODELS, ensureBenchFile, type BenchDType } from './make-random-model.js';
import { JSON_OUTPUT, log, printTable, randomPromptIds } from './util.js';

const PROMPT_TOKENS = 128;
const DECODE_TOKENS = 64;

/** A model file's path as given, or the file `npm run bench` measures for a bench model name and dtype. */
async function modelPath(name: string, dtype: BenchDType): Promise<string> {
  if (existsSync(name)) return name;
  if (!(name in BENCH_MODELS)) throw new Error(`${name}: neither a file nor a bench model (${Object.keys(BENCH_MODELS).join(', ')})`);
  return (await ensureBenchFile(name, dtype)).path;
}

async function main(argv: string[]): Promise<void> {
  const name = argv.find((a, i) => !a.startsWith('--') && argv[i - 1] !== '--dtype');
  if (!name) throw new Error('usage: npm run bench:profile -- <model file | bench model name> [--dtype f32|f16|bf16|q8_0|q4_0|q4_k] [--json]');
  const dtype = (argv.includes('--dtype') ? argv[argv.indexOf('--dtype') + 1] : 'f32') as BenchDType;
  const path = await modelPath(name, dtype);
  const rt = await Runtime.create({ threads: 1 });
  const lm = await loadModel(path, { runtime: rt, contextLength: 1024 });
  const times = new Map<string, { ms: number; calls: number }>();
  // the instance's exports are frozen: the runtime gets a copy whose functions time themselves
  const timed: Record<string, unknown> = {};
  for (const [kernel, f] of Object.entries(rt.kernels)) {
    timed[kernel] = typeof f !== 'function' ? f : (...args: number[]) => {
      const t0 = performance.now();
      const result = (f as (...a: number[]) => unknown)(...args);
      const entry = times.get(kernel) ?? { ms: 0, calls: 0 };
      entry.ms += performance.now() - t0;
      entry.calls++;
      times.set(kernel, entry);
      return result;
    };
  }
  (rt as { kernels: unknown }).kernels = timed;
  const vocab = lm.model.config.vocabSize;
  const prompt = randomPromptIds(vocab, PROMPT_TOKENS);
  const phases: Array<{ phase: string; tokens: number; ms: number; kernels: Map<string, { ms: number; calls: number }> }> = [];
  for (const timed of [false, true]) {
    lm.model.reset();
    for (const [phase, run, tokens] of [
      ['prefill', () => lm.model.forward(prompt), PROMPT_TOKENS],
      ['decode', () => { for (let i = 0; i < DECODE_TOKENS; i++) lm.model.forward([prompt[i]]); }, DECODE_TOKENS],
    ] as const) {
      times.clear();
      const t0 = performance.now();
      run();
      const ms = performance.now() - t0;
      if (timed) phases.push({ phase, tokens, ms, kernels: new Map(times) });
    }
  }
  lm.model.dispose();
  for (const p of phases) {
    const inKernels = [...p.kernels.values()].reduce((s, k) => s + k.ms, 0);
    const rows: Array<Array<string | number>> = [...p.kernels.entries()].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => [k, String(v.calls), v.ms, v.ms / p.tokens, (100 * v.ms) / p.ms]);
    rows.push(['(host: JS between calls)', '', p.ms - inKernels, (p.ms - inKernels) / p.tokens, (100 * (p.ms - inKernels)) / p.ms]);
    printTable(`${path}: ${p.phase} of ${p.tokens} tokens, ${p.ms.toFixed(1)} ms (${((1000 * p.tokens) / p.ms).toFixed(1)} tok/s)`, ['kernel', 'calls', 'ms', 'ms/token', '%'], rows);
  }
  if (JSON_OUTPUT) console.log(JSON.stringify({ file: path, phases: phases.map((p) => ({ ...p, kernels: Object.fromEntries(p.kernels) })) }, null, 2));
}

main(process.argv.slice(2)).catch((e) => {
  log(String(e instanceof Error ? e.stack : e));
  process.exitCode = 1;
});
