/**
 * Beam search, with Hugging Face's semantics (transformers `GenerationMixin._beam_search`, the vectorized version in
 * `src/transformers/generation/utils.py` @ 1097d4b3f8dd6440add50f87a2784b03cc0b4c85; its length penalty and
 * early-stopping rules are those of `BeamHypotheses` in `beam_search.py` @ 4e7bd11fa959587a64a649050c30c999afae66c8).
 * Read, not copied. One step:
 *
 *   scores[b][t] = running[b].score + processed(log_softmax(logits[b]))[t]         (every beam b, every token t)
 *   candidates   = the top K = max(2, 1 + #EOS ids) · num_beams of scores          ("get_top_k_continuations")
 *   a candidate "hits a stop" if its token is an EOS id or the sequence reaches max_length
 *   running'     = the best num_beams candidates that do not hit a stop            ("get_running_beams_for_next_iteration")
 *   finished'    = the best num_beams of finished ∪ {candidates among the top num_beams that hit a stop, scored
 *                  sum_logprobs / generated_length ** length_penalty}              ("update_finished_beams")
 *   go on while a running beam can still beat the worst finished one, not all finished with early_stopping true,
 *   and some candidate did not hit a stop                                          ("_beam_search_has_unfinished_sequences")
 *
 * Only beam 0 starts with score 0 (the others −1e9) so the first step does not pick the same token num_beams times.
 * `generated_length` counts the generated tokens, EOS included (HF's `cur_len + 1 - decoder_prompt_len`).
 * early_stopping: true stops once num_beams hypotheses are finished; false (HF's default) stops when the best
 * running score divided by the current length's penalty cannot beat the worst finished one; "never" divides by the
 * longest possible length when length_penalty > 0, which makes the bound exact (canonical beam search).
 *
 * The model keeps one KV cache per beam and reorders them itself (`BeamDecoder.stepBeams` gets each beam's parent):
 * a beam whose parent is used once takes over the parent's cache; only a parent with several children is copied.
 */
import { WeftError } from '../errors.js';
import { applyConstraints, type ConstraintOptions } from './processors.js';
import { applyPenalties, type SamplingOptions } from './sampling.js';

export interface BeamOptions {
  /** Beams kept at each step (default 1: no beam search). */
  num_beams?: number;
  /** Exponent of the generated length that divides a finished hypothesis's summed log-probability (default 1). */
  length_penalty?: number;
  /** true, false (default) or "never": see the top of beam.ts. */
  early_stopping?: boolean | 'never';
  /** Hypotheses returned, best first (default 1, at most num_beams). */
  num_return_sequences?: number;
}

/** Beams allowed: each holds a KV cache, so a number far past any use is refused before memory is spent on it. */
export const MAX_BEAMS = 512;

/** Throws E_OPTION naming the first invalid beam option. */
export function checkBeamOptions(o: BeamOptions): void {
  const beams = o.num_beams ?? 1;
  if (!(Number.isInteger(beams) && beams >= 1 && beams <= MAX_BEAMS)) {
    throw new WeftError('E_OPTION', `option num_beams must be an integer in [1, ${MAX_BEAMS}], got ${String(o.num_beams)}`);
  }
  if (o.length_penalty !== undefined && !Number.isFinite(o.length_penalty)) throw new WeftError('E_OPTION', `option length_penalty must be a finite number, got ${String(o.length_penalty)}`);
  if (o.early_stopping !== undefined && typeof o.early_stopping !== 'boolean' && o.early_stopping !== 'never') {
    throw new WeftError('E_OPTION', `option early_stopping must be true, false or "never", got ${JSON.stringify(o.early_stopping)}`);
  }
  const n = o.num_return_sequences ?? 1;
  if (!(Number.isInteger(n) && n >= 1 && n <= beams)) {
    throw new WeftError('E_OPTION', `option num_return_sequences must be an integer in [1, num_beams = ${beams}], got ${String(o.num_return_sequences)}`);
  }
}

/** What beam search needs of a model whose cache holds the prompt (or the decoder start) already. */
export interface BeamDecoder {
  readonly config: { vocabSize: number };
  /** Opens `n` beams, each continuing the sequence in the model's cache, reaching at most `maxLength` positions. */
  beginBeams(n: number, maxLength: number): void;
  /**
   * Beam b becomes (the previous step's) beam parents[b] followed by ids[b]; returns the logits of every beam,
   * [n × vocab] row-major. In the first step every parent is 0.
   */
  stepBeams(parents: readonly number[], ids: readonly number[]): Float32Array;
  /** Frees the beams' caches. */
  endBeams(): void;
}

export interface BeamHypothesis {
  /** Generated ids (the EOS id included when the hypothesis ended with one). */
  ids: number[];
  /** sum of log-probabilities / generated length ** length_penalty (HF's `sequences_scores`). */
  score: number;
  finishedByEos: boolean;
}

export interface BeamRun {
  /** HF's input_ids before generation: the prompt, or [decoder_start_token_id]. */
  promptIds: readonly number[];
  maxNewTokens: number;
  eosIds: readonly number[];
  options: BeamOptions & ConstraintOptions & SamplingOptions;
  signal?: AbortSignal;
  /** Called between steps; returning a promise lets the event loop run (timers, abort signals). */
  pause?: () => Promise<void> | void;
}

/** −1e9 as HF: the score of the initial non-first beams and the mark of a candidate that may not be chosen. */
const BLOCKED = -1e9;

interface Candidate {
  beam: number;
  token: number;
  /** Summed (processed) log-probability. */
  score: number;
  hitsStop: boolean;
}

/**
 * Runs beam search from `firstLogits` (the logits after the prompt) and returns the finished hypotheses, best first
 * (num_return_sequences of them), and whether an abort ended the search early (then the best running beams are
 * returned as they are).
 */
export async function beamSearch(model: BeamDecoder, firstLogits: Float32Array, run: BeamRun): Promise<{ hypotheses: BeamHypothesis[]; aborted: boolean; steps: number }> {
  const o = run.options;
  const numBeams = o.num_beams ?? 1;
  const lengthPenalty = o.length_penalty ?? 1;
  const earlyStopping = o.early_stopping ?? false;
  const vocab = model.config.vocabSize;
  const eos = new Set(run.eosIds);
  const promptLength = run.promptIds.length;
  const maxLength = promptLength + run.maxNewTokens;
  const k = Math.max(2, 1 + eos.size) * numBeams;
  const processes =
    !!o.logit_bias || (o.repetition_penalty !== undefined && o.repetition_penalty !== 1) || !!o.presence_penalty || !!o.frequency_penalty ||
    !!o.no_repeat_ngram_size || !!o.bad_words_ids || !!o.min_new_tokens || o.forced_bos_token_id !== undefined || o.forced_eos_token_id !== undefined;

  let running = Array.from({ length: numBeams }, (_, b) => ({ ids: [] as number[], score: b === 0 ? 0 : BLOCKED }));
  let finished = Array.from({ length: numBeams }, () => ({ ids: [] as number[], score: BLOCKED, done: false, byEos: false }));
  let logits = firstLogits;
  let first = true;
  let curLen = promptLength;
  let aborted = false;
  let steps = 0;
  model.beginBeams(numBeams, maxLength);
  try {
    for (;;) {
      // b. log-probabilities, processed per beam (on its own sequence), plus the beam's running score
      const top = new TopK(k);
      const row = new Float64Array(vocab);
      for (let b = 0; b < numBeams; b++) {
        const x = first ? firstLogits : logits.subarray(b * vocab, (b + 1) * vocab);
        const base = running[b].score;
        if (processes) {
          logSoftmax(x, row);
          const ids = [...run.promptIds, ...running[b].ids];
          applyPenalties(row, o, ids, counts(running[b].ids));
          applyConstraints(row, { ids, promptLength, maxLength, eosIds: run.eosIds }, o);
          for (let t = 0; t < vocab; t++) top.offer(base + row[t], b * vocab + t);
        } else {
          // No processor: offer base + log_softmax(x)[t] without writing the row (a quarter of a step's host time).
          const shift = base - logSumExp(x);
          for (let t = 0; t < vocab; t++) top.offer(shift + x[t], b * vocab + t);
        }
      }
      // c, d. the top-K continuations, and which of them end their sequence
      const candidates: Candidate[] = top.entries().map(({ value, index }) => {
        const token = index % vocab;
        return { beam: Math.floor(index / vocab), token, score: value, hitsStop: eos.has(token) || curLen + 1 >= maxLength };
      });

      // e. the best num_beams candidates that go on (a stopped one is marked down by −1e9, as HF, not removed)
      const goOn = rankBy(candidates.map((c) => c.score + (c.hitsStop ? BLOCKED : 0))).slice(0, numBeams);
      const nextRunning = goOn.map((i) => ({ ids: [...running[candidates[i].beam].ids, candidates[i].token], score: candidates[i].score + (candidates[i].hitsStop ? BLOCKED : 0) }));
      const parents = goOn.map((i) => candidates[i].beam);

      // f. merge newly finished hypotheses (only from the top num_beams candidates) into the finished list
      const full = finished.every((f) => f.done) && earlyStopping === true;
      const generated = curLen + 1 - promptLength;
      const fresh = candidates.map((c, i) => {
        const done = c.hitsStop && i < numBeams;
        const score = c.score / generated ** lengthPenalty + (full ? BLOCKED : 0) + (done ? 0 : BLOCKED);
        return { ids: [...running[c.beam].ids, c.token], score, done, byEos: eos.has(c.token) };
      });
      const merged = [...finished, ...fresh];
      finished = rankBy(merged.map((m) => m.score)).slice(0, numBeams).map((i) => merged[i]);

      running = nextRunning;
      curLen++;
      steps++;
      if (!hasUnfinished(running[0].score, finished, candidates, { curLen, maxLength, promptLength, earlyStopping, lengthPenalty })) break;
      await run.pause?.();
      if (run.signal?.aborted) {
        aborted = true;
        break;
      }
      // g. the caches follow their beams; one forward step for all beams
      logits = model.stepBeams(parents, nextRunning.map((r) => r.ids[r.ids.length - 1]));
      first = false;
    }
  } finally {
    model.endBeams();
  }
  const count = o.num_return_sequences ?? 1;
  const hypotheses = aborted
    ? running.slice(0, count).map((r) => ({ ids: r.ids, score: r.score / Math.max(1, r.ids.length) ** lengthPenalty, finishedByEos: false }))
    : finished.filter((f) => f.done).slice(0, count).map((f) => ({ ids: f.ids, score: f.score, finishedByEos: f.byEos }));
  return { hypotheses, aborted, steps };
}

/**
 * HF's `_beam_search_has_unfinished_sequences`: (a) the best running beam, at the most favourable length, can
 * still beat the worst finished hypothesis (or a finished slot is still empty); (b) not all slots are finished with
 * early_stopping true; (c) some candidate of this step did not hit a stop.
 */
function hasUnfinished(
  bestRunning: number,
  finished: ReadonlyArray<{ score: number; done: boolean }>,
  candidates: readonly Candidate[],
  s: { curLen: number; maxLength: number; promptLength: number; earlyStopping: boolean | 'never'; lengthPenalty: number },
): boolean {
  const length = s.earlyStopping === 'never' && s.lengthPenalty > 0 ? s.maxLength - s.promptLength : s.curLen - s.promptLength;
  const bestPossible = bestRunning / length ** s.lengthPenalty;
  const allDone = finished.every((f) => f.done);
  const worstFinished = allDone ? Math.min(...finished.map((f) => f.score)) : BLOCKED;
  const improvementPossible = bestPossible > worstFinished;
  const openBeam = !(allDone && s.earlyStopping === true);
  const validContinuations = !candidates.every((c) => c.hitsStop);
  return improvementPossible && openBeam && validContinuations;
}

/** Indices of `values` from the largest down; equal values keep their order (NaN counts as −∞). */
function rankBy(values: readonly number[]): number[] {
  const key = (i: number) => (Number.isNaN(values[i]) ? -Infinity : values[i]);
  return values.map((_, i) => i).sort((a, b) => key(b) - key(a) || a - b);
}

/** y = log_softmax(x) in float64; −∞ where x is −∞ (a banned token) or NaN. */
export function logSoftmax(x: ArrayLike<number>, y: Float64Array): void {
  const logSum = logSumExp(x);
  for (let i = 0; i < x.length; i++) y[i] = Number.isNaN(x[i]) ? -Infinity : x[i] - logSum;
}

/** log Σ exp(x) in float64, shifted by the maximum (NaN entries left out). */
function logSumExp(x: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < x.length; i++) if (!Number.isNaN(x[i])) sum += Math.exp(x[i] - max);
  return max + Math.log(sum);
}

function counts(ids: readonly number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

/**
 * The k largest (value, index) pairs offered, largest first; among equal values the lower index first (offers come
 * in increasing index order, so a later equal value never displaces an earlier one). NaN is never kept.
 */
class TopK {
  private readonly values: number[] = [];
  private readonly indices: number[] = [];
  /** Once k values are held, an offer must beat the k-th: this. */
  private floor = -Infinity;

  constructor(private readonly k: number) {}

  offer(value: number, index: number): void {
    const n = this.values.length;
    if (n === this.k ? !(value > this.floor) : Number.isNaN(value)) return;
    let i = n === this.k ? n - 1 : n;
    while (i > 0 && this.values[i - 1] < value) {
      this.values[i] = this.values[i - 1];
      this.indices[i] = this.indices[i - 1];
      i--;
    }
    this.values[i] = value;
    this.indices[i] = index;
    if (this.values.length === this.k) this.floor = this.values[this.k - 1];
  }

  entries(): Array<{ value: number; index: number }> {
    return this.values.map((value, i) => ({ value, index: this.indices[i] }));
  }
}
