import { decodeUtf8Strict, parseByteToken } from '../utf8.js';
import type { TokenDecoder } from './token-decoder.js';

/**
 * ByteFallback: runs of `<0xAB>` tokens become the text their bytes spell; a run that is not valid UTF-8 becomes one
 * U+FFFD per byte (Hugging Face's rule).
 */
export class ByteFallbackDecoder implements TokenDecoder {
  decodeChain(tokens: string[]): string[] {
    const out: string[] = [];
    let run: number[] = [];
    const flush = (): void => {
      if (run.length === 0) return;
      const text = decodeUtf8Strict(new Uint8Array(run));
      if (text !== null) out.push(text);
      else for (let i = 0; i < run.length; i++) out.push('\uFFFD');
      run = [];
    };
    for (const token of tokens) {
      const byte = parseByteToken(token);
      if (byte >= 0) {
        run.push(byte);
        continue;
      }
      flush();
      out.push(token);
    }
    flush();
    return out;
  }
}
