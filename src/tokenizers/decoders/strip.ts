import type { TokenDecoder } from './token-decoder.js';

/** Strip: removes up to `start` leading and `stop` trailing copies of `content` (one character) from each token. */
export class StripDecoder implements TokenDecoder {
  constructor(
    private readonly content: string,
    private readonly start: number,
    private readonly stop: number,
  ) {}
  decodeChain(tokens: string[]): string[] {
    return tokens.map((token) => {
      const chars = Array.from(token);
      let from = 0;
      while (from < this.start && chars[from] === this.content) from++;
      let to = chars.length;
      while (chars.length - to < this.stop && to > from && chars[to - 1] === this.content) to--;
      return chars.slice(from, to).join('');
    });
  }
}
