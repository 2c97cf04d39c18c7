import type { TokenDecoder } from './token-decoder.js';

/** BERT's `clean_up_tokenization`: removes the space the join put before punctuation and contractions. */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** WordPiece: joins words with spaces and glues `##` continuations to the previous token. */
export class WordPieceDecoder implements TokenDecoder {
  constructor(
    private readonly prefix: string,
    private readonly cleanup: boolean,
  ) {}
  decodeChain(tokens: string[]): string[] {
    return tokens.map((token, i) => {
      if (i > 0) token = token.startsWith(this.prefix) ? token.slice(this.prefix.length) : ' ' + token;
      return this.cleanup ? cleanUpTokenization(token) : token;
    });
  }
}
