/**
 * Choosing the next token from a row of logits. Everything here is a pure function of its arguments (plus the
 * explicit `Rng` state), so a seed gives the same tokens in Node, browsers and Workers.
 *
 * The order follows Hugging Face's `_get_logits_processor`: logit bias, repetition penalty and the OpenAI
 * presence/frequency penalties change the logits (also for greedy decoding); then, when sampling, temperature,
 * top-k, top-p and min-p filter the distribution, and one uniform draw picks a token from what remains.
 */
import { WeftError } from '../errors.js';
import { applyConstraints, type ConstraintOptions } from './processors.js';

export interface SamplingOptions {
  /** 0 = greedy (argmax). Logits are divided by it before the filters. */
  temperature?: number;
  /** Keep the k highest logits (ties with the k-th are kept, as HF does). 0 or absent = off. */
  top_k?: number;
  /** Nucleus: keep the most probable tokens whose probabilities add up to at least top_p. 1 = off. */
  top_p?: number;
  /** Drop tokens whose probability is below min_p × the highest probability. 0 = off. */
  min_p?: number;
  /** HF / CTRL repetition penalty over every id seen (prompt and generated): >1 discourages, 1 = off. */
  repetition_penalty?: number;
  /** OpenAI: subtracted once from the logit of every token generated so far. */
  presence_penalty?: number;
  /** OpenAI: subtracted once per occurrence from the logit of every token generated so far. */
  frequency_penalty?: number;
  /** Added to the logits of the given token ids (OpenAI `logit_bias`); -Infinity bans a token. */
  logit_bias?: Record<number, number>;
  /** Seed of the PRNG (an integer in [0, 2^53)). Absent = a random seed. */
  seed?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// PRNG: xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators, scrambled", 2016; the
// same generator as llama2.c's run.c): state ^= state >> 12; state ^= state << 25; state ^= state >> 27; output the
// high 32 bits of state × 0x2545F4914F6CDD1D. The seed goes through one round of splitmix64 first, so that every
// seed — 0 included — gives a non-zero state. All arithmetic is exact 64-bit integer math (BigInt), and a float is
// the top 24 bits of an output / 2^24, exact in every engine. One draw per token, so BigInt's cost does not matter.
// ---------------------------------------------------------------------------------------------------------------
const MASK64 = (1n << 64n) - 1n;

export class Rng {
  private state: bigint;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new WeftError('E_OPTION', `seed must be an integer in [0, 2^53), got ${seed}`);
    // splitmix64 of the seed
    let z = (BigInt(seed) + 0x9e3779b97f4a7c15n) & MASK64;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    this.state = z ^ (z >> 31n);
    if (this.state === 0n) this.state = 1n; // splitmix64 is a bijection: exactly one seed could map to 0
  }

  /** The next 32 random bits as an unsigned integer. */
  nextU32(): number {
    let s = this.state;
    s ^= s >> 12n;
    s = (s ^ (s << 25n)) & MASK64;
    s ^= s >> 27n;
    this.state = s;
    return Number(((s * 0x2545f4914f6cdd1dn) & MASK64) >> 32n);
  }

  /** A uniform float in [0, 1) with 24 random bits. */
  nextFloat(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
}

/** A seed for callers that gave none (not reproducible; pass `seed` for that). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

// ---- validation --------------------------------------------------------------------------------------------------

/**
 * Throws E_OPTION naming the first invalid sampling option. `vocabSize` bounds the ids of `logit_bias`; `where`
 * says whose options they are in messages: the caller's ("option"), or a file's ("generation_config.json:").
 */
export function checkSamplingOptions(o: SamplingOptions, vocabSize: number, where = 'option'): void {
  const bad = (name: string, value: unknown, want: string) => new WeftError('E_OPTION', `${where} ${name} must be ${want}, got ${JSON.stringify(value) ?? String(value)}`);
  const number = (name: keyof SamplingOptions, ok: (v: number) => boolean, want: string): void => {
    const v = o[name];
    if (v !== undefined && !(typeof v === 'number' && ok(v))) throw bad(name, v, want);
  };
  number('temperature', (v) => Number.isFinite(v) && v >= 0, 'a number ≥ 0');
  number('top_k', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
  number('top_p', (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  number('min_p', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  number('repetition_penalty', (v) => Number.isFinite(v) && v > 0, 'a number > 0');
  number('presence_penalty', Number.isFinite, 'a finite number');
  number('frequency_penalty', Number.isFinite, 'a finite number');
  number('seed', (v) => Number.isSafeInteger(v) && v >= 0, 'an integer in [0, 2^53)');
  const bias = o.logit_bias;
  if (bias === undefined) return;
  if (typeof bias !== 'object' || bias === null || Array.isArray(bias)) throw bad('logit_bias', bias, 'an object of token id → bias');
  for (const [key, b] of Object.entries(bias)) {
    const id = Number(key);
    if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw bad(`logit_bias[${key}]`, key, `a token id in [0, ${vocabSize})`);
    if (typeof b !== 'number' || Number.isNaN(b) || b === Infinity) throw bad(`logit_bias[${key}]`, b, 'a number or -Infinity');
  }
}

// ---- logit processors (in place) ----------------------------------------------------------------------------------

/** logits[id] += bias for every entry of `bias` (OpenAI `logit_bias`). */
export function applyLogitBias(logits: Float32Array | Float64Array, bias: Record<number, number>): void {
  for (const [id, b] of Object.entries(bias)) logits[Number(id)] += b;
}

/**
 * Hugging Face's RepetitionPenaltyLogitsProcessor (from CTRL): once per distinct id in `seen`, a negative logit is
 * multiplied by the penalty and a positive one divided by it, so a penalty > 1 always lowers the token.
 */
export function applyRepetitionPenalty(logits: Float32Array | Float64Array, seen: Iterable<number>, penalty: number): void {
  for (const id of new Set(seen)) {
    const l = logits[id];
    logits[id] = l < 0 ? l * penalty : l / penalty;
  }
}

/**
 * OpenAI's presence and frequency penalties: mu[j] -= c[j] × frequency + (c[j] > 0) × presence, where c[j] counts the
 * occurrences of token j in the text generated so far. `counts` maps id → c[j].
 */
export function applyPresenceFrequencyPenalty(logits: Float32Array | Float64Array, counts: ReadonlyMap<number, number>, presence: number, frequency: number): void {
  for (const [id, c] of counts) if (c > 0) logits[id] -= c * frequency + presence;
}

// ---- choosing a token --------------------------------------------------------------------------------------------

/**
 * Index of the largest logit; ties go to the lowest id (run.c's strict '>'). NaN never wins; -1 when no logit is
 * above -Infinity (every token banned).
 */
export function argmax(logits: ArrayLike<number>): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > bestValue) {
      bestValue = logits[i];
      best = i;
    }
  }
  return best;
}

/**
 * The distribution sampling draws from: softmax(logits / temperature) restricted by top-k, then top-p, then min-p
 * (each as HF's warper: the later filters see the earlier ones' result). Returns the surviving ids in increasing
 * order and their probabilities (summing to 1). `temperature` must be > 0.
 */
export function samplingDistribution(
  logits: ArrayLike<number>,
  o: Pick<SamplingOptions, 'top_k' | 'top_p' | 'min_p'> & { temperature: number },
): { ids: Int32Array; probs: Float64Array } {
  const n = logits.length;
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = Number.isNaN(logits[i]) ? -Infinity : logits[i] / o.temperature;

  // top-k (TopKLogitsWarper): drop every logit below the k-th largest; ties with it survive.
  let threshold = -Infinity;
  if (o.top_k && o.top_k < n) {
    const sorted = scaled.slice().sort(); // typed-array sort: ascending, numeric
    threshold = sorted[n - o.top_k];
  }
  let ids: number[] = [];
  for (let i = 0; i < n; i++) if (scaled[i] >= threshold && scaled[i] > -Infinity) ids.push(i);
  if (ids.length === 0) throw noCandidates();

  // top-p (TopPLogitsWarper): sort ascending by probability, drop the prefix whose cumulative probability is
  // ≤ 1 - top_p, keep at least the most probable token. Equal probabilities drop the higher id first.
  if (o.top_p !== undefined && o.top_p < 1) {
    const p = softmaxOver(scaled, ids);
    const order = ids.map((_, j) => j).sort((a, b) => p[a] - p[b] || ids[b] - ids[a]);
    const keep = new Uint8Array(ids.length).fill(1);
    let cumulative = 0;
    for (let r = 0; r < order.length - 1; r++) {
      cumulative += p[order[r]];
      if (cumulative > 1 - o.top_p) break;
      keep[order[r]] = 0;
    }
    ids = ids.filter((_, j) => keep[j]);
  }

  // min-p (MinPLogitsWarper): drop probabilities below min_p × the largest; the largest always stays.
  if (o.min_p) {
    const p = softmaxOver(scaled, ids);
    let pMax = 0;
    for (const q of p) pMax = Math.max(pMax, q);
    ids = ids.filter((_, j) => p[j] >= o.min_p! * pMax);
  }

  return { ids: Int32Array.from(ids), probs: softmaxOver(scaled, ids) };
}

/** Every logit is -Infinity after logit_bias: there is nothing to choose from (never silently id 0). */
function noCandidates(): WeftError {
  return new WeftError('E_OPTION', 'no token can be chosen: logit_bias (or the penalties) banned every token of the vocabulary');
}

/** softmax of `values` restricted to `ids`, in float64. */
function softmaxOver(values: Float64Array, ids: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < ids.length; j++) max = Math.max(max, values[ids[j]]);
  const p = new Float64Array(ids.length);
  let sum = 0;
  for (let j = 0; j < ids.length; j++) sum += p[j] = Math.exp(values[ids[j]] - max);
  for (let j = 0; j < ids.length; j++) p[j] /= sum;
  return p;
}

/** Inverse-CDF draw: the first id whose cumulative probability exceeds u ∈ [0, 1), walking ids in increasing order. */
export function drawFrom(dist: { ids: Int32Array; probs: Float64Array }, u: number): number {
  let cumulative = 0;
  for (let j = 0; j < dist.ids.length; j++) {
    cumulative += dist.probs[j];
    if (u < cumulative) return dist.ids[j];
  }
  return dist.ids[dist.ids.length - 1]; // u beyond the rounded total
}

/**
 * What the generation loop needs to sample: the options resolved once, and per-sequence state (the PRNG, the ids
 * seen, the counts of generated ids, and the sequence itself for the constraint processors).
 */
export class Sampler {
  private readonly rng: Rng;
  private readonly seen: Set<number>;
  private readonly generatedCounts = new Map<number, number>();
  /** HF's input_ids: the prompt (or decoder start) and the ids chosen so far. */
  private readonly ids: number[];
  private readonly promptLength: number;

  constructor(
    private readonly options: SamplingOptions & ConstraintOptions,
    promptIds: readonly number[],
    /** For the constraint processors: HF's max_length (prompt + max_new_tokens) and the EOS ids. */
    private readonly limits: { maxLength: number; eosIds: readonly number[] } = { maxLength: Infinity, eosIds: [] },
  ) {
    this.rng = new Rng(options.seed ?? randomSeed());
    this.seen = new Set(promptIds);
    this.ids = [...promptIds];
    this.promptLength = promptIds.length;
  }

  /** Picks the next id from `logits` (modified in place by the penalties, bias and constraints). */
  next(logits: Float32Array): number {
    const o = this.options;
    applyPenalties(logits, o, this.seen, this.generatedCounts);
    applyConstraints(logits, { ids: this.ids, promptLength: this.promptLength, ...this.limits }, o);
    const temperature = o.temperature ?? 1;
    const id = temperature === 0 ? argmax(logits) : drawFrom(samplingDistribution(logits, { ...o, temperature }), this.rng.nextFloat());
    if (id < 0) throw noCandidates();
    this.seen.add(id);
    this.ids.push(id);
    this.generatedCounts.set(id, (this.generatedCounts.get(id) ?? 0) + 1);
    return id;
  }
}

/**
 * Logit bias, repetition penalty (over `seen`: prompt and generated ids) and presence/frequency penalties (over the
 * generated ids' counts), in place, in HF's order (sequence bias, then repetition penalty).
 */
export function applyPenalties(scores: Float32Array | Float64Array, o: SamplingOptions, seen: Iterable<number>, generatedCounts: ReadonlyMap<number, number>): void {
  if (o.logit_bias) applyLogitBias(scores, o.logit_bias);
  if (o.repetition_penalty !== undefined && o.repetition_penalty !== 1) applyRepetitionPenalty(scores, seen, o.repetition_penalty);
  if (o.presence_penalty || o.frequency_penalty) applyPresenceFrequencyPenalty(scores, generatedCounts, o.presence_penalty ?? 0, o.frequency_penalty ?? 0);
}
