import type { Normalizer } from './normalizer.js';

/** Replaces every match of a literal string or a regex (compiled by the factory). */
export class Replace implements Normalizer {
  constructor(
    private readonly pattern: string | RegExp,
    private readonly content: string,
  ) {}
  normalize(text: string): string {
    return typeof this.pattern === 'string' ? text.replaceAll(this.pattern, this.content) : text.replace(this.pattern, () => this.content);
  }
}
