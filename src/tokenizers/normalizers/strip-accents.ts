import type { Normalizer } from './normalizer.js';

const NONSPACING_MARK = /\p{Mn}/gu;

/** Decomposes (NFD) and drops the non-spacing marks, as Hugging Face's StripAccents and BERT's strip_accents do. */
export function stripAccents(text: string): string {
  return text.normalize('NFD').replace(NONSPACING_MARK, '');
}

export class StripAccents implements Normalizer {
  normalize(text: string): string {
    return stripAccents(text);
  }
}
