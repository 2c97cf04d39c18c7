import type { Decoder } from './decoder.js';

/** Fuse: concatenates all tokens into one (so a following Strip sees the whole text). */
export class FuseDecoder implements Decoder {
  decodeChain(tokens: string[]): string[] {
    return [tokens.join('')];
  }
}
