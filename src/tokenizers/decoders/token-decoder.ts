/** A decoder rewrites the list of token strings on the way back to text; the results are concatenated at the end. */
export interface TokenDecoder {
  decodeChain(tokens: string[]): string[];
}
