/**
 * The Hugging Face logits processors that depend on the sequence so far rather than on the distribution:
 * no_repeat_ngram_size, min_new_tokens, forced_bos_token_id, forced_eos_token_id. Greedy decoding and sampling apply
 * them to the logits (through the Sampler), beam search to each beam's log-probabilities, as HF does.
 *
 * "The sequence" is HF's `input_ids` at that step: for a decoder-only model the prompt and the tokens generated so
 * far; for an encoder-decoder model the decoder's ids, starting with `decoder_start_token_id`. Its first
 * `promptLength` ids are the prompt.
 *
 * Source followed (read, not copied): transformers `src/transformers/generation/logits_process.py` @
 * aa5108b449965084a90a4c8ce130a156aebf28f1 — NoRepeatNGramLogitsProcessor (with `_get_ngrams` /
 * `_calc_banned_ngram_tokens`), MinNewTokensLengthLogitsProcessor, ForcedBOSTokenLogitsProcessor,
 * ForcedEOSTokenLogitsProcessor; and their order in `GenerationMixin._get_logits_processor`
 * (`src/transformers/generation/utils.py` @ 1097d4b3f8dd6440add50f87a2784b03cc0b4c85): sequence bias, repetition
 * penalty, no-repeat n-gram, min new tokens, forced BOS, forced EOS, then (sampling only) the warpers.
 */
import { WeftError } from '../errors.js';

export interface ConstraintOptions {
  /** No n-gram of this size appears twice in the sequence (prompt included, as HF's input_ids). 0 or absent = off. */
  no_repeat_ngram_size?: number;
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
  const count = (name: keyof ConstraintOptions) => {
    const v = o[name];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new WeftError('E_OPTION', `option ${name} must be an integer ≥ 0, got ${String(v)}`);
  };
  count('no_repeat_ngram_size');
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

function forceToken(scores: Float32Array | Float64Array, id: number): void {
  scores.fill(-Infinity);
  scores[id] = 0;
}
