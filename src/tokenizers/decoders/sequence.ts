import type { TokenDecoder } from './token-decoder.js';

export class DecoderSequence implements TokenDecoder {
  constructor(private readonly decoders: TokenDecoder[]) {}
  decodeChain(tokens: string[]): string[] {
    for (const d of this.decoders) tokens = d.decodeChain(tokens);
    return tokens;
  }
}
