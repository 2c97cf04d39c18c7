import type { Normalizer } from './normalizer.js';

/** Unicode lowercase (locale-independent, like Rust's `str::to_lowercase`). */
export class Lowercase implements Normalizer {
  normalize(text: string): string {
    return text.toLowerCase();
  }
}
