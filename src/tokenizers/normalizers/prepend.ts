import type { Normalizer } from './normalizer.js';

/** Prepends a string to every non-empty segment (SentencePiece's dummy prefix in the legacy Llama form). */
export class Prepend implements Normalizer {
  constructor(private readonly prefix: string) {}
  normalize(text: string): string {
    return text.length === 0 ? text : this.prefix + text;
  }
}
