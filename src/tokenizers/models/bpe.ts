import { WeftError } from '../../errors.js';
import { byteTokenName, utf8Encoder } from '../utf8.js';
import { MergeHeap } from './merge-heap.js';
import { vocabArrayFromMap, type TokenizerModel } from './model.js';

export interface BpeOptions {
  vocab: Map<string, number>;
  /** Merge rules, highest priority first. */
  merges: Array<[string, string]>;
  unkToken?: string | null;
  continuingSubwordPrefix?: string | null;
  endOfWordSuffix?: string | null;
  fuseUnk?: boolean;
  /** Characters missing from the vocabulary become `<0xAB>` byte pieces. */
  byteFallback?: boolean;
  /** A word that is itself a vocabulary entry is returned whole, without merging (Llama 3). */
  ignoreMerges?: boolean;
}

/**
 * Byte-pair encoding with ranked merges (GPT-2, Llama 3, Mistral, Gemma). A word starts as one symbol per character
 * and the lowest-ranked adjacent pair is merged until none applies.
 */
export class Bpe implements TokenizerModel {
  readonly size: number;
  private readonly vocab: Map<string, number>;
  private readonly tokens: string[];
  /** (left id · size + right id) → rank · size + merged id: one Map lookup per candidate pair. */
  private readonly merges = new Map<number, number>();
  private readonly unkId: number | undefined;
  private readonly prefix: string;
  private readonly suffix: string;
  private readonly fuseUnk: boolean;
  private readonly byteFallback: boolean;
  private readonly ignoreMerges: boolean;
  // Per-call scratch: the word's symbols as a doubly linked list over arrays, reused between calls.
  private ids = new Int32Array(64);
  private next = new Int32Array(64);
  private prev = new Int32Array(64);
  private readonly heap = new MergeHeap();

  constructor(options: BpeOptions) {
    this.vocab = options.vocab;
    this.tokens = vocabArrayFromMap(options.vocab);
    this.size = this.tokens.length;
    this.prefix = options.continuingSubwordPrefix ?? '';
    this.suffix = options.endOfWordSuffix ?? '';
    this.fuseUnk = options.fuseUnk ?? false;
    this.byteFallback = options.byteFallback ?? false;
    this.ignoreMerges = options.ignoreMerges ?? false;
    if (options.unkToken != null) {
      this.unkId = this.vocab.get(options.unkToken);
      if (this.unkId === undefined) throw new WeftError('E_TOKENIZER', `BPE: unk_token ${JSON.stringify(options.unkToken)} is not in the vocabulary`);
    }
    const n = this.size;
    options.merges.forEach(([left, right], rank) => {
      const leftId = this.vocab.get(left);
      const rightId = this.vocab.get(right);
      const mergedRight = this.prefix && right.startsWith(this.prefix) ? right.slice(this.prefix.length) : right;
      const mergedId = this.vocab.get(left + mergedRight);
      if (leftId === undefined || rightId === undefined || mergedId === undefined) {
        throw new WeftError('E_TOKENIZER', `BPE: merge #${rank} ${JSON.stringify(`${left} ${right}`)} uses a token missing from the vocabulary`);
      }
      const key = leftId * n + rightId;
      if (!this.merges.has(key)) this.merges.set(key, rank * n + mergedId);
    });
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  tokenize(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    const count = this.initialSymbols(word);
    if (count === 0) return [];
    this.mergeAll(count);
    const out: number[] = [];
    for (let i = 0; i !== -1; i = this.next[i]!) out.push(this.ids[i]!);
    return out;
  }

  /** Fills `ids` with one symbol per character (or per byte / fused unknown); returns the symbol count. */
  private initialSymbols(word: string): number {
    if (this.ids.length < word.length * 4) this.grow(word.length * 4);
    let count = 0;
    let lastWasUnk = false;
    for (let i = 0; i < word.length; ) {
      const cp = word.codePointAt(i)!;
      const width = cp > 0xffff ? 2 : 1;
      let symbol = width === 1 ? word[i]! : word.slice(i, i + 2);
      if (i > 0 && this.prefix) symbol = this.prefix + symbol;
      if (i + width === word.length && this.suffix) symbol += this.suffix;
      i += width;
      const id = this.vocab.get(symbol);
      if (id !== undefined) {
        this.ids[count++] = id;
        lastWasUnk = false;
        continue;
      }
      if (this.byteFallback) {
        const bytes = utf8Encoder.encode(String.fromCodePoint(cp));
        const byteIds = Array.from(bytes, (b) => this.vocab.get(byteTokenName(b)));
        if (byteIds.every((b) => b !== undefined)) {
          for (const b of byteIds) this.ids[count++] = b!;
          lastWasUnk = false;
          continue;
        }
      }
      if (this.unkId === undefined) continue; // no unk token: the character is dropped, as Hugging Face does
      if (!(this.fuseUnk && lastWasUnk)) this.ids[count++] = this.unkId;
      lastWasUnk = true;
    }
    for (let i = 0; i < count; i++) {
      this.prev[i] = i - 1;
      this.next[i] = i + 1 < count ? i + 1 : -1;
    }
    return count;
  }

  private mergeAll(count: number): void {
    const { ids, next, prev, heap, merges } = this;
    const n = this.size;
    heap.clear();
    for (let i = 0; i + 1 < count; i++) {
      const m = merges.get(ids[i]! * n + ids[i + 1]!);
      if (m !== undefined) heap.push(Math.floor(m / n), i);
    }
    while (heap.size > 0) {
      const rank = heap.topPriority;
      const pos = heap.topPosition;
      heap.pop();
      const right = next[pos]!;
      if (ids[pos]! < 0 || right === -1) continue; // removed, or nothing to its right any more
      const m = merges.get(ids[pos]! * n + ids[right]!);
      if (m === undefined || Math.floor(m / n) !== rank) continue; // the pair changed since it was queued
      ids[pos] = m % n;
      ids[right] = -1;
      const after = next[right]!;
      next[pos] = after;
      if (after !== -1) prev[after] = pos;
      const before = prev[pos]!;
      if (before !== -1) {
        const left = merges.get(ids[before]! * n + ids[pos]!);
        if (left !== undefined) heap.push(Math.floor(left / n), before);
      }
      if (after !== -1) {
        const rightMerge = merges.get(ids[pos]! * n + ids[after]!);
        if (rightMerge !== undefined) heap.push(Math.floor(rightMerge / n), pos);
      }
    }
  }

  private grow(capacity: number): void {
    this.ids = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    this.prev = new Int32Array(capacity);
  }
}
