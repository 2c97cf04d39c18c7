import { CHAR_CODE_TO_BYTE } from '../byte-level-alphabet.js';
import { utf8Decoder, utf8Encoder } from '../utf8.js';
import type { TokenDecoder } from './token-decoder.js';

/**
 * ByteLevel: maps GPT-2 byte characters back to bytes and decodes UTF-8 (invalid sequences → U+FFFD). A token with
 * a character outside the byte table (an added token such as "<|im_start|>" written plainly) contributes its own
 * UTF-8 bytes.
 */
export class ByteLevelDecoder implements TokenDecoder {
  decodeChain(tokens: string[]): string[] {
    const bytes: number[] = [];
    for (const token of tokens) {
      const start = bytes.length;
      let mapped = true;
      for (let i = 0; i < token.length; i++) {
        const c = token.charCodeAt(i);
        const b = c < 512 ? CHAR_CODE_TO_BYTE[c]! : -1;
        if (b < 0) {
          mapped = false;
          break;
        }
        bytes.push(b);
      }
      if (!mapped) {
        bytes.length = start;
        for (const b of utf8Encoder.encode(token)) bytes.push(b);
      }
    }
    return [utf8Decoder.decode(new Uint8Array(bytes))];
  }
}
