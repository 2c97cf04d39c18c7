/**
 * `npm run bench:encoder [-- --json] [-- --runs N]`: encoder-family speed, one thread, f32 weights, on random-weight
 * models shaped like real ones (bench/make-random-model.ts).
 *
 * Embeddings: sentences/s at batches of 1, 8 and 32 sentences of 32 tokens on an all-MiniLM-L6-v2-shaped BERT
 * (6 layers, hidden 384, 12 heads, FFN 1536, vocab 30522), through `embed` (mean pooling). Beside it, the achieved
 * GFLOP/s (linear layers 2·rows·in·out, attention 4·T²·hidden per layer) and, measured in the same run and
 * alternating with it, the linear kernel's own GFLOP/s at exactly the model's linear shapes (rows = batch·32):
 * their ratio is the share of the linear kernel's speed the whole encoder keeps; the rest goes to attention,
 * norms, GELU, embedding gathers and host work (pooling, batching).
 *
 * Text-to-text: tokens/s of greedy and 4-beam decoding on a T5-small-shaped model (d 512, 6 + 6 layers, vocab 32128).
 */
import { Rng } from '../src/generation/sampling.js';
import { generate, type GenerateOptions } from '../src/generation/generate.js';
import { loadEncoder, loadSeq2Seq } from '../src/models/model.js';
import { linear, packLinearWeight } from '../src/runtime/layout.js';
import { Runtime } from '../src/runtime/runtime.js';
import { embed } from '../src/tasks/embed.js';
import { ensureBenchModel } from './make-random-model.js';
import { JSON_OUTPUT, log, median, printTable, timeAlternating } from './util.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;
const TOKENS = 32;
const BATCHES = [1, 8, 32];

const rt = await Runtime.create({ threads: 1 }); // one thread, as the comparison with onnxruntime-web's is
const build = rt.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128';
log(`weft encoder benchmark: ${build} build, Node ${process.version}, one thread; medians of ${RUNS} alternating runs.\n`);

// ---- embeddings on the all-MiniLM-L6-v2 shape ----------------------------------------------------------------
const { dir, spec } = await ensureBenchModel('minilm-l6');
const lm = await loadEncoder(dir, { runtime: rt });
const c = spec.config as { hidden_size: number; intermediate_size: number; num_hidden_layers: number; vocab_size: number };
const d = c.hidden_size;
const ffn = c.intermediate_size;
const layers = c.num_hidden_layers;
/** The model's linear layers per token: fused q/k/v, attention output, FFN up, FFN down. */
const LINEAR_SHAPES: Array<[outF: number, inF: number]> = [[3 * d, d], [d, d], [ffn, d], [d, ffn]];
const linearFlopsPerToken = 2 * layers * LINEAR_SHAPES.reduce((n, [o, i]) => n + o * i, 0);
const attentionFlopsPerSentence = 4 * TOKENS * TOKENS * d * layers; // q·kᵀ and p·v, 2 flops per multiply-add each

const rng = new Rng(7);
const sentence = () => [101, ...Array.from({ length: TOKENS - 2 }, () => 1000 + (rng.nextU32() % (c.vocab_size - 1000))), 102];

// The linear layers alone, at the model's shapes, on packed random weights (weights beyond the model's own).
const weights = LINEAR_SHAPES.map(([o, i]) => packLinearWeight(rt, new Uint8Array(Float32Array.from({ length: o * i }, () => (rng.nextU32() / 2 ** 32 - 0.5) * 0.04).buffer), o, i, 'f32'));

interface Row {
  batch: number;
  tokens_per_sentence: number;
  sentences_per_s: number;
  gflops: number;
  linear_kernel_gflops: number;
  fraction_of_linear_kernel: number;
}
const rows: Row[] = [];
for (const batch of BATCHES) {
  const ids = Array.from({ length: batch }, sentence);
  const runModel = () => void embed(lm, { ids }, { pooling: 'mean', batchSize: batch });
  const runLinear = () => {
    rt.scratch.reset();
    const tokens = batch * TOKENS;
    for (let l = 0; l < layers; l++) {
      for (const w of weights) {
        const [o, i] = w.shape;
        linear(rt, rt.temp('f32', [tokens, i]), w, null, rt.temp('f32', [tokens, o]));
      }
    }
  };
  // embed is async only between batches; one batch here, so the call has finished when it returns.
  const [model, kernel] = timeAlternating([runModel, runLinear], RUNS);
  const sentencesPerS = batch / median(model);
  const flops = batch * (TOKENS * linearFlopsPerToken + attentionFlopsPerSentence);
  const gflops = (flops / median(model)) / 1e9;
  const linearGflops = (batch * TOKENS * linearFlopsPerToken / median(kernel)) / 1e9;
  const fractions = model.map((t, r) => (flops / t) / (batch * TOKENS * linearFlopsPerToken / kernel[r]));
  rows.push({ batch, tokens_per_sentence: TOKENS, sentences_per_s: sentencesPerS, gflops, linear_kernel_gflops: linearGflops, fraction_of_linear_kernel: median(fractions) });
}
printTable(
  `${spec.description}: embed (mean pooling), ${TOKENS} tokens per sentence; GFLOP/s counts linear layers + attention`,
  ['batch', 'sentences/s', 'GFLOP/s', 'linear kernel GFLOP/s', 'fraction'],
  rows.map((r) => [String(r.batch), r.sentences_per_s, r.gflops, r.linear_kernel_gflops, r.fraction_of_linear_kernel]),
);
lm.model.dispose();
for (const w of weights) rt.free(w);

// ---- T5 rows (t5 helper) ----------------------------------------------------------------------------------------
// T5-small shape, random weights: one 32-token input encoded once per call, then 32 new tokens (EOS disabled, so
// every run decodes the same count): greedy, and 4 beams (one forward of 4 rows per step, caches reordered).
// Tokens/s counts output tokens (beam steps for beam search) over the decode time; the whole call (encoder,
// prefill, decode) is beside it.
const NEW_TOKENS = 32;
const t5 = await ensureBenchModel('t5-small');
const s2s = await loadSeq2Seq(t5.dir, { runtime: rt });
const t5Vocab = (t5.spec.config as { vocab_size: number }).vocab_size;
const t5Input = [...Array.from({ length: TOKENS - 1 }, () => 100 + (rng.nextU32() % (t5Vocab - 100))), 1];
interface Seq2SeqRow {
  decoding: string;
  new_tokens: number;
  tokens_per_s: number;
  ms_per_step: number;
  call_ms: number;
}
const modes: Array<[string, GenerateOptions]> = [
  ['greedy', { temperature: 0 }],
  ['4 beams', { num_beams: 4 }],
];
const perMode = modes.map(() => ({ rates: [] as number[], calls: [] as number[] }));
for (let round = 0; round <= RUNS; round++) {
  for (const [i, [, options]] of modes.entries()) {
    const t = performance.now();
    const r = await generate(s2s, t5Input, { ...options, max_new_tokens: NEW_TOKENS, eos_token_id: [] });
    if (round === 0) continue; // warm-up
    perMode[i].calls.push(performance.now() - t);
    perMode[i].rates.push(r.timings.decodeTokensPerS);
  }
}
const seq2seq: Seq2SeqRow[] = modes.map(([decoding], i) => {
  const rate = median(perMode[i].rates);
  return { decoding, new_tokens: NEW_TOKENS, tokens_per_s: rate, ms_per_step: 1000 / rate, call_ms: median(perMode[i].calls) };
});
printTable(
  `${t5.spec.description}: ${TOKENS}-token input, ${NEW_TOKENS} new tokens`,
  ['decoding', 'tokens/s', 'ms/step', 'call ms'],
  seq2seq.map((r) => [r.decoding, r.tokens_per_s, r.ms_per_step, r.call_ms]),
);
s2s.model.dispose();

if (JSON_OUTPUT) console.log(JSON.stringify({ build, node: process.version, runs: RUNS, embeddings: rows, seq2seq }, null, 2));
rt.dispose();
