import { utf8Decoder, utf8Encoder, parseByteToken } from '../utf8.js';
import type { TokenDecoder } from './token-decoder.js';

/**
 * llama2.c's `decode` (run.c): `<0xAB>` pieces are raw bytes, and a piece right after BOS loses its leading space
 * (the dummy prefix the encoder added). So does the first piece, for when BOS was skipped or the ids start
 * mid-text, as SentencePiece decoders do. Bytes are joined before UTF-8 decoding, as a terminal would print them.
 */
export class Llama2cDecoder implements TokenDecoder {
  constructor(private readonly bosToken: string) {}
  decodeChain(tokens: string[]): string[] {
    const bytes: number[] = [];
    tokens.forEach((token, i) => {
      const byte = parseByteToken(token);
      if (byte >= 0) {
        bytes.push(byte);
        return;
      }
      const piece = (i === 0 || tokens[i - 1] === this.bosToken) && token.startsWith(' ') ? token.slice(1) : token;
      for (const b of utf8Encoder.encode(piece)) bytes.push(b);
    });
    return [utf8Decoder.decode(new Uint8Array(bytes))];
  }
}
