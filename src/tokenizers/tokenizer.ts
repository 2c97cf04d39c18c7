import { WeftError } from '../errors.js';
import { AddedTokenMatcher, type AddedToken } from './added-tokens.js';
import { renderChatTemplate, type ChatMessage } from './chat-template.js';
import type { Decoder } from './decoders/index.js';
import type { TokenizerModel } from './models/index.js';
import type { Normalizer } from './normalizers/index.js';
import type { PostProcessor } from './post-processors/index.js';
import type { PreTokenizer } from './pre-tokenizers/index.js';
import { StreamDecoder } from './stream-decoder.js';
import { toWellFormed } from './utf8.js';

export interface EncodeOptions {
  /** Add the post-processor's tokens (BOS, `[CLS] … [SEP]`, …). Default true. */
  add_special_tokens?: boolean;
  /** Treat special tokens written in the text as plain text (llama.cpp's parse_special = false). Default false. */
  split_special?: boolean;
}

export interface BatchEncodeOptions {
  add_special_tokens?: boolean;
  /** Pad to the longest sequence on this side (default: the tokenizer's padding side, normally right). */
  padding?: 'left' | 'right' | false;
  /** Cut each sequence to `max_length` (default: the model's maximum length), keeping its special tokens. */
  truncation?: boolean;
  max_length?: number;
}

export interface DecodeOptions {
  skip_special_tokens?: boolean;
}

/** Everything a Tokenizer is made of; the builders (tokenizer.json, GGUF, llama2.c) fill this in. */
export interface TokenizerParts {
  name: string;
  normalizer: Normalizer | null;
  preTokenizer: PreTokenizer | null;
  model: TokenizerModel;
  postProcessor: PostProcessor | null;
  decoder: Decoder | null;
  addedTokens: AddedToken[];
  /** Ids skipped by `skip_special_tokens` beyond the added tokens marked special (e.g. llama2.c's 0–2). */
  extraSpecialIds?: number[];
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId?: number | null;
  modelMaxLength?: number;
  paddingSide?: 'left' | 'right';
  chatTemplate?: string | null;
  /** Template variables besides the messages (`bos_token`, `eos_token`, …). */
  chatTemplateVariables?: Record<string, unknown>;
}

/** Pre-token → ids memo: real text repeats words constantly, so most pieces skip the model entirely. */
const CACHE_LIMIT = 100_000;
const CACHEABLE_LENGTH = 256;

export class Tokenizer {
  readonly name: string;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  readonly vocabSize: number;
  readonly padTokenId: number | null;
  readonly modelMaxLength: number;
  private readonly parts: TokenizerParts;
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normalizedMatcher: AddedTokenMatcher;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, number>();
  private readonly specialIds = new Set<number>();
  private readonly cache = new Map<string, number[]>();

  constructor(parts: TokenizerParts) {
    this.parts = parts;
    this.name = parts.name;
    this.bosTokenId = parts.bosTokenId;
    this.eosTokenIds = parts.eosTokenIds;
    this.padTokenId = parts.padTokenId ?? null;
    this.modelMaxLength = parts.modelMaxLength ?? Infinity;
    let size = parts.model.size;
    for (const t of parts.addedTokens) {
      this.addedById.set(t.id, t);
      if (!this.addedByContent.has(t.content)) this.addedByContent.set(t.content, t.id);
      if (t.special) this.specialIds.add(t.id);
      size = Math.max(size, t.id + 1);
    }
    for (const id of parts.extraSpecialIds ?? []) this.specialIds.add(id);
    this.vocabSize = size;
    const normalize = (t: AddedToken): AddedToken => ({ ...t, content: parts.normalizer ? parts.normalizer.normalize(t.content) : t.content });
    this.rawMatcher = new AddedTokenMatcher(parts.addedTokens.filter((t) => !t.normalized));
    this.normalizedMatcher = new AddedTokenMatcher(parts.addedTokens.filter((t) => t.normalized).map(normalize));
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new WeftError('E_OPTION', `${this.name}: encode() takes a string, got ${typeof text}`);
    const splitSpecial = options.split_special ?? false;
    const ids: number[] = [];
    let atStart = true;
    for (const segment of this.rawMatcher.split(toWellFormed(text), splitSpecial)) {
      if (typeof segment === 'number') {
        ids.push(segment);
        atStart = false;
        continue;
      }
      const normalized = this.parts.normalizer ? this.parts.normalizer.normalize(segment) : segment;
      for (const piece of this.normalizedMatcher.split(normalized, splitSpecial)) {
        if (typeof piece === 'number') ids.push(piece);
        else if (piece.length > 0) this.encodeText(piece, atStart, ids);
        atStart = false;
      }
    }
    const addSpecial = options.add_special_tokens ?? true;
    return addSpecial && this.parts.postProcessor ? this.parts.postProcessor.process(ids) : ids;
  }

  encodeWithTokens(text: string, options: EncodeOptions = {}): { ids: number[]; tokens: string[] } {
    const ids = this.encode(text, options);
    return { ids, tokens: ids.map((id) => this.idToToken(id) ?? '') };
  }

  encodeBatch(texts: string[], options: BatchEncodeOptions = {}): { input_ids: number[][]; attention_mask: number[][] } {
    const addSpecial = options.add_special_tokens ?? true;
    const padding = options.padding ?? this.parts.paddingSide ?? 'right';
    const maxLength = options.max_length ?? this.modelMaxLength;
    if (options.truncation && !(maxLength >= 0)) throw new WeftError('E_OPTION', `${this.name}: truncation needs a max_length (the tokenizer has no model_max_length)`);
    const post = addSpecial ? this.parts.postProcessor : null;
    const specialCount = post ? post.process([]).length : 0;
    const sequences = texts.map((text) => {
      let ids = this.encode(text, { add_special_tokens: false });
      if (options.truncation) ids = ids.slice(0, Math.max(0, maxLength - specialCount));
      return post ? post.process(ids) : ids;
    });
    const attentionMask = sequences.map((ids) => ids.map(() => 1));
    if (padding === false) return { input_ids: sequences, attention_mask: attentionMask };
    const longest = Math.max(0, ...sequences.map((s) => s.length));
    const padId = this.padTokenId ?? 0;
    const pad = (row: number[], value: number): number[] => {
      const fill = new Array<number>(longest - row.length).fill(value);
      return padding === 'left' ? [...fill, ...row] : [...row, ...fill];
    };
    return { input_ids: sequences.map((s) => pad(s, padId)), attention_mask: attentionMask.map((m) => pad(m, 0)) };
  }

  decode(ids: number[], options: DecodeOptions = {}): string {
    const skip = options.skip_special_tokens ?? false;
    const tokens: string[] = [];
    for (const id of ids) {
      if (skip && this.specialIds.has(id)) continue;
      const token = this.idToToken(id);
      if (token !== undefined) tokens.push(token);
    }
    return this.parts.decoder ? this.parts.decoder.decodeChain(tokens).join('') : tokens.join(' ');
  }

  streamDecoder(options: DecodeOptions = {}): { push(id: number): string; flush(): string } {
    return new StreamDecoder((ids) => this.decode(ids, options));
  }

  /** True when the tokenizer carries a chat template, i.e. `applyChatTemplate` and `chat` can be used. */
  get hasChatTemplate(): boolean {
    return !!this.parts.chatTemplate;
  }

  applyChatTemplate(messages: ChatMessage[], options: { add_generation_prompt?: boolean; [extra: string]: unknown } = {}): string {
    const template = this.parts.chatTemplate;
    if (!template) throw new WeftError('E_MISSING', `${this.name}: no chat_template (it comes from tokenizer_config.json or the GGUF key tokenizer.chat_template)`);
    return renderChatTemplate(template, messages, { ...this.parts.chatTemplateVariables, ...options });
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.parts.model.idToToken(id);
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token) ?? this.parts.model.tokenToId(token);
  }

  /** Pre-tokenizes one normalized segment and appends the model's ids for each piece. */
  private encodeText(text: string, atStart: boolean, out: number[]): void {
    const pieces = this.parts.preTokenizer ? this.parts.preTokenizer.split(text, atStart) : [text];
    const model = this.parts.model;
    for (const piece of pieces) {
      if (piece.length === 0) continue;
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = model.tokenize(piece);
        if (piece.length <= CACHEABLE_LENGTH) {
          if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
          this.cache.set(piece, ids);
        }
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    }
  }
}
