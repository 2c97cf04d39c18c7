import type { PreTokenizer } from './pre-tokenizer.js';

/** Applies each pre-tokenizer to every piece of the previous one. */
export class PreTokenizerSequence implements PreTokenizer {
  constructor(private readonly preTokenizers: PreTokenizer[]) {}
  split(text: string, atStart: boolean): string[] {
    let pieces = [text];
    for (const p of this.preTokenizers) {
      const next: string[] = [];
      for (let i = 0; i < pieces.length; i++) for (const piece of p.split(pieces[i]!, atStart && i === 0)) next.push(piece);
      pieces = next;
    }
    return pieces;
  }
}
