import type { Normalizer } from './normalizer.js';

/** NFC / NFD / NFKC / NFKD. */
export class UnicodeNormalizer implements Normalizer {
  constructor(private readonly form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD') {}
  normalize(text: string): string {
    return text.normalize(this.form);
  }
}
