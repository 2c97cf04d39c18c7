import { BYTE_TO_CHAR_CODE } from '../byte-level-alphabet.js';
import { compileTokenizerRegex } from '../regex.js';
import { utf8Encoder } from '../utf8.js';
import type { PreTokenizer } from './pre-tokenizer.js';
import { splitByPattern } from './split.js';

/** GPT-2's pre-tokenization regex (contractions, letters, numbers, other symbols, whitespace). */
export const GPT2_PATTERN = compileTokenizerRegex(
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  'ByteLevel',
);

const CHUNK = 4096; // String.fromCharCode.apply takes its arguments on the stack: build long strings in chunks
const codes: number[] = [];

/** Writes the UTF-8 bytes of `text` as GPT-2 byte characters (one UTF-16 unit per byte). */
export function byteLevelEncode(text: string): string {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  codes.length = 0;
  let out = '';
  const flush = (): void => {
    out += String.fromCharCode.apply(null, codes);
    codes.length = 0;
  };
  if (ascii) {
    for (let i = 0; i < text.length; i++) {
      codes.push(BYTE_TO_CHAR_CODE[text.charCodeAt(i)]!);
      if (codes.length === CHUNK) flush();
    }
  } else {
    const bytes = utf8Encoder.encode(text);
    for (let i = 0; i < bytes.length; i++) {
      codes.push(BYTE_TO_CHAR_CODE[bytes[i]!]!);
      if (codes.length === CHUNK) flush();
    }
  }
  flush();
  return out;
}

/** ByteLevel: optional leading space, the GPT-2 regex split (`use_regex`), then bytes → byte characters. */
export class ByteLevel implements PreTokenizer {
  constructor(
    private readonly addPrefixSpace: boolean,
    private readonly useRegex: boolean,
  ) {}
  split(text: string): string[] {
    if (this.addPrefixSpace && !text.startsWith(' ')) text = ' ' + text;
    const pieces = this.useRegex ? splitByPattern(text, GPT2_PATTERN, 'Isolated') : [text];
    return pieces.map(byteLevelEncode);
  }
}
