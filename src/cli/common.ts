/**
 * What the model-running commands (generate, chat, forward) share: argument parsing that turns every mistake into
 * an E_OPTION error naming the option, the model options and their loading (with the embedded stories260K when no
 * --model is given), and the sampling options.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WeftError } from '../errors.js';
import { checkGenerateOptions, type GenerateOptions } from '../generation/generate.js';
import type { LoadProgress } from '../files/model-files.js';
import { loadEncoder, loadLanguageModel, type LoadDType, type LoadModelOptions } from '../models/load.js';
import { loadModel, type CausalLM, type EncoderModel, type LoadedModel, type Seq2SeqLM } from '../models/model.js';

/** The default model shipped in the package (llama2.c's stories260K, MIT): see the README. */
export const EMBEDDED_MODEL = fileURLToPath(new URL('../../assets/stories260K.bin', import.meta.url));
export const EMBEDDED_TOKENIZER = fileURLToPath(new URL('../../assets/tok512.bin', import.meta.url));

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP = { help: { type: 'boolean', short: 'h' } } as const;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T & typeof HELP; strict: true; allowPositionals: boolean }>>;

/**
 * node's parseArgs, strict, with a --help flag, and its errors as WeftError E_OPTION (they name the option).
 * `allowPositionals`: the command takes TEXT arguments (after `--`, even ones starting with --).
 */
export function parseOptions<T extends Options>(argv: string[], options: T, usage: string, allowPositionals = false): Parsed<T> {
  try {
    return parseArgs({ args: argv, options: { ...options, ...HELP }, strict: true, allowPositionals });
  } catch (e) {
    throw new WeftError('E_OPTION', `${(e as Error).message}\n${usage}`);
  }
}

export const MODEL_OPTIONS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  'context-length': { type: 'string' },
  'no-cache': { type: 'boolean' },
  dtype: { type: 'string' },
  threads: { type: 'string' },
} as const;

export const MODEL_USAGE = `  --model SOURCE           a model folder (config.json + safetensors), a .gguf or llama2.c .bin file, a URL of
                           either, or a hub id: org/name, org/name@revision, org/name/file.gguf
                           (hub: $WEFT_HUB_URL or https://huggingface.co; $HF_TOKEN is sent when set)
  --tokenizer SOURCE       a tokenizer file (path or URL), when the model has none (tokenizer.json, .gguf, llama2.c .bin)
  --context-length N       positions the KV cache holds (default: 4096, or the model's context if smaller)
  --dtype q8_0|q4_0|q4_k   quantize float weights while loading (ggml's quantizer; quantized GGUF tensors stay as they are)
  --no-cache               do not read or write the download cache ($XDG_CACHE_HOME/weft or ~/.cache/weft)`;

/**
 * Loads --model (or, when `embeddedDefault`, the embedded stories260K and its tokenizer). NaN/Inf weights are
 * allowed (some checkpoints carry them in unused rows) but reported on stderr.
 */
export async function loadModelFromOptions(values: ModelValues, embeddedDefault: boolean): Promise<LoadedModel<CausalLM>> {
  return loadFromOptions(values, embeddedDefault, loadModel);
}

/** As loadModelFromOptions, for the encoder commands (embed, classify). */
export async function loadEncoderFromOptions(values: ModelValues): Promise<LoadedModel<EncoderModel>> {
  return loadFromOptions(values, false, loadEncoder);
}

/** As loadModelFromOptions, for commands that also run encoder-decoder models (generate, forward). */
export async function loadLanguageModelFromOptions(values: ModelValues, embeddedDefault: boolean): Promise<LoadedModel<CausalLM | Seq2SeqLM>> {
  return loadFromOptions(values, embeddedDefault, loadLanguageModel);
}

type ModelValues = { model?: string; tokenizer?: string; 'context-length'?: string; 'no-cache'?: boolean; dtype?: string; threads?: string };

async function loadFromOptions<L extends { nonFinite: number; source: string }>(
  values: ModelValues,
  embeddedDefault: boolean,
  load: (path: string, o: LoadModelOptions) => Promise<L>,
): Promise<L> {
  const contextLength = values['context-length'] === undefined ? undefined : parseInteger(values['context-length'], '--context-length', 1);
  const dtype = values.dtype as LoadDType | undefined; // loadModel names a bad value
  const threads = values.threads === undefined || values.threads === 'auto' ? (values.threads as 'auto' | undefined) : parseInteger(values.threads, '--threads', 1);
  if (values.model === undefined && !embeddedDefault) throw new WeftError('E_OPTION', 'option --model is required');
  const bar = process.stderr.isTTY ? progressBar(process.stderr) : undefined;
  const options = { contextLength, dtype, threads, cache: values['no-cache'] ? false : undefined, onProgress: bar?.update };
  let lm: L;
  try {
    lm =
      values.model === undefined
        ? await load(EMBEDDED_MODEL, { ...options, tokenizer: values.tokenizer ?? EMBEDDED_TOKENIZER })
        : await load(values.model, { ...options, tokenizer: values.tokenizer });
  } finally {
    bar?.done();
  }
  if (lm.nonFinite > 0) console.error(`weft: warning: ${lm.source} holds ${lm.nonFinite} NaN/Inf weight values`);
  return lm;
}

/**
 * One line on a terminal, redrawn at most every 100 ms: percent, bytes, speed and the file being read. Only when
 * stderr is a terminal (loadModelFromOptions): piped output stays clean.
 */
function progressBar(out: NodeJS.WriteStream): { update: (p: LoadProgress) => void; done: () => void } {
  const start = performance.now();
  let last = 0;
  let drawn = false;
  let latest: LoadProgress | null = null;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const draw = (p: LoadProgress) => {
    const fraction = p.total > 0 ? p.loaded / p.total : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const seconds = (performance.now() - start) / 1000;
    const speed = seconds > 0 ? `${mb(p.loaded / seconds)} MB/s` : '';
    const file = p.file.length > 40 ? `…${p.file.slice(-39)}` : p.file;
    out.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${mb(p.loaded)}/${mb(p.total)} MB ${speed} ${file}`);
    drawn = true;
  };
  return {
    update(p) {
      latest = p;
      const now = performance.now();
      if (now - last < 100 && p.loaded < p.total) return;
      last = now;
      draw(p);
    },
    done() {
      if (latest) draw(latest);
      if (drawn) out.write('\n');
    },
  };
}

export const SAMPLING_OPTIONS = {
  'max-new-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  'presence-penalty': { type: 'string' },
  'frequency-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  'truncate-prompt': { type: 'boolean' },
  'no-repeat-ngram-size': { type: 'string' },
  'min-new-tokens': { type: 'string' },
  'forced-bos-token-id': { type: 'string' },
  'forced-eos-token-id': { type: 'string' },
  'num-beams': { type: 'string' },
  'length-penalty': { type: 'string' },
  'early-stopping': { type: 'string' },
  'num-return-sequences': { type: 'string' },
} as const;

export const SAMPLING_USAGE = `  --max-new-tokens N       tokens to generate at most (default 256)
  --temperature T          0 = greedy (the default unless generation_config.json says do_sample)
  --top-k K, --top-p P, --min-p P
  --repetition-penalty R   Hugging Face semantics (1 = off)
  --presence-penalty A, --frequency-penalty A   OpenAI semantics (0 = off)
  --seed S                 seed of the sampler's PRNG (same seed, same text)
  --stop TEXT              stop before this text (repeatable)
  --truncate-prompt        drop the oldest prompt tokens (keeping BOS) when the prompt and --max-new-tokens do not fit
                           in the context, instead of failing
  --no-repeat-ngram-size N, --min-new-tokens N, --forced-bos-token-id ID, --forced-eos-token-id ID
                           Hugging Face's logits processors of the same names
  --num-beams N            beam search with N beams (Hugging Face semantics; 1 = off); prints the best beam
  --length-penalty L       beam scores are log-probability sums / length^L (default 1)
  --early-stopping E       true, false (default) or never
  --num-return-sequences N the N best beams (with --json: "sequences")`;

/** The generation options given on the command line, checked before any model is loaded. */
export function samplingFromOptions(values: Partial<Record<keyof typeof SAMPLING_OPTIONS, string | string[] | boolean>>): GenerateOptions {
  const num = (key: keyof typeof SAMPLING_OPTIONS) => (values[key] === undefined ? undefined : parseNumber(values[key] as string, `--${key}`));
  const int = (key: keyof typeof SAMPLING_OPTIONS, min: number) => (values[key] === undefined ? undefined : parseInteger(values[key] as string, `--${key}`, min));
  const options: GenerateOptions = {
    max_new_tokens: int('max-new-tokens', 0),
    temperature: num('temperature'),
    top_k: int('top-k', 0),
    top_p: num('top-p'),
    min_p: num('min-p'),
    repetition_penalty: num('repetition-penalty'),
    presence_penalty: num('presence-penalty'),
    frequency_penalty: num('frequency-penalty'),
    seed: int('seed', 0),
    stop: values.stop as string[] | undefined,
    truncate_prompt: values['truncate-prompt'] as boolean | undefined,
    no_repeat_ngram_size: int('no-repeat-ngram-size', 0),
    min_new_tokens: int('min-new-tokens', 0),
    forced_bos_token_id: int('forced-bos-token-id', 0),
    forced_eos_token_id: int('forced-eos-token-id', 0),
    num_beams: int('num-beams', 0),
    length_penalty: num('length-penalty'),
    early_stopping: values['early-stopping'] === undefined ? undefined : parseEarlyStopping(values['early-stopping'] as string),
    num_return_sequences: int('num-return-sequences', 0),
  };
  try {
    checkGenerateOptions(options, Infinity);
  } catch (e) {
    // The library names options as in code (top_p); say the flag the user typed (--top-p).
    if (e instanceof WeftError) throw new WeftError(e.code, e.message.replace(/^option (\w+)/, (_, name: string) => `option --${name.replaceAll('_', '-')}`));
    throw e;
  }
  return options;
}

function parseEarlyStopping(text: string): boolean | 'never' {
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'never') return 'never';
  throw new WeftError('E_OPTION', `option --early-stopping must be true, false or never, got '${text}'`);
}

export function parseNumber(text: string, option: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new WeftError('E_OPTION', `option ${option} must be a number, got '${text}'`);
  return n;
}

export function parseInteger(text: string, option: string, min: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new WeftError('E_OPTION', `option ${option} must be an integer ≥ ${min}, got '${text}'`);
  return n;
}

/** "1,2,3" → [1, 2, 3]. */
export function parseIdList(text: string, option: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((s) => !/^\d+$/.test(s))) throw new WeftError('E_OPTION', `option ${option} must be comma-separated token ids like 1,2,3, got '${text}'`);
  return parts.map(Number);
}

/** The process's peak resident memory in bytes (maxRSS is in KiB). */
export function peakMemoryBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** Aborts `controller` on Ctrl-C while `fn` runs, so a long generation ends cleanly with finish reason "abort". */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
