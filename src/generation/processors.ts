/**
 * The Hugging Face logits processors that depend on the sequence so far rather than on the distribution:
 * no_repeat_ngram_size, bad_words_ids, min_new_tokens, forced_bos_token_id, forced_eos_token_id. Greedy decoding and sampling apply
 * them to the logits (through the Sampler), beam search to each beam's log-probabilities, as HF does.
 *
 * "The sequence" is HF's `input_ids` at that step: for a decoder-only model the prompt and the tokens generated so
 * far; for an encoder-decoder model the decoder's ids, starting with `decoder_start_token_id`. Its first
 * `promptLength` ids are the prompt.
 *
 * Source followed (read, not copied): transformers `src/transformers/generation/logits_process.py` @
 * aa5108b449965084a90a4c8ce130a156aebf28f1 — NoRepeatNGramLogitsProcessor (with `_get_ngrams` /
 * `_calc_banned_ngram_tokens`), NoBadWordsLogitsProcessor, MinNewTokensLengthLogitsProcessor, ForcedBOSTokenLogitsProcessor,
 * ForcedEOSTokenLogitsProcessor; and their order in `GenerationMixin._get_logits_processor`
 * (`src/transformers/generation/utils.py` @ 1097d4b3f8dd6440add50f87a2784b03cc0b4c85): sequence bias, repetition
 * penalty, no-repeat n-gram, bad words, min new tokens, forced BOS, forced EOS, then (sampling only) the warpers.
 */
import { WeftError } from '../errors.js';

export interface ConstraintOptions {
  /** No n-gram of this size appears twice in the sequence (prompt included, as HF's input_ids). 0 or absent = off. */
  no_repeat_ngram_size?: number;
  /**
   * Token sequences never to generate: the last id of each is banned wherever the sequence so far ends with the
   * others (one-id entries always). Entries equal to [EOS] are ignored, as HF does.
   */
  bad_words_ids?: number[][];
  /** The EOS ids are banned until this many tokens were generated. */
  min_new_tokens?: number;
  /** The first generated token is this id (HF: when the sequence so far is one token long: the decoder start). */
  forced_bos_token_id?: number;
  /** The last token that max_new_tokens allows is this id. */
  forced_eos_token_id?: number;
}

/** Where the sequence stands, for the processors. */
export interface SequenceState {
  /** HF's input_ids: prompt (or decoder start) followed by the generated ids. */
  ids: readonly number[];
  promptLength: number;
  /** promptLength + max_new_tokens: HF's max_length. */
  maxLength: number;
  eosIds: readonly number[];
}

/** Throws E_OPTION naming the first invalid constraint option. */
export function checkConstraintOptions(o: ConstraintOptions, vocabSize: number): void {
  const count = (name: 'no_repeat_ngram_size' | 'min_new_tokens') => {
    const v = o[name];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new WeftError('E_OPTION', `option ${name} must be an integer ≥ 0, got ${String(v)}`);
  };
  count('no_repeat_ngram_size');
  const bad = o.bad_words_ids;
  if (bad !== undefined && !(Array.isArray(bad) && bad.every((w) => Array.isArray(w) && w.length > 0 && w.every((id) => Number.isInteger(id) && id >= 0 && id < vocabSize)))) {
    throw new WeftError('E_OPTION', `option bad_words_ids must be a list of non-empty lists of token ids in [0, ${vocabSize}), got ${JSON.stringify(bad)}`);
  }
  count('min_new_tokens');
  for (const name of ['forced_bos_token_id', 'forced_eos_token_id'] as const) {
    const v = o[name];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v < vocabSize)) {
      throw new WeftError('E_OPTION', `option ${name} must be a token id in [0, ${vocabSize}), got ${String(v)}`);
    }
  }
}

/** Applies the four processors, in HF's order, to one row of scores (logits or log-probs), in place. */
export function applyConstraints(scores: Float32Array | Float64Array, s: SequenceState, o: ConstraintOptions): void {
  if (o.no_repeat_ngram_size) banRepeatedNgrams(scores, s.ids, o.no_repeat_ngram_size);
  if (o.bad_words_ids) banBadWords(scores, s.ids, o.bad_words_ids, s.eosIds);
  if (o.min_new_tokens && s.ids.length - s.promptLength < o.min_new_tokens) for (const id of s.eosIds) scores[id] = -Infinity;
  // ForcedBOSTokenLogitsProcessor: `if cur_len == 1`, every other token −inf and the forced one 0.
  if (o.forced_bos_token_id !== undefined && s.ids.length === 1) forceToken(scores, o.forced_bos_token_id);
  // ForcedEOSTokenLogitsProcessor: `if cur_len == self.max_length - 1`.
  if (o.forced_eos_token_id !== undefined && s.ids.length === s.maxLength - 1) forceToken(scores, o.forced_eos_token_id);
}

/**
 * NoRepeatNGramLogitsProcessor: with n-gram size n, every token that followed an earlier occurrence of the last n−1
 * ids gets −inf (nothing before the sequence has n−1 ids: HF's `cur_len + 1 < ngram_size`).
 */
export function banRepeatedNgrams(scores: Float32Array | Float64Array, ids: readonly number[], n: number): void {
  const len = ids.length;
  if (len + 1 < n) return;
  const tail = len - (n - 1); // start of the last n−1 ids
  for (let start = 0; start + n <= len; start++) {
    let same = true;
    for (let j = 0; j < n - 1 && same; j++) same = ids[start + j] === ids[tail + j];
    if (same) scores[ids[start + n - 1]] = -Infinity;
  }
}

/** NoBadWordsLogitsProcessor: −inf for the last id of every bad sequence whose other ids end the sequence so far. */
export function banBadWords(scores: Float32Array | Float64Array, ids: readonly number[], bad: readonly number[][], eosIds: readonly number[]): void {
  for (const word of bad) {
    if (word.length === 1 && eosIds.includes(word[0])) continue;
    const prefix = word.length - 1;
    if (prefix > ids.length) continue;
    let match = true;
    for (let j = 0; j < prefix && match; j++) match = ids[ids.length - prefix + j] === word[j];
    if (match) scores[word[prefix]] = -Infinity;
  }
}

function forceToken(scores: Float32Array | Float64Array, id: number): void {
  scores.fill(-Infinity);
  scores[id] = 0;
}
