import type { PreTokenizer } from './pre-tokenizer.js';
import { splitByPattern, type SplitBehavior } from './split.js';

const PUNCTUATION = /[\p{P}!-\/:-@\[-`{-~]/gu;

/** `Punctuation`: splits at each punctuation character with the given behavior. */
export class Punctuation implements PreTokenizer {
  constructor(private readonly behavior: SplitBehavior) {}
  split(text: string): string[] {
    return splitByPattern(text, PUNCTUATION, this.behavior);
  }
}
