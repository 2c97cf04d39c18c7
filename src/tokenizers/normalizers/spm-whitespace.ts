import type { Normalizer } from './normalizer.js';

/**
 * SentencePiece's whitespace options as llama.cpp applies them for GGUF `t5` vocabularies: runs of spaces collapse
 * to one (and leading/trailing ones go) when `removeExtraWhitespaces`, a space is prepended to the first word when
 * `addSpacePrefix`, and spaces are written as `▁`.
 */
export class SpmWhitespace implements Normalizer {
  constructor(
    private readonly addSpacePrefix: boolean,
    private readonly removeExtraWhitespaces: boolean,
  ) {}

  normalize(text: string): string {
    const space = '\u2581';
    let out = '';
    let spacePrepended = false;
    let inWord = false;
    for (const ch of text) {
      if (ch !== ' ') {
        if (!inWord) {
          inWord = true;
          if ((this.addSpacePrefix && !spacePrepended) || this.removeExtraWhitespaces) {
            out += space;
            spacePrepended = true;
          }
        }
        out += ch;
      } else {
        inWord = false;
        if (!this.removeExtraWhitespaces) out += space;
      }
    }
    return out;
  }
}
