/** A normalizer rewrites the text of one segment (the text between added tokens) before pre-tokenization. */
export interface Normalizer {
  normalize(text: string): string;
}
