/**
 * Sentence embeddings from an encoder: texts → token ids → padded batches → hidden states → one vector per text.
 *
 *   texts ─ tokenizer (special tokens, truncation) ─ sort by length, batches of `batchSize` ─ encode(batch + mask)
 *     ─ pool each text over its own positions (mean | max | first token | BERT pooler | none) ─ [L2 normalise]
 *
 * Batches hold texts of similar length, so little work goes into padding; padding never changes a text's vector
 * (its keys are masked out of attention and pooling reads only the text's positions).
 */
import { WeftError } from '../errors.js';
import type { EncoderModel, LoadedModel, Pooling } from '../models/model.js';

export interface EmbedOptions {
  /** Default: the checkpoint's sentence-transformers pooling, else 'mean'. */
  pooling?: Pooling;
  /**
   * L2-normalise each vector (each position's, for 'none'). Default: the checkpoint's sentence-transformers Normalize
   * module (or GGUF pooling) for pooled vectors; false for 'none' and otherwise.
   */
  normalize?: boolean;
  /**
   * Texts longer than the model's positions are cut (keeping their special tokens) when true, the default;
   * false makes them an E_CONTEXT error.
   */
  truncation?: boolean;
  /** Called for each text that was cut, with its index, its token count and the count kept. */
  onTruncate?: (info: { index: number; tokens: number; kept: number }) => void;
  /** Texts per encoder call (default 32). */
  batchSize?: number;
}

/** Token ids per text, used as given (no special tokens added), and optional token types. */
export interface TokenInput {
  ids: number[][];
  tokenTypes?: number[][];
}

/** What a task needs of a loaded encoder. */
export type EncoderTask = Pick<LoadedModel<EncoderModel>, 'model' | 'tokenizer'>;

/**
 * One Float32Array per text: [hiddenSize] when pooled, or [positions × hiddenSize] (that text's own positions, no
 * padding) for pooling 'none'.
 */
export async function embed(lm: EncoderTask, input: string[] | TokenInput, options: EmbedOptions = {}): Promise<Float32Array[]> {
  const model = lm.model;
  const pooling = options.pooling ?? model.poolingDefaults?.pooling ?? 'mean';
  // sentence-transformers normalises sentence vectors, not per-token states.
  const normalize = options.normalize ?? (pooling !== 'none' && (model.poolingDefaults?.normalize ?? false));
  if (!['mean', 'cls', 'max', 'pooler', 'none'].includes(pooling)) throw new WeftError('E_OPTION', `option pooling: "${pooling}" is not one of mean, cls, max, pooler, none`);
  if (pooling === 'pooler' && !model.hasPooler) throw new WeftError('E_UNSUPPORTED', `option pooling: this ${model.config.modelType} checkpoint has no pooler (pooler.dense.weight)`);
  const { ids, tokenTypes } = tokensOf(lm, input, options);
  const hiddenSize = model.config.hiddenSize;
  const out: Float32Array[] = new Array<Float32Array>(ids.length);
  await forEachBatch(model, ids, tokenTypes, options.batchSize, pooling === 'pooler' ? { pooler: true } : {}, (index, result, row) => {
    const { data, length } = result.hidden;
    const n = ids[index].length;
    const at = (t: number) => (row * length + t) * hiddenSize; // start of position t of this text
    let v: Float32Array;
    if (pooling === 'none') v = data.slice(at(0), at(n));
    else if (pooling === 'cls') v = data.slice(at(0), at(1));
    else if (pooling === 'pooler') v = result.pooled!.slice(row * hiddenSize, (row + 1) * hiddenSize);
    else {
      const acc = new Float64Array(hiddenSize).fill(pooling === 'max' ? -Infinity : 0);
      for (let t = 0; t < n; t++) {
        for (let d = 0; d < hiddenSize; d++) {
          const x = data[at(t) + d];
          if (pooling === 'max') acc[d] = Math.max(acc[d], x);
          else acc[d] += x;
        }
      }
      if (pooling === 'mean') for (let d = 0; d < hiddenSize; d++) acc[d] /= n;
      v = Float32Array.from(acc);
    }
    out[index] = normalize ? l2Normalize(v, pooling === 'none' ? hiddenSize : v.length) : v;
  });
  return out;
}

/** cos(a, b) = a·b / (|a| |b|), in float64; 0 when either vector is all zeros. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new WeftError('E_OPTION', `cosineSimilarity: vectors of ${a.length} and ${b.length} values`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** Each row of `width` values divided by its L2 norm (rows of zeros stay zeros). */
function l2Normalize(v: Float32Array, width: number): Float32Array {
  for (let r = 0; r < v.length; r += width) {
    let sum = 0;
    for (let i = r; i < r + width; i++) sum += v[i] * v[i];
    // sentence-transformers' Normalize is torch's F.normalize: x / max(|x|, 1e-12)
    const norm = Math.max(Math.sqrt(sum), 1e-12);
    for (let i = r; i < r + width; i++) v[i] /= norm;
  }
  return v;
}

/** Token ids (with special tokens) and types per text; texts past the model's positions cut or refused. */
export function tokensOf(lm: EncoderTask, input: string[] | TokenInput, options: Pick<EmbedOptions, 'truncation' | 'onTruncate'>): { ids: number[][]; tokenTypes: number[][] | null } {
  const max = lm.model.config.maxPositions;
  const truncation = options.truncation ?? true;
  if (!Array.isArray(input)) {
    if (!Array.isArray(input.ids)) throw new WeftError('E_OPTION', 'the input should be a list of texts or { ids: number[][] }');
    input.ids.forEach((row, i) => {
      if (row.length === 0) throw new WeftError('E_OPTION', `text ${i} has no token ids`);
      if (row.length > max) throw new WeftError('E_CONTEXT', `text ${i} has ${row.length} token ids, past this model's ${max} positions (ids are used as given, never cut)`);
    });
    if (input.tokenTypes && (input.tokenTypes.length !== input.ids.length || input.tokenTypes.some((t, i) => t.length !== input.ids[i].length))) {
      throw new WeftError('E_OPTION', 'tokenTypes should have one entry per token id');
    }
    return { ids: input.ids, tokenTypes: input.tokenTypes ?? null };
  }
  const tokenizer = lm.tokenizer;
  if (!tokenizer) throw new WeftError('E_MISSING', 'this model has no tokenizer: give token ids, or load it with a tokenizer option');
  input.forEach((t, i) => {
    if (typeof t !== 'string') throw new WeftError('E_OPTION', `text ${i} is a ${typeof t}, not a string`);
  });
  const full = tokenizer.encodeBatch(input, { padding: false }).input_ids;
  const long = full.map((ids, i) => (ids.length > max ? i : -1)).filter((i) => i >= 0);
  if (long.length > 0 && !truncation) {
    const i = long[0];
    throw new WeftError('E_CONTEXT', `text ${i} has ${full[i].length} tokens, past this model's ${max} positions (truncation: true, the default, cuts it)`);
  }
  if (long.length > 0) {
    const cut = tokenizer.encodeBatch(long.map((i) => input[i]), { padding: false, truncation: true, max_length: max }).input_ids;
    long.forEach((i, k) => {
      options.onTruncate?.({ index: i, tokens: full[i].length, kept: cut[k].length });
      full[i] = cut[k];
    });
  }
  full.forEach((ids, i) => {
    // An empty string with a tokenizer that adds no special tokens has nothing to encode.
    if (ids.length === 0) throw new WeftError('E_OPTION', `text ${i} gives no tokens (an empty text, and the tokenizer adds no special tokens)`);
  });
  return { ids: full, tokenTypes: null };
}

/**
 * Runs texts through the encoder in length-sorted, right-padded batches; `each(index, output, row)` sees every
 * text once, with the output of its batch and its row there.
 */
export async function forEachBatch(
  model: EncoderModel,
  ids: number[][],
  tokenTypes: number[][] | null,
  batchSize: number | undefined,
  outputs: { pooler?: boolean; head?: boolean },
  each: (index: number, output: ReturnType<EncoderModel['encode']>, row: number) => void,
): Promise<void> {
  if (ids.length === 0) throw new WeftError('E_OPTION', 'no texts given (an empty batch)');
  const size = batchSize ?? 32;
  if (!Number.isInteger(size) || size < 1) throw new WeftError('E_OPTION', `option batchSize: ${batchSize} is not a positive integer`);
  const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length);
  const pad = model.config.padTokenId;
  for (let start = 0; start < order.length; start += size) {
    const group = order.slice(start, start + size);
    const T = Math.max(...group.map((i) => ids[i].length));
    const padded = (row: number[], value: number) => [...row, ...new Array<number>(T - row.length).fill(value)];
    const output = model.encode(
      {
        ids: group.map((i) => padded(ids[i], pad)),
        mask: group.map((i) => padded(ids[i].map(() => 1), 0)),
        tokenTypes: tokenTypes ? group.map((i) => padded(tokenTypes[i], 0)) : undefined,
      },
      outputs,
    );
    group.forEach((index, row) => each(index, output, row));
    await Promise.resolve(); // let other work run between batches
  }
}
