import type { PreTokenizer } from './pre-tokenizer.js';

// Rust regex's \w: Alphabetic, marks, decimal digits, connector punctuation, join controls.
const WORD_OR_SYMBOLS = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu;
const NON_WHITESPACE = /\P{White_Space}+/gu;

/** `Whitespace`: runs of word characters and runs of other non-space characters (`\w+|[^\w\s]+`). */
export class Whitespace implements PreTokenizer {
  split(text: string): string[] {
    return text.match(WORD_OR_SYMBOLS) ?? [];
  }
}

/** `WhitespaceSplit`: the runs between whitespace. */
export class WhitespaceSplit implements PreTokenizer {
  split(text: string): string[] {
    return text.match(NON_WHITESPACE) ?? [];
  }
}
