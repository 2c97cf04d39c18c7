import type { PrependScheme } from '../pre-tokenizers/metaspace.js';
import type { TokenDecoder } from './token-decoder.js';

/** Metaspace: ▁ → space, except that the first token loses its ▁ (the prefix the encoder added). */
export class MetaspaceDecoder implements TokenDecoder {
  constructor(
    private readonly replacement: string,
    private readonly prependScheme: PrependScheme,
  ) {}
  decodeChain(tokens: string[]): string[] {
    return tokens.map((token, i) =>
      i === 0 && this.prependScheme !== 'never' ? token.replaceAll(this.replacement, '') : token.replaceAll(this.replacement, ' '),
    );
  }
}
