import type { TokenDecoder } from './token-decoder.js';

/** Fuse: concatenates all tokens into one (so a following Strip sees the whole text). */
export class FuseDecoder implements TokenDecoder {
  decodeChain(tokens: string[]): string[] {
    return [tokens.join('')];
  }
}
