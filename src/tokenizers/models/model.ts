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
