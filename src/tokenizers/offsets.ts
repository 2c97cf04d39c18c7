/**
 * Character offsets of tokens in the text they came from, found by aligning each token's surface form with the
 * original text rather than by tracking every normalizer's edits: BERT's lowercasing and accent stripping, NFD and
 * Metaspace's ▁ keep a token's characters recognisable once both sides are folded the same way (NFD, lower case,
 * no nonspacing marks, controls or format characters). A token may cover part of one folded character (the jamo
 * of a Hangul syllable after NFD): its span is then the whole character, as in Hugging Face's offsets.
 *
 * A token that does not match the text where it should ([UNK]) spans what lies before the place where the next
 * token matches, or one character when the next token is unknown too, or the rest of the word. Spans leave out
 * surrounding whitespace (as `trim_offsets` does), except for a token that is only whitespace.
 *
 * Byte-level BPE vocabularies (GPT-2, Llama 3, Qwen) are aligned by UTF-8 bytes instead (`alignBytes`): their
 * tokens are the text's bytes, so a token that holds part of a character spans that character.
 */

/**
 * NFD, lower case, without nonspacing marks (what BERT's strip_accents removes), controls, format characters and
 * U+FFFD (BERT's clean_text drops the last two).
 */
function fold(s: string): string {
  return s.normalize('NFD').toLowerCase().replace(/[\p{Mn}\p{Cc}\p{Cf}\uFFFD]/gu, '');
}

const SPACE = /\s/u;
const PUNCTUATION_OR_CJK = /[\p{P}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/** [start, end) in UTF-16 code units of `text` per surface; null surfaces (special tokens added around the text) give null. */
export function alignOffsets(text: string, surfaces: Array<string | null>): Array<[number, number] | null> {
  // The folded text as one string; owner[i] = the original character (its code-unit range) that folded char i came from.
  let folded = '';
  const owner: Array<[number, number]> = [];
  for (let i = 0; i < text.length; ) {
    const len = text.codePointAt(i)! > 0xffff ? 2 : 1;
    const ch = text.slice(i, i + len);
    const f = SPACE.test(ch) ? ' ' : fold(ch);
    folded += f;
    for (let k = 0; k < f.length; k++) owner.push([i, i + len]);
    i += len;
  }
  const wanted = surfaces.map((s) => (s === null ? null : fold(s).replace(/\s+/gu, '')));
  let at = 0; // cursor in `folded`
  const span = (from: number, to: number): [number, number] => [owner[from][0], owner[to - 1][1]];
  return surfaces.map((surface, n) => {
    const want = wanted[n];
    if (surface === null || want === null) return null;
    if (want.length === 0 && surface.length > 0 && surface.trim() === '') {
      let j = at;
      while (j < folded.length && j - at < surface.length && folded[j] === ' ') j++;
      const s = j > at ? span(at, j) : [owner[at]?.[0] ?? text.length, owner[at]?.[0] ?? text.length] as [number, number];
      at = j;
      return s;
    }
    while (at < folded.length && folded[at] === ' ') at++;
    if (want.length === 0 || at >= folded.length) {
      const p = at < folded.length ? owner[at][0] : text.length;
      return [p, p];
    }
    if (folded.startsWith(want, at)) {
      const s = span(at, at + want.length);
      at += want.length;
      return s;
    }
    // Unknown here: up to where the next token matches, one character if the next is unknown too, or the word.
    const first = at;
    const next = wanted.slice(n + 1).find((w): w is string => w !== null && w.length > 0);
    let j = first + 1;
    if (next === want) {
      // Another unknown follows: this one is a CJK character (BERT splits those apart) or runs to the word's end.
      const boundary = (k: number) => folded[k] === ' ' || PUNCTUATION_OR_CJK.test(text.slice(owner[k][0], owner[k][1]));
      if (!PUNCTUATION_OR_CJK.test(text.slice(owner[first][0], owner[first][1]))) while (j < folded.length && !boundary(j)) j++;
      else while (j < folded.length && owner[j][0] === owner[first][0]) j++;
    } else {
      while (j < folded.length && folded[j] !== ' ' && !(next !== undefined && folded.startsWith(next, j))) j++;
    }
    at = j;
    return span(first, j);
  });
}

/** Spans of byte-level tokens, given each token's byte count (null: a special token not in the text). */
export function alignBytes(text: string, byteCounts: Array<number | null>): Array<[number, number] | null> {
  // unitOfByte[b] = the code-unit range of the character UTF-8 byte b belongs to.
  const unitOfByte: Array<[number, number]> = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    const bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let b = 0; b < bytes; b++) unitOfByte.push([i, i + len]);
    i += len;
  }
  let at = 0;
  return byteCounts.map((count) => {
    if (count === null) return null;
    if (count === 0 || at >= unitOfByte.length) {
      const p = at < unitOfByte.length ? unitOfByte[at][0] : text.length;
      return [p, p];
    }
    let from = at;
    let to = Math.min(at + count, unitOfByte.length);
    at = to;
    // Trim whitespace (trim_offsets), unless the token is nothing but whitespace.
    const isSpace = (b: number) => SPACE.test(text.slice(unitOfByte[b][0], unitOfByte[b][1]));
    let f = from;
    while (f < to && isSpace(f)) f++;
    if (f < to) {
      from = f;
      while (to > from && isSpace(to - 1)) to--;
    }
    return [unitOfByte[from][0], unitOfByte[to - 1][1]];
  });
}
