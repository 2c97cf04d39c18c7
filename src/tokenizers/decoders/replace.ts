import type { TokenDecoder } from './token-decoder.js';

/** Replace: replaces a literal or regex pattern in each token. */
export class ReplaceDecoder implements TokenDecoder {
  constructor(
    private readonly pattern: string | RegExp,
    private readonly content: string,
  ) {}
  decodeChain(tokens: string[]): string[] {
    return tokens.map((t) => (typeof this.pattern === 'string' ? t.replaceAll(this.pattern, this.content) : t.replace(this.pattern, () => this.content)));
  }
}
