/**
 * Incremental detokenization for streaming generation. Decoding token by token is wrong twice over: a character
 * may be split across byte tokens, and decoders change a token's text depending on its neighbours (leading-space
 * rules). So the decoder keeps a short window of ids, decodes it whole, and emits only the new suffix — and only
 * once it no longer ends in U+FFFD, the sign of an incomplete UTF-8 sequence (the scheme of Hugging Face's
 * DecodeStream).
 */
export class StreamDetokenizer {
  private ids: number[] = [];
  /** Text of `ids[0..prefixEnd)`, already emitted (the context the next pieces are decoded against). */
  private prefix = '';
  private prefixEnd = 0;

  constructor(private readonly decode: (ids: number[]) => string) {}

  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.ids);
    if (text.length <= this.prefix.length || text.endsWith('\uFFFD') || !text.startsWith(this.prefix)) return '';
    const piece = text.slice(this.prefix.length);
    // Keep the ids emitted since the previous step as context for the next one.
    this.ids = this.ids.slice(this.prefixEnd);
    this.prefix = this.decode(this.ids);
    this.prefixEnd = this.ids.length;
    return piece;
  }

  /** Emits whatever is held back (an incomplete character decodes as U+FFFD) and resets. */
  flush(): string {
    const text = this.decode(this.ids);
    const rest = text.startsWith(this.prefix) ? text.slice(this.prefix.length) : '';
    this.ids = [];
    this.prefix = '';
    this.prefixEnd = 0;
    return rest;
  }
}
