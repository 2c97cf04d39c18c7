import type { PreTokenizer } from './pre-tokenizer.js';

// BERT splits on White_Space (dropped) and isolates every punctuation character (ASCII punctuation or \p{P}).
const BERT_PIECE = /[\p{P}!-\/:-@\[-`{-~]|[^\p{White_Space}\p{P}!-\/:-@\[-`{-~]+/gu;

export class BertPreTokenizer implements PreTokenizer {
  split(text: string): string[] {
    return text.match(BERT_PIECE) ?? [];
  }
}
