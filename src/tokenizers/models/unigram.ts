import { WeftError } from '../../errors.js';
import { byteTokenName, utf8Encoder } from '../utf8.js';
import { CharTrie } from './char-trie.js';
import type { TokenizerModel } from './model.js';

export interface UnigramOptions {
  /** Piece i has id i. */
  pieces: Array<{ token: string; score: number }>;
  unkId: number;
  byteFallback?: boolean;
  /** Ids the lattice may use (default: all). llama.cpp leaves control tokens out. */
  matchable?: (id: number) => boolean;
}

/** SentencePiece's penalty below the lowest piece score for an unknown character. */
const UNK_PENALTY = 10;

/**
 * Unigram language model (SentencePiece, T5): the Viterbi path through the lattice of vocabulary pieces that
 * maximises the sum of their log-probability scores. A character no piece starts with costs the unk score;
 * consecutive unknowns fuse into one unk.
 */
export class Unigram implements TokenizerModel {
  readonly size: number;
  private readonly vocab = new Map<string, number>();
  private readonly trie = new CharTrie();
  private readonly scores: Float64Array;
  private readonly unkScore: number;

  constructor(private readonly options: UnigramOptions) {
    const { pieces, unkId } = options;
    this.size = pieces.length;
    if (!(unkId >= 0 && unkId < pieces.length)) throw new WeftError('E_TOKENIZER', `Unigram: unk_id ${unkId} is outside the vocabulary of ${pieces.length}`);
    this.scores = new Float64Array(pieces.length);
    let minScore = Infinity;
    pieces.forEach(({ token, score }, id) => {
      this.scores[id] = score;
      if (!this.vocab.has(token)) this.vocab.set(token, id);
      if (options.matchable && !options.matchable(id)) return;
      this.trie.insert(token, id);
      minScore = Math.min(minScore, score);
    });
    this.unkScore = minScore - UNK_PENALTY;
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.options.pieces[id]?.token;
  }

  tokenize(text: string): number[] {
    const n = text.length;
    if (n === 0) return [];
    // bestScore[i], bestStart[i], bestId[i]: the best path over text[0..i) and its last piece.
    const bestScore = new Float64Array(n + 1).fill(-Infinity);
    const bestStart = new Int32Array(n + 1).fill(-1);
    const bestId = new Int32Array(n + 1);
    bestScore[0] = 0;
    const unkId = this.options.unkId;
    for (let start = 0; start < n; ) {
      const charEnd = start + (text.codePointAt(start)! > 0xffff ? 2 : 1);
      if (bestStart[start] === -1 && start > 0) {
        start = charEnd; // unreachable position (inside a surrogate pair never happens: pieces are whole strings)
        continue;
      }
      const base = bestScore[start]!;
      let singleCharPiece = false;
      this.trie.forEachPrefix(text, start, (id, end) => {
        const score = base + this.scores[id]!;
        if (bestStart[end] === -1 || score > bestScore[end]!) {
          bestScore[end] = score;
          bestStart[end] = start;
          bestId[end] = id;
        }
        if (end === charEnd) singleCharPiece = true;
      });
      if (!singleCharPiece) {
        const score = base + this.unkScore;
        if (bestStart[charEnd] === -1 || score > bestScore[charEnd]!) {
          bestScore[charEnd] = score;
          bestStart[charEnd] = start;
          bestId[charEnd] = unkId;
        }
      }
      start = charEnd;
    }
    // Walk back from the end; consecutive unknown pieces fuse into one.
    const pieces: Array<{ id: number; start: number; end: number }> = [];
    for (let end = n; end > 0; end = bestStart[end]!) {
      const id = bestId[end]!;
      const last = pieces[pieces.length - 1];
      if (id === unkId && last?.id === unkId) last.start = bestStart[end]!;
      else pieces.push({ id, start: bestStart[end]!, end });
    }
    pieces.reverse();
    if (!this.options.byteFallback) return pieces.map((p) => p.id);
    const out: number[] = [];
    for (const p of pieces) {
      if (p.id !== unkId) {
        out.push(p.id);
        continue;
      }
      const byteIds = Array.from(utf8Encoder.encode(text.slice(p.start, p.end)), (b) => this.vocab.get(byteTokenName(b)));
      if (byteIds.every((b) => b !== undefined)) out.push(...(byteIds as number[]));
      else out.push(unkId);
    }
    return out;
  }
}
