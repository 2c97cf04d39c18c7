/** UTF-8 helpers shared by the pipeline stages (one encoder/decoder, reused: constructing them per call is slow). */
export const utf8Encoder = new TextEncoder();
// Lossy: invalid sequences become U+FFFD. ignoreBOM keeps a leading U+FEFF, which is text here, not a file marker.
export const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes bytes that must form whole characters; returns null when they do not. */
export function decodeUtf8Strict(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * JS strings may hold lone UTF-16 surrogates, which no UTF-8 tokenizer can represent. They become U+FFFD, the same
 * character TextEncoder would write for them, so the result is defined and matches what a byte-level model sees.
 */
export function toWellFormed(text: string): string {
  LONE_SURROGATE.lastIndex = 0;
  return LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATE, '\uFFFD') : text;
}

/** `<0xAB>` for a byte: the SentencePiece name of a byte-fallback piece. */
export function byteTokenName(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** The byte of a `<0xAB>` piece, or -1. */
export function parseByteToken(token: string): number {
  if (token.length !== 6 || !token.startsWith('<0x') || token[5] !== '>') return -1;
  const hex = token.slice(3, 5);
  return /^[0-9A-Fa-f]{2}$/.test(hex) ? parseInt(hex, 16) : -1;
}
