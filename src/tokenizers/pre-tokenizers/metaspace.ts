import type { PreTokenizer } from './pre-tokenizer.js';

export type PrependScheme = 'always' | 'first' | 'never';

/**
 * SentencePiece-style whitespace: spaces become `replacement` (▁), a ▁ is prepended per `prependScheme` unless the
 * segment already starts with one, and with `splitOnReplacement` each ▁ starts a new piece.
 */
export class Metaspace implements PreTokenizer {
  constructor(
    private readonly replacement: string,
    private readonly prependScheme: PrependScheme,
    private readonly splitOnReplacement: boolean,
  ) {}

  split(text: string, atStart: boolean): string[] {
    text = text.replaceAll(' ', this.replacement);
    const prepend = this.prependScheme === 'always' || (this.prependScheme === 'first' && atStart);
    if (prepend && !text.startsWith(this.replacement)) text = this.replacement + text;
    if (!this.splitOnReplacement) return [text];
    const pieces: string[] = [];
    let start = 0;
    for (let i = text.indexOf(this.replacement, 1); i !== -1; i = text.indexOf(this.replacement, i + 1)) {
      if (i > start) pieces.push(text.slice(start, i));
      start = i;
    }
    if (text.length > start) pieces.push(text.slice(start));
    return pieces;
  }
}
