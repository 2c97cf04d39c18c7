import type { Normalizer } from './normalizer.js';
import { stripAccents } from './strip-accents.js';

// clean_text drops NUL, U+FFFD and "other" characters (\p{C}: controls, format, unassigned…) except \t \n \r, and
// turns every White_Space character into a plain space.
const DROPPED = /(?![\t\n\r])[\p{C}\u0000\uFFFD]/gu;
const WHITESPACE = /[\t\n\r\p{White_Space}]/gu;

/** The CJK ideograph blocks BERT surrounds with spaces (tokenizers' `is_chinese_char`). */
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function padChineseChars(text: string): string {
  let out = '';
  let plainStart = 0;
  let i = 0;
  for (const ch of text) {
    if (isChineseChar(ch.codePointAt(0)!)) {
      out += text.slice(plainStart, i) + ' ' + ch + ' ';
      plainStart = i + ch.length;
    }
    i += ch.length;
  }
  return plainStart === 0 ? text : out + text.slice(plainStart);
}

export interface BertNormalizerOptions {
  clean_text?: boolean;
  handle_chinese_chars?: boolean;
  strip_accents?: boolean | null; // null: follow `lowercase`
  lowercase?: boolean;
}

/** BERT's normalizer: clean text, pad CJK ideographs, strip accents, lowercase — in that order. */
export class BertNormalizer implements Normalizer {
  private readonly cleanText: boolean;
  private readonly handleChineseChars: boolean;
  private readonly stripAccents: boolean;
  private readonly lowercase: boolean;

  constructor(options: BertNormalizerOptions) {
    this.cleanText = options.clean_text ?? true;
    this.handleChineseChars = options.handle_chinese_chars ?? true;
    this.lowercase = options.lowercase ?? true;
    this.stripAccents = options.strip_accents ?? this.lowercase;
  }

  normalize(text: string): string {
    if (this.cleanText) text = text.replace(DROPPED, '').replace(WHITESPACE, ' ');
    if (this.handleChineseChars) text = padChineseChars(text);
    if (this.stripAccents) text = stripAccents(text);
    if (this.lowercase) text = text.toLowerCase();
    return text;
  }
}
