import { WeftError } from '../../errors.js';
import { vocabArrayFromMap, type TokenizerModel } from './model.js';

export interface WordPieceOptions {
  vocab: Map<string, number>;
  unkToken: string;
  continuingSubwordPrefix?: string;
  maxInputCharsPerWord?: number;
}

/** WordPiece (BERT): greedy longest-match-first; a word with any unmatched part, or too long, becomes unk. */
export class WordPiece implements TokenizerModel {
  readonly size: number;
  private readonly tokens: string[];
  private readonly unkId: number;
  private readonly prefix: string;
  private readonly maxChars: number;

  constructor(private readonly options: WordPieceOptions) {
    this.tokens = vocabArrayFromMap(options.vocab);
    this.size = this.tokens.length;
    const unk = options.vocab.get(options.unkToken);
    if (unk === undefined) throw new WeftError('E_TOKENIZER', `WordPiece: unk_token ${JSON.stringify(options.unkToken)} is not in the vocabulary`);
    this.unkId = unk;
    this.prefix = options.continuingSubwordPrefix ?? '##';
    this.maxChars = options.maxInputCharsPerWord ?? 100;
  }

  tokenToId(token: string): number | undefined {
    return this.options.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  tokenize(word: string): number[] {
    const chars = Array.from(word);
    if (chars.length > this.maxChars) return [this.unkId];
    const vocab = this.options.vocab;
    const out: number[] = [];
    for (let start = 0; start < chars.length; ) {
      let found: number | undefined;
      let end = chars.length;
      for (; end > start; end--) {
        const piece = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
        found = vocab.get(piece);
        if (found !== undefined) break;
      }
      if (found === undefined) return [this.unkId];
      out.push(found);
      start = end;
    }
    return out;
  }
}
