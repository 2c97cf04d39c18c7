import { WeftError } from '../errors.js';
import type { GgufFile, GgufValue } from '../formats/gguf.js';
import type { AddedToken } from './added-tokens.js';
import { ByteFallbackDecoder } from './decoders/byte-fallback.js';
import { ByteLevelDecoder } from './decoders/byte-level.js';
import type { TokenDecoder } from './decoders/token-decoder.js';
import { FuseDecoder } from './decoders/fuse.js';
import { MetaspaceDecoder } from './decoders/metaspace.js';
import { ReplaceDecoder } from './decoders/replace.js';
import { DecoderSequence } from './decoders/sequence.js';
import { StripDecoder } from './decoders/strip.js';
import { WordPieceDecoder } from './decoders/wordpiece.js';
import { ggufPreTokenizer } from './gguf-pre-tokenizers.js';
import { Bpe } from './models/bpe.js';
import type { TokenizerModel } from './models/model.js';
import { SentencePieceBpe } from './models/sentencepiece-bpe.js';
import { Unigram } from './models/unigram.js';
import { WordPiece } from './models/wordpiece.js';
import { BertNormalizer } from './normalizers/bert.js';
import type { Normalizer } from './normalizers/normalizer.js';
import { PrecompiledCharsmap, PrecompiledLongestMatch } from './normalizers/precompiled.js';
import { Prepend } from './normalizers/prepend.js';
import { Replace } from './normalizers/replace.js';
import { NormalizerSequence } from './normalizers/sequence.js';
import { SpmWhitespace } from './normalizers/spm-whitespace.js';
import { TemplateProcessor, type TemplatePiece } from './post-processors/index.js';
import { BertPreTokenizer } from './pre-tokenizers/bert.js';
import { ByteLevel } from './pre-tokenizers/byte-level.js';
import type { PreTokenizer } from './pre-tokenizers/pre-tokenizer.js';
import { PreTokenizerSequence } from './pre-tokenizers/sequence.js';
import { Split } from './pre-tokenizers/split.js';
import { compileTokenizerRegex } from './regex.js';
import { Tokenizer } from './tokenizer.js';

/** llama.cpp's token types (`tokenizer.ggml.token_type`). */
const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;
const SPACE = '\u2581';

/** Typed access to the `tokenizer.ggml.*` metadata, with errors that name the key. */
class Metadata {
  constructor(private readonly file: GgufFile) {}
  private fail(key: string, expected: string): never {
    throw new WeftError('E_FORMAT', `${this.file.source.name}: metadata ${key} should be ${expected}`);
  }
  string(key: string): string | undefined {
    const v = this.file.metadata.get(key);
    if (v !== undefined && typeof v !== 'string') this.fail(key, 'a string');
    return v as string | undefined;
  }
  number(key: string): number | undefined {
    const v = this.file.metadata.get(key);
    if (v !== undefined && typeof v !== 'number') this.fail(key, 'a number');
    return v as number | undefined;
  }
  bool(key: string): boolean | undefined {
    const v = this.file.metadata.get(key);
    if (v !== undefined && typeof v !== 'boolean') this.fail(key, 'a boolean');
    return v as boolean | undefined;
  }
  array<T extends GgufValue>(key: string, length: number | undefined, check: (x: GgufValue) => x is T, what: string): T[] | undefined {
    const v = this.file.metadata.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every(check)) this.fail(key, `an array of ${what}`);
    if (length !== undefined && v.length !== length) this.fail(key, `an array of ${length} ${what} (one per token), not ${v.length}`);
    return v as T[];
  }
}

const isString = (x: GgufValue): x is string => typeof x === 'string';
const isNumber = (x: GgufValue): x is number => typeof x === 'number';

/**
 * Builds a Tokenizer from the vocabulary in a GGUF header (`tokenizer.ggml.model`: llama → SentencePiece BPE by
 * score, gpt2 → byte-level BPE with the regexes of `tokenizer.ggml.pre`, bert → WordPiece, t5 → Unigram), following
 * llama.cpp's `llama_vocab` so ids match llama.cpp's.
 */
export function tokenizerFromGguf(file: GgufFile): Tokenizer {
  const name = file.source.name;
  const meta = new Metadata(file);
  const kind = meta.string('tokenizer.ggml.model');
  if (kind === undefined) throw new WeftError('E_MISSING', `${name}: no tokenizer.ggml.model in the GGUF metadata (a file without a vocabulary)`);
  const tokens = meta.array('tokenizer.ggml.tokens', undefined, isString, 'strings');
  if (!tokens || tokens.length === 0) throw new WeftError('E_MISSING', `${name}: no tokenizer.ggml.tokens in the GGUF metadata`);
  const n = tokens.length;
  const scores = meta.array('tokenizer.ggml.scores', n, isNumber, 'numbers');
  const types = meta.array('tokenizer.ggml.token_type', n, isNumber, 'numbers') ?? new Array<number>(n).fill(TokenType.normal);
  const id = (key: string, fallback: number | null): number | null => {
    const v = meta.number(`tokenizer.ggml.${key}`) ?? fallback;
    if (v !== null && !(Number.isInteger(v) && v >= 0 && v < n)) throw new WeftError('E_FORMAT', `${name}: tokenizer.ggml.${key} is ${v}, outside the vocabulary of ${n}`);
    return v;
  };

  // Control and unknown tokens are special (written in text only with parse_special); user-defined ones always match.
  const addedTokens: AddedToken[] = [];
  types.forEach((type, tokenId) => {
    if (type === TokenType.control || type === TokenType.unknown || type === TokenType.userDefined) {
      const special = type !== TokenType.userDefined;
      addedTokens.push({ id: tokenId, content: tokens[tokenId]!, special, lstrip: false, rstrip: false, singleWord: false, normalized: false });
    }
  });

  let normalizer: Normalizer | null = null;
  let preTokenizer: PreTokenizer | null = null;
  let model: TokenizerModel;
  let decoder: TokenDecoder;
  let defaults: { bos: number | null; eos: number | null; addBos: boolean; addEos: boolean };
  let withSeparators: { cls: number | null; sep: number | null } | null = null;

  switch (kind) {
    case 'llama': {
      if (!scores) throw new WeftError('E_MISSING', `${name}: a llama (SentencePiece) vocabulary needs tokenizer.ggml.scores`);
      const addSpacePrefix = meta.bool('tokenizer.ggml.add_space_prefix') ?? true;
      const escape = new Replace(' ', SPACE);
      normalizer = addSpacePrefix ? new NormalizerSequence([new Prepend(SPACE), escape]) : escape;
      model = new SentencePieceBpe({ tokens, scores, unkId: id('unknown_token_id', 0)! });
      const parts: TokenDecoder[] = [new ReplaceDecoder(SPACE, ' '), new ByteFallbackDecoder(), new FuseDecoder()];
      if (addSpacePrefix) parts.push(new StripDecoder(' ', 1, 0));
      decoder = new DecoderSequence(parts);
      defaults = { bos: 1, eos: 2, addBos: true, addEos: false };
      break;
    }
    case 'gpt2': {
      const pre = meta.string('tokenizer.ggml.pre') ?? 'default';
      const preTokenization = ggufPreTokenizer(pre);
      if (!preTokenization) throw new WeftError('E_UNSUPPORTED', `${name}: tokenizer.ggml.pre "${pre}" is not a pre-tokenizer weft knows`);
      const mergeLines = meta.array('tokenizer.ggml.merges', undefined, isString, 'strings');
      if (!mergeLines) throw new WeftError('E_MISSING', `${name}: a gpt2 (BPE) vocabulary needs tokenizer.ggml.merges`);
      const merges = mergeLines.map((line, i): [string, string] => {
        const space = line.indexOf(' ', 1);
        if (space < 0) throw new WeftError('E_FORMAT', `${name}: tokenizer.ggml.merges[${i}] ${JSON.stringify(line)} has no space`);
        return [line.slice(0, space), line.slice(space + 1)];
      });
      const vocab = new Map<string, number>();
      tokens.forEach((t, i) => vocab.has(t) || vocab.set(t, i));
      model = new Bpe({ vocab, merges, ignoreMerges: preTokenization.ignoreMerges });
      preTokenizer = new PreTokenizerSequence([
        ...preTokenization.regexes.map((r) => new Split(compileTokenizerRegex(r, `${name}: tokenizer.ggml.pre ${pre}`), 'Isolated', false)),
        new ByteLevel(false, false),
      ]);
      decoder = new ByteLevelDecoder();
      defaults = { bos: null, eos: null, addBos: preTokenization.ignoreMerges, addEos: false };
      break;
    }
    case 'bert': {
      // llama.cpp stores BERT's vocabulary with a "phantom space": word starts as "▁word", continuations bare.
      const vocab = new Map<string, number>();
      tokens.forEach((t, i) => {
        const hfToken = types[i] === TokenType.control || (t.startsWith('[') && t.endsWith(']')) ? t : t.startsWith(SPACE) ? t.slice(1) : '##' + t;
        if (!vocab.has(hfToken)) vocab.set(hfToken, i);
      });
      const unk = id('unknown_token_id', 100)!;
      model = new WordPiece({ vocab, unkToken: tokens[unk]!, continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 });
      normalizer = new BertNormalizer({ lowercase: true });
      preTokenizer = new BertPreTokenizer();
      decoder = new WordPieceDecoder('##', true);
      defaults = { bos: 101, eos: null, addBos: false, addEos: false };
      withSeparators = { cls: id('cls_token_id', 101), sep: id('seperator_token_id', 102) };
      break;
    }
    case 't5': {
      if (!scores) throw new WeftError('E_MISSING', `${name}: a t5 (Unigram) vocabulary needs tokenizer.ggml.scores`);
      // llama.cpp scores user-defined pieces 0 (likelier than any normal piece) and never matches control pieces.
      const pieces = tokens.map((token, i) => ({ token, score: types[i] === TokenType.userDefined ? 0 : scores[i]! }));
      const matchable = (i: number): boolean => types[i] === TokenType.normal || types[i] === TokenType.userDefined || types[i] === TokenType.unused;
      model = new Unigram({ pieces, unkId: id('unknown_token_id', 2)!, matchable });
      const charsmap = meta.array('tokenizer.ggml.precompiled_charsmap', undefined, isNumber, 'bytes');
      const whitespace = new SpmWhitespace(meta.bool('tokenizer.ggml.add_space_prefix') ?? true, meta.bool('tokenizer.ggml.remove_extra_whitespaces') ?? false);
      normalizer = charsmap
        ? new NormalizerSequence([new PrecompiledLongestMatch(new PrecompiledCharsmap(Uint8Array.from(charsmap, (b) => b & 0xff), `${name}: tokenizer.ggml.precompiled_charsmap`)), whitespace])
        : whitespace;
      decoder = new MetaspaceDecoder(SPACE, 'always');
      defaults = { bos: null, eos: 1, addBos: false, addEos: true };
      break;
    }
    default:
      throw new WeftError('E_UNSUPPORTED', `${name}: tokenizer.ggml.model "${kind}" is not supported (weft reads llama, gpt2, bert and t5)`);
  }

  const bos = id('bos_token_id', defaults.bos);
  const eos = id('eos_token_id', defaults.eos);
  const addBos = meta.bool('tokenizer.ggml.add_bos_token') ?? defaults.addBos;
  const addEos = meta.bool('tokenizer.ggml.add_eos_token') ?? defaults.addEos;
  const template: TemplatePiece[] = [];
  if (withSeparators) {
    if (withSeparators.cls !== null) template.push({ specialIds: [withSeparators.cls] });
    template.push('sequence');
    if (withSeparators.sep !== null) template.push({ specialIds: [withSeparators.sep] });
  } else {
    if (addBos && bos !== null) template.push({ specialIds: [bos] });
    template.push('sequence');
    if (addEos && eos !== null) template.push({ specialIds: [eos] });
  }
  // Generation stops at EOS and at the end-of-turn / end-of-message tokens chat models use.
  const eosTokenIds = [eos, id('eot_token_id', null), id('eom_token_id', null)].filter((x): x is number => x !== null);
  const chatTemplate = meta.string('tokenizer.chat_template') ?? null;
  const variables: Record<string, unknown> = {};
  if (bos !== null) variables.bos_token = tokens[bos];
  if (eos !== null) variables.eos_token = tokens[eos];

  return new Tokenizer({
    name,
    normalizer,
    preTokenizer,
    model,
    postProcessor: new TemplateProcessor(template),
    decoder,
    addedTokens,
    bosTokenId: bos,
    eosTokenIds: [...new Set(eosTokenIds)],
    padTokenId: id('padding_token_id', null),
    modelMaxLength: undefined,
    chatTemplate,
    chatTemplateVariables: variables,
  });
}
