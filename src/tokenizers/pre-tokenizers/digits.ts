import type { PreTokenizer } from './pre-tokenizer.js';
import { splitByPattern } from './split.js';

const DIGIT = /\p{N}/gu;

/** `Digits`: isolates numbers, each digit alone when `individualDigits`. */
export class Digits implements PreTokenizer {
  constructor(private readonly individualDigits: boolean) {}
  split(text: string): string[] {
    return splitByPattern(text, DIGIT, this.individualDigits ? 'Isolated' : 'Contiguous');
  }
}
