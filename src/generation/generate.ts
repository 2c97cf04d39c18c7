/**
 * Text generation: one loop (`run`) that prefills the prompt, then samples, decodes and feeds back one token at a
 * time. `stream` hands out its text pieces as they become final; `generate` drains the same loop and returns the
 * whole result; `chat` renders messages through the tokenizer's chat template first and keeps the KV cache of the
 * previous turn when the new prompt starts with it.
 *
 * An encoder-decoder model (T5, BART, Marian) encodes the prompt once and generates from decoder_start_token_id;
 * `promptIds` are then the encoder's ids and `ids` the decoder's, without the start id.
 *
 * With num_beams > 1, beam search (beam.ts) replaces the token-by-token loop: the text comes in one piece at the
 * end (the best beam is known only then), and `sequences` holds the num_return_sequences best hypotheses.
 *
 * Stopping, checked after every token: an EOS id (the model's, from generation_config.json / GGUF metadata; the
 * llama2.c loader lists BOS = 1, as run.c stops there), a stop string, max_new_tokens, the end of the context, or
 * the AbortSignal.
 */
import { WeftError } from '../errors.js';
import type { CausalLM, LoadedModel, Seq2SeqLM } from '../models/model.js';
import { beamSearch, checkBeamOptions, type BeamDecoder, type BeamOptions } from './beam.js';
import { checkConstraintOptions, type ConstraintOptions } from './processors.js';
import { checkSamplingOptions, Sampler, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions, ConstraintOptions, BeamOptions {
  /** Tokens to generate at most (default 256, llama2.c's default). Generation also ends at the context's end. */
  max_new_tokens?: number;
  /** Text that ends generation when produced; it is not part of the output. */
  stop?: string | string[];
  /** Ids that end generation (default: the model's EOS ids). [] never stops on a token. */
  eos_token_id?: number | number[];
  signal?: AbortSignal;
  /** For a text prompt: add BOS/EOS as the tokenizer's config says (default true). */
  add_special_tokens?: boolean;
  /**
   * Keep the cached positions that the new prompt shares with what the previous call on this model left in the
   * KV cache (default false: every call starts from an empty cache, so results do not depend on history).
   */
  reuse_cache?: boolean;
  /**
   * When the prompt and max_new_tokens do not fit in the context: drop the oldest prompt tokens (keeping a leading
   * BOS) instead of failing with E_CONTEXT (default false).
   */
  truncate_prompt?: boolean;
}

export type FinishReason = 'length' | 'eos' | 'stop' | 'abort';

export interface GenerationTimings {
  /** Prompt tokens run through the model (fewer than the prompt when a cached prefix was reused). */
  prefillTokens: number;
  prefillMs: number;
  /** From the start of the call to the first token chosen (prefill plus one sampling step). */
  timeToFirstTokenMs: number;
  /** One-token forwards after the prefill, and their total time. */
  decodeTokens: number;
  decodeMs: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
}

export interface GenerateResult {
  /** The generated text (stop string and EOS excluded). */
  text: string;
  /** The generated ids, including the EOS id or the token that completed a stop string. */
  ids: number[];
  promptIds: number[];
  finishReason: FinishReason;
  timings: GenerationTimings;
  /** Beam search only: the num_return_sequences best hypotheses, best first (the first is `ids` / `text`). */
  sequences?: BeamSequence[];
}

export interface BeamSequence {
  ids: number[];
  text: string;
  /** Summed log-probability / generated length ** length_penalty (HF's sequences_scores). */
  score: number;
}

/** What generation needs of a loaded model: a decoder-only or an encoder-decoder language model. */
export type LanguageModel = Pick<LoadedModel<CausalLM | Seq2SeqLM>, 'model' | 'tokenizer' | 'generationConfig'>;

export interface ChatMessage {
  role: string;
  content: string;
}

const DEFAULT_MAX_NEW_TOKENS = 256;
/** How often (ms of compute) the loop lets the event loop run, so timers and abort signals fire during generate(). */
const YIELD_EVERY_MS = 10;

/** Generates from a text prompt (needs a tokenizer) or from token ids. */
export async function generate(lm: LanguageModel, prompt: string | number[], options: GenerateOptions = {}): Promise<GenerateResult> {
  const loop = run(lm, prompt, options);
  for (;;) {
    const step = await loop.next();
    if (step.done) return step.value;
  }
}

/**
 * The same generation as `generate`, as an async iterator of text pieces (never splitting a UTF-8 character,
 * never showing a stop string). The iterator's return value (`next()` with done: true) is the GenerateResult.
 */
export function stream(lm: LanguageModel, prompt: string | number[], options: GenerateOptions = {}): AsyncGenerator<string, GenerateResult, void> {
  return run(lm, prompt, options);
}

/** The prompt ids of a conversation: the tokenizer's chat template with the generation prompt appended. */
export function chatPromptIds(lm: LanguageModel, messages: ChatMessage[]): number[] {
  checkRequest(lm, '', undefined);
  if (!Array.isArray(messages) || !messages.every((m) => typeof m === 'object' && m !== null && typeof m.role === 'string' && typeof m.content === 'string')) {
    throw new WeftError('E_OPTION', 'chat: messages must be an array of { role: string, content: string }');
  }
  if (!lm.tokenizer) throw new WeftError('E_MISSING', 'chat needs a tokenizer with a chat template; this model has no tokenizer');
  const text = lm.tokenizer.applyChatTemplate(messages, { add_generation_prompt: true });
  // The template writes the special tokens (BOS, turn markers) itself, as HF's apply_chat_template(tokenize=True).
  return lm.tokenizer.encode(text, { add_special_tokens: false });
}

/** Answers the last message of a conversation, reusing the KV cache of the previous turn where it matches. */
export async function chat(lm: LanguageModel, messages: ChatMessage[], options: GenerateOptions = {}): Promise<GenerateResult> {
  return generate(lm, chatPromptIds(lm, messages), { reuse_cache: true, ...options });
}

/** `chat` as a stream of text pieces. */
export function chatStream(lm: LanguageModel, messages: ChatMessage[], options: GenerateOptions = {}): AsyncGenerator<string, GenerateResult, void> {
  return stream(lm, chatPromptIds(lm, messages), { reuse_cache: true, ...options });
}

// ---- the loop ------------------------------------------------------------------------------------------------------

async function* run(lm: LanguageModel, prompt: string | number[], options: GenerateOptions): AsyncGenerator<string, GenerateResult, void> {
  checkRequest(lm, prompt, options);
  const { model, tokenizer } = lm;
  const o = withGenerationConfig(options ?? {}, lm.generationConfig, model.config.vocabSize);
  checkGenerateOptions(o, model.config.vocabSize);
  const maxNewTokens = o.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS;
  const stops = typeof o.stop === 'string' ? [o.stop] : (o.stop ?? []);
  if (stops.length && !tokenizer) throw new WeftError('E_OPTION', 'option stop needs a tokenizer to see the text; this model has none');
  const eosIds = new Set(o.eos_token_id === undefined ? model.config.eosTokenIds : typeof o.eos_token_id === 'number' ? [o.eos_token_id] : o.eos_token_id);
  const truncate = o.truncate_prompt ?? false;
  // (an encoder-decoder's input is the encoder's, which the decoder's context does not bound)
  const inputIds = promptToIds(lm, prompt, o.add_special_tokens ?? true, truncate || model.kind === 'encoder-decoder');
  // The decoder's prompt: the prompt itself, or (encoder-decoder) the start id after encoding the prompt once.
  let promptIds: number[];
  if (model.kind === 'encoder-decoder') {
    model.encode(inputIds);
    promptIds = [model.config.decoderStartTokenId];
  } else {
    promptIds = fitToContext(inputIds, model.config, maxNewTokens, truncate);
  }
  if ((o.num_beams ?? 1) > 1) return yield* runBeams(lm, model.kind === 'encoder-decoder' ? inputIds : promptIds, promptIds, o, maxNewTokens, [...eosIds], stops.length > 0);

  const sampler = new Sampler(o, promptIds, { maxLength: promptIds.length + maxNewTokens, eosIds: [...eosIds] });
  // The decoder sees the prompt first (its output discarded) so the first generated piece is decoded in context:
  // SentencePiece drops the leading space only of the sequence's first piece, llama2.c only right after BOS. An
  // encoder-decoder's output is a sequence of its own: nothing comes before its first piece.
  const decoder = tokenizer?.streamDetokenizer({ skip_special_tokens: true });
  if (decoder && model.kind === 'causal-lm') for (const id of promptIds) decoder.push(id);
  const stopFilter = new StopStrings(stops);

  const ids: number[] = [];
  let text = '';
  const timings: GenerationTimings = { prefillTokens: 0, prefillMs: 0, timeToFirstTokenMs: 0, decodeTokens: 0, decodeMs: 0, prefillTokensPerS: 0, decodeTokensPerS: 0 };
  let finishReason: FinishReason | null = maxNewTokens === 0 ? 'length' : o.signal?.aborted ? 'abort' : null;

  if (finishReason === null) {
    const start = performance.now();
    const prefill = prefillWithCache(model, promptIds, (o.reuse_cache ?? false) && model.kind === 'causal-lm');
    let logits = checkLogits(prefill.logits, 0);
    timings.prefillTokens = prefill.tokens;
    timings.prefillMs = performance.now() - start;
    let lastYield = performance.now();
    for (;;) {
      const id = sampler.next(logits);
      if (ids.length === 0) timings.timeToFirstTokenMs = performance.now() - start;
      ids.push(id);
      if (eosIds.has(id)) {
        finishReason = 'eos';
        break;
      }
      if (decoder) {
        const piece = stopFilter.push(decoder.push(id));
        if (piece.text) {
          text += piece.text;
          yield piece.text;
        }
        if (piece.stopped) {
          finishReason = 'stop';
          break;
        }
      }
      if (ids.length >= maxNewTokens || model.cacheLength >= model.config.contextLength) {
        finishReason = 'length';
        break;
      }
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (o.signal?.aborted) {
        finishReason = 'abort';
        break;
      }
      const t = performance.now();
      logits = checkLogits(forwardTracked(model, [id]), ids.length);
      timings.decodeMs += performance.now() - t;
      timings.decodeTokens++;
    }
  }

  if (decoder && finishReason !== 'stop') {
    // The held-back text is final now: a partial UTF-8 sequence flushes as U+FFFD, a partial stop string as text.
    const last = stopFilter.push(decoder.flush());
    if (last.stopped) finishReason = 'stop';
    const tail = last.text + stopFilter.flush();
    if (tail) {
      text += tail;
      yield tail;
    }
  }
  return { text, ids, promptIds: model.kind === 'encoder-decoder' ? inputIds : promptIds, finishReason: finishReason!, timings: withRates(timings) };
}

/**
 * Beam search from the decoder prompt (beam.ts). The model's cache keeps the prompt afterwards. The text arrives
 * in one piece, once the best hypothesis is known. `reportedPromptIds`: the result's promptIds (the encoder's
 * input for an encoder-decoder).
 */
async function* runBeams(
  lm: LanguageModel,
  reportedPromptIds: number[],
  promptIds: number[],
  o: GenerateOptions,
  maxNewTokens: number,
  eosIds: number[],
  hasStops: boolean,
): AsyncGenerator<string, GenerateResult, void> {
  const { model, tokenizer } = lm;
  if (o.temperature) throw new WeftError('E_OPTION', `option num_beams > 1 is beam search, which does not sample: temperature must be 0 (got ${o.temperature})`);
  if (hasStops) throw new WeftError('E_OPTION', 'option stop is not supported with num_beams > 1 (a stop string would end one beam, not the search)');
  if (!model.beginBeams || !model.stepBeams || !model.endBeams) throw new WeftError('E_UNSUPPORTED', `beam search is not available for ${model.config.modelType} models`);
  const timings: GenerationTimings = { prefillTokens: 0, prefillMs: 0, timeToFirstTokenMs: 0, decodeTokens: 0, decodeMs: 0, prefillTokensPerS: 0, decodeTokensPerS: 0 };
  const start = performance.now();
  const room = Math.min(maxNewTokens, model.config.contextLength - promptIds.length);
  if (maxNewTokens === 0 || o.signal?.aborted || room <= 0) {
    return { text: '', ids: [], promptIds: reportedPromptIds, finishReason: o.signal?.aborted && maxNewTokens > 0 ? 'abort' : 'length', timings, sequences: [] };
  }
  const firstLogits = checkLogits(prefillWithCache(model, promptIds, false).logits, 0);
  timings.prefillTokens = promptIds.length;
  timings.prefillMs = performance.now() - start;
  let lastYield = performance.now();
  const beamModel = model as BeamDecoder & typeof model;
  const search = await beamSearch(beamModel, firstLogits, {
    promptIds,
    maxNewTokens: room,
    eosIds,
    options: o,
    signal: o.signal,
    pause: async () => {
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    },
  });
  model.truncate(promptIds.length); // what the record of prefillWithCache says the cache holds
  timings.timeToFirstTokenMs = performance.now() - start;
  timings.decodeTokens = search.steps;
  timings.decodeMs = timings.timeToFirstTokenMs - timings.prefillMs;
  const decode = (ids: number[]) => tokenizer?.decode(ids, { skip_special_tokens: true }) ?? '';
  const sequences = search.hypotheses.map((h) => ({ ids: h.ids, text: decode(h.ids), score: h.score }));
  const best = search.hypotheses[0];
  const text = sequences[0]?.text ?? '';
  if (text) yield text;
  const finishReason: FinishReason = search.aborted ? 'abort' : best?.finishedByEos ? 'eos' : 'length';
  return { text, ids: best?.ids ?? [], promptIds: reportedPromptIds, finishReason, timings: withRates(timings), sequences };
}

function withRates(t: GenerationTimings): GenerationTimings {
  return {
    ...t,
    prefillTokensPerS: t.prefillMs > 0 ? (t.prefillTokens * 1000) / t.prefillMs : 0,
    decodeTokensPerS: t.decodeMs > 0 ? (t.decodeTokens * 1000) / t.decodeMs : 0,
  };
}

/**
 * With `truncate`, the last prompt tokens that leave room for maxNewTokens in the context (at least one is kept, and
 * a leading BOS stays first: models are trained with it at position 0). Without it the prompt is returned as is,
 * and one past the context fails in the model with E_CONTEXT.
 */
function fitToContext(ids: number[], config: CausalLM['config'], maxNewTokens: number, truncate: boolean): number[] {
  if (!truncate || ids.length + maxNewTokens <= config.contextLength) return ids;
  const bos = config.bosTokenId !== null && ids[0] === config.bosTokenId ? [ids[0]] : [];
  const keep = Math.max(1, config.contextLength - maxNewTokens - bos.length);
  return [...bos, ...ids.slice(Math.max(bos.length, ids.length - keep))];
}

/**
 * Throws E_OPTION naming the first invalid option (`vocabSize` bounds token ids; callers that check before loading
 * a model pass Infinity).
 */
export function checkGenerateOptions(o: GenerateOptions, vocabSize: number): void {
  checkSamplingOptions(o, vocabSize);
  checkConstraintOptions(o, vocabSize);
  checkBeamOptions(o);
  if (o.max_new_tokens !== undefined && !(Number.isInteger(o.max_new_tokens) && o.max_new_tokens >= 0)) {
    throw new WeftError('E_OPTION', `option max_new_tokens must be an integer ≥ 0, got ${o.max_new_tokens}`);
  }
  const stops = typeof o.stop === 'string' ? [o.stop] : (o.stop ?? []);
  if (!Array.isArray(stops) || stops.some((s) => typeof s !== 'string' || s.length === 0)) throw new WeftError('E_OPTION', 'option stop must be a non-empty string or a list of them');
  for (const flag of ['truncate_prompt', 'add_special_tokens', 'reuse_cache'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw new WeftError('E_OPTION', `option ${flag} must be true or false, got ${JSON.stringify(o[flag])}`);
  }
  if (o.eos_token_id !== undefined) {
    const list = typeof o.eos_token_id === 'number' ? [o.eos_token_id] : o.eos_token_id;
    if (!Array.isArray(list) || !list.every((id) => Number.isInteger(id) && id >= 0 && id < vocabSize)) {
      throw new WeftError('E_OPTION', `option eos_token_id must be a token id in [0, ${vocabSize}) or a list of them, got ${JSON.stringify(o.eos_token_id)}`);
    }
  }
  if (o.signal !== undefined && !(typeof o.signal === 'object' && o.signal !== null && typeof o.signal.aborted === 'boolean')) {
    throw new WeftError('E_OPTION', 'option signal must be an AbortSignal');
  }
}

/**
 * The arguments as a caller wrote them: a model from loadModel, a prompt that is text or token ids, options that
 * are an object. Each mistake is an E_OPTION error saying what was expected, not a TypeError from deep inside.
 */
function checkRequest(lm: LanguageModel, prompt: unknown, options: unknown): void {
  const model = (lm as { model?: { forward?: unknown; config?: unknown } } | null)?.model;
  if (typeof lm !== 'object' || lm === null || typeof model?.forward !== 'function' || typeof model.config !== 'object') {
    throw new WeftError('E_OPTION', `generate: the first argument must be what loadModel returns ({ model, tokenizer, … }), got ${describeValue(lm)}`);
  }
  if (typeof prompt !== 'string' && !Array.isArray(prompt)) {
    throw new WeftError('E_OPTION', `generate: the prompt must be a string or an array of token ids, got ${describeValue(prompt)}`);
  }
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new WeftError('E_OPTION', `generate: options must be an object (or left out), got ${describeValue(options)}`);
  }
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined || typeof v !== 'object') return typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : String(v);
  return Array.isArray(v) ? 'an array' : `an object with keys [${Object.keys(v).slice(0, 5).join(', ')}]`;
}

/**
 * Logits with a NaN or +Infinity come from broken weights or hyper-parameters; sampling from them would emit id 0
 * forever. One pass over a vocabulary-long row costs ~0.05 ms against a forward's milliseconds, so every row is
 * checked. (-Infinity alone is a legitimate "impossible" logit.)
 */
function checkLogits(logits: Float32Array, step: number): Float32Array {
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v !== v || v === Infinity) {
      throw new WeftError('E_NUMERIC', `the model computed a ${v !== v ? 'NaN' : 'infinite'} logit (token ${i}) at generation step ${step}: its weights or hyper-parameters are broken`);
    }
  }
  return logits;
}

/**
 * Fills in sampling defaults from generation_config.json the way HF does: the config's temperature, top_k, top_p
 * apply only when it says do_sample: true; without do_sample and without an explicit temperature, decoding is
 * greedy. min_p, repetition_penalty, the beam options (num_beams, length_penalty, early_stopping) and the
 * sequence processors apply whenever the config gives them. Explicit options always win. The file's sampling
 * values are checked as the file's (an error names generation_config.json, not an option of the caller).
 */
function withGenerationConfig(options: GenerateOptions, config: Record<string, unknown>, vocabSize: number): GenerateOptions {
  const sampling = config.do_sample === true;
  const num = (key: string) => (typeof config[key] === 'number' ? (config[key] as number) : undefined);
  const fromFile: SamplingOptions = {
    temperature: sampling ? ((config.temperature as number | undefined) ?? 1) : 0,
    top_k: sampling ? (config.top_k as number | undefined) : undefined,
    top_p: sampling ? (config.top_p as number | undefined) : undefined,
    min_p: config.min_p as number | undefined,
    repetition_penalty: config.repetition_penalty as number | undefined,
  };
  for (const key of Object.keys(fromFile) as Array<keyof SamplingOptions>) if (fromFile[key] === null) delete fromFile[key]; // null = unset in HF files
  checkSamplingOptions(fromFile, vocabSize, 'generation_config.json: field');
  return {
    ...options,
    temperature: options.temperature ?? fromFile.temperature,
    top_k: options.top_k ?? fromFile.top_k,
    top_p: options.top_p ?? fromFile.top_p,
    min_p: options.min_p ?? fromFile.min_p,
    repetition_penalty: options.repetition_penalty ?? fromFile.repetition_penalty,
    // beam search and the sequence processors, as HF's generate reads them from the generation config
    num_beams: options.num_beams ?? num('num_beams'),
    length_penalty: options.length_penalty ?? num('length_penalty'),
    early_stopping: options.early_stopping ?? (typeof config.early_stopping === 'boolean' || config.early_stopping === 'never' ? config.early_stopping : undefined),
    no_repeat_ngram_size: options.no_repeat_ngram_size ?? num('no_repeat_ngram_size'),
    bad_words_ids: options.bad_words_ids ?? (Array.isArray(config.bad_words_ids) ? (config.bad_words_ids as number[][]) : undefined),
    min_new_tokens: options.min_new_tokens ?? num('min_new_tokens'),
    forced_bos_token_id: options.forced_bos_token_id ?? num('forced_bos_token_id'),
    forced_eos_token_id: options.forced_eos_token_id ?? num('forced_eos_token_id'),
  };
}

function promptToIds(lm: LanguageModel, prompt: string | number[], addSpecialTokens: boolean, truncate: boolean): number[] {
  const { vocabSize, bosTokenId, contextLength } = lm.model.config;
  let ids: number[];
  if (typeof prompt === 'string') {
    if (!lm.tokenizer) throw new WeftError('E_MISSING', 'a text prompt needs a tokenizer, and this model has none: pass token ids or a tokenizer file');
    // Without truncation, a prompt past the context fails as soon as that is known, not after tokenizing it all.
    ids = lm.tokenizer.encode(prompt, { add_special_tokens: addSpecialTokens, max_tokens: truncate ? undefined : contextLength });
  } else {
    ids = [...prompt];
    const bad = ids.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < vocabSize));
    if (bad >= 0) throw new WeftError('E_OPTION', `prompt token ${bad} is ${ids[bad]}, not a token id in [0, ${vocabSize})`);
  }
  // An empty prompt starts from BOS, as HF's generate does.
  if (ids.length === 0) {
    if (bosTokenId === null) throw new WeftError('E_OPTION', 'the prompt is empty and the model has no BOS token to start from');
    ids = [bosTokenId];
  }
  return ids;
}

// ---- the KV cache across calls -------------------------------------------------------------------------------------

/** The ids whose keys and values each model's cache holds, in order, as far as this module fed them. */
const cachedIds = new WeakMap<LanguageModel['model'], number[]>();

function forwardTracked(model: LanguageModel['model'], ids: number[]): Float32Array {
  const logits = model.forward(ids);
  cachedIds.get(model)?.push(...ids);
  return logits;
}

/**
 * Runs the prompt, keeping the longest cached prefix it shares with the previous call when `reuse` is set (and
 * the record matches the cache: someone else may have called forward since). At least the last prompt token is
 * always run, for its logits.
 */
function prefillWithCache(model: LanguageModel['model'], promptIds: number[], reuse: boolean): { logits: Float32Array; tokens: number } {
  const cached = cachedIds.get(model);
  let keep = 0;
  if (reuse && cached && cached.length === model.cacheLength) {
    const limit = Math.min(cached.length, promptIds.length - 1);
    while (keep < limit && cached[keep] === promptIds[keep]) keep++;
  }
  if (keep > 0) {
    model.truncate(keep);
    cached!.length = keep;
  } else {
    model.reset();
    cachedIds.set(model, []);
  }
  const rest = promptIds.slice(keep);
  return { logits: forwardTracked(model, rest), tokens: rest.length };
}

// ---- stop strings --------------------------------------------------------------------------------------------------

/**
 * Holds back text that might be the start of a stop string until the next piece settles it, so a stop string
 * split across tokens is still caught and never shown.
 */
export class StopStrings {
  private pending = '';

  constructor(private readonly stops: readonly string[]) {}

  /** Adds a piece; returns the text that is now safe to show, and whether a stop string was completed. */
  push(piece: string): { text: string; stopped: boolean } {
    this.pending += piece;
    if (this.stops.length === 0) return { text: this.flush(), stopped: false };
    let cut = -1;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      const text = this.pending.slice(0, cut);
      this.pending = '';
      return { text, stopped: true };
    }
    let hold = 0; // the longest end of `pending` that is a proper prefix of some stop string
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    const text = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { text, stopped: false };
  }

  /** Everything held back (at the end of generation it is plain text). */
  flush(): string {
    const text = this.pending;
    this.pending = '';
    return text;
  }
}

/** What `pickYield` looks for in the global scope (a parameter so a test can offer a browser's set). */
export interface YieldHost {
  setImmediate?: (callback: () => void) => unknown;
  scheduler?: { yield?: () => Promise<void> };
  MessageChannel?: typeof MessageChannel;
  setTimeout?: (callback: () => void, ms: number) => unknown;
}

/**
 * How the generation loop gives the event loop a turn (timers, I/O, input, rendering), the cheapest way each
 * runtime offers. Not `setTimeout(0)` where anything else exists: browsers clamp nested timers to 4 ms, which cost a
 * Chromium page 55 → 45 tok/s of decode. In order:
 *   - `setImmediate` (Node, Bun): a macrotask after I/O, no clamp;
 *   - a `MessageChannel` message (every browser, Workers, workerd): a task, no clamp, queued behind the messages
 *     already waiting — so a Stop posted to a Web Worker running the loop is seen at the next yield;
 *   - `scheduler.yield()` where there is no MessageChannel: its continuation runs *before* pending tasks (that is its
 *     point), which in a worker starved the Stop message until generation ended (the demo's Stop test caught it);
 *   - `setTimeout(0)` as the last resort.
 */
export function pickYield(host: YieldHost = globalThis as YieldHost): () => Promise<void> {
  const { setImmediate: immediate, scheduler, MessageChannel: Channel } = host;
  if (typeof immediate === 'function') return () => new Promise((resolve) => immediate(resolve));
  if (typeof Channel === 'function') {
    // One channel for the process; each posted message resumes the oldest waiting loop.
    let channel: MessageChannel | null = null;
    const waiting: Array<() => void> = [];
    return () =>
      new Promise((resolve) => {
        if (!channel) {
          channel = new Channel();
          channel.port1.onmessage = () => waiting.shift()?.();
          (channel.port1 as { unref?: () => void }).unref?.(); // Node: an idle port must not keep the process alive
        }
        waiting.push(resolve);
        channel.port2.postMessage(null);
      });
  }
  if (typeof scheduler?.yield === 'function') return () => scheduler.yield!.call(scheduler);
  const timeout = host.setTimeout ?? setTimeout;
  return () => new Promise((resolve) => timeout(resolve, 0));
}

/** Lets timers and I/O run between tokens (see `pickYield`). */
const yieldToEventLoop = pickYield();
