import type { Decoder } from './decoder.js';

export class DecoderSequence implements Decoder {
  constructor(private readonly decoders: Decoder[]) {}
  decodeChain(tokens: string[]): string[] {
    for (const d of this.decoders) tokens = d.decodeChain(tokens);
    return tokens;
  }
}
