/** A tokenization model turns one pre-tokenized piece into vocabulary ids. */
export interface TokenizerModel {
  tokenize(piece: string): number[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** One past the largest id of the model's own vocabulary. */
  readonly size: number;
  /**
   * When every token covers at most this many UTF-16 units of its piece (no unknown-token fusion), a piece of n
   * units needs at least n / maxPieceLength tokens: what lets a prompt past the context fail before it is
   * tokenized. Absent when one token can cover a piece of any length (a fused or whole-word unknown).
   */
  readonly maxPieceLength?: number;
}

/** The longest token string of a vocabulary, in UTF-16 units (at least 1). */
export function longestToken(tokens: Iterable<string>): number {
  let n = 1;
  for (const t of tokens) if (t && t.length > n) n = t.length;
  return n;
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
