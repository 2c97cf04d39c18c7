/** A tokenization model turns one pre-tokenized piece into vocabulary ids. */
export interface TokenizerModel {
  tokenize(piece: string): number[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** One past the largest id of the model's own vocabulary. */
  readonly size: number;
}

/** Reads a tokenizer.json vocab (`{token: id}` object or `[[token, score], …]` list) into id → token. */
export function vocabArrayFromMap(vocab: Map<string, number>): string[] {
  const tokens: string[] = [];
  for (const [token, id] of vocab) tokens[id] = token;
  return tokens;
}

/**
 * The largest id a vocabulary of `count` tokens may use. Ids index embedding rows, so real vocabularies are dense
 * or nearly so (o200k leaves 16 ids unused among 200k); a far larger id is a corrupt file, and building the id →
 * token table for it would allocate without bound.
 */
export function maxVocabId(count: number): number {
  return Math.min(2 * count + 1024, 2 ** 31 - 1);
}
