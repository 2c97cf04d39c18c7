import { byteTokenName, utf8Encoder } from '../utf8.js';
import { MergeHeap } from './merge-heap.js';
import { longestToken, type TokenizerModel } from './model.js';

export interface SentencePieceBpeOptions {
  /** Token i has id i. */
  tokens: string[];
  scores: ArrayLike<number>;
  unkId: number;
}

/**
 * SentencePiece BPE as llama.cpp (`llm_tokenizer_spm`) and llama2.c's run.c (`encode`) run it: start from one symbol
 * per character and repeatedly merge the adjacent pair whose concatenation is the vocabulary entry with the highest
 * score (leftmost on ties). Characters that end up in no vocabulary entry are written as `<0xAB>` byte pieces.
 */
export class SentencePieceBpe implements TokenizerModel {
  readonly size: number;
  readonly maxPieceLength: number;
  private readonly vocab = new Map<string, number>();
  private readonly heap = new MergeHeap();

  constructor(private readonly options: SentencePieceBpeOptions) {
    this.size = options.tokens.length;
    this.maxPieceLength = longestToken(options.tokens); // unknown characters become byte pieces, one or more each
    options.tokens.forEach((token, id) => {
      if (!this.vocab.has(token)) this.vocab.set(token, id);
    });
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.options.tokens[id];
  }

  tokenize(text: string): number[] {
    const texts: string[] = [];
    for (const ch of text) texts.push(ch);
    const count = texts.length;
    if (count === 0) return [];
    const next = new Int32Array(count);
    const prev = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < count ? i + 1 : -1;
    }
    const { heap, vocab } = this;
    const scores = this.options.scores;
    const queuePair = (left: number): void => {
      const right = next[left]!;
      if (right === -1) return;
      const id = vocab.get(texts[left]! + texts[right]!);
      if (id !== undefined) heap.push(-scores[id]!, left);
    };
    heap.clear();
    for (let i = 0; i + 1 < count; i++) queuePair(i);
    while (heap.size > 0) {
      const priority = heap.topPriority;
      const left = heap.topPosition;
      heap.pop();
      const right = next[left]!;
      if (texts[left] === '' || right === -1) continue;
      const merged = texts[left]! + texts[right]!;
      const id = vocab.get(merged);
      if (id === undefined || -scores[id]! !== priority) continue; // stale: a side was merged since
      texts[left] = merged;
      texts[right] = '';
      next[left] = next[right]!;
      if (next[left] !== -1) prev[next[left]!] = left;
      if (prev[left] !== -1) queuePair(prev[left]!);
      queuePair(left);
    }
    const out: number[] = [];
    for (let i = 0; i !== -1; i = next[i]!) {
      const id = vocab.get(texts[i]!);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const byte of utf8Encoder.encode(texts[i]!)) out.push(vocab.get(byteTokenName(byte)) ?? this.options.unkId);
    }
    return out;
  }
}
