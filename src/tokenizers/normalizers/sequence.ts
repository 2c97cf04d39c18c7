import type { Normalizer } from './normalizer.js';

export class NormalizerSequence implements Normalizer {
  constructor(private readonly normalizers: Normalizer[]) {}
  normalize(text: string): string {
    for (const n of this.normalizers) text = n.normalize(text);
    return text;
  }
}
