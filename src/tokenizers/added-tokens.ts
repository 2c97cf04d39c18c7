/**
 * Added tokens (special tokens such as `<|endoftext|>`, `[CLS]`, and user-added words) are found in the text before
 * the model sees it, so they are never split. Matching is leftmost-longest, like Hugging Face's Aho-Corasick pass.
 */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  /** Absorb whitespace on the left / right of the match into the token. */
  lstrip: boolean;
  rstrip: boolean;
  /** Match only as a whole word (no word character directly before or after). */
  singleWord: boolean;
  /** Match in the normalized text (true) or in the raw input (false). */
  normalized: boolean;
}

/** A piece of input after added-token matching: text for the model, or the id of a matched token. */
export type Segment = string | number;

const WORD_CHAR = /[\p{L}\p{N}_]/u;
const WHITESPACE = /\p{White_Space}/u;

interface TrieNode {
  children: Map<number, TrieNode>;
  token: AddedToken | null;
}

export class AddedTokenMatcher {
  private readonly root: TrieNode = { children: new Map(), token: null };
  readonly isEmpty: boolean;

  /** `tokens` with their content as it must appear in the text being matched. */
  constructor(tokens: AddedToken[]) {
    for (const token of tokens) {
      if (token.content.length === 0) continue;
      let node = this.root;
      for (let i = 0; i < token.content.length; i++) {
        const c = token.content.charCodeAt(i);
        let child = node.children.get(c);
        if (!child) {
          child = { children: new Map(), token: null };
          node.children.set(c, child);
        }
        node = child;
      }
      node.token ??= token;
    }
    this.isEmpty = this.root.children.size === 0;
  }

  /** Splits `text` at the added tokens; with `skipSpecial`, tokens marked special stay plain text. */
  split(text: string, skipSpecial: boolean): Segment[] {
    if (this.isEmpty) return [text];
    const out: Segment[] = [];
    let textStart = 0; // start of the pending plain text
    for (let i = 0; i < text.length; ) {
      const match = this.longestMatchAt(text, i, skipSpecial);
      if (!match) {
        i++;
        continue;
      }
      const { token } = match;
      let start = i;
      let end = match.end;
      if (token.lstrip) while (start > textStart && WHITESPACE.test(text[start - 1]!)) start--;
      if (token.rstrip) while (end < text.length && WHITESPACE.test(text[end]!)) end++;
      if (start > textStart) out.push(text.slice(textStart, start));
      out.push(token.id);
      textStart = i = end;
    }
    if (textStart < text.length) out.push(text.slice(textStart));
    return out;
  }

  private longestMatchAt(text: string, start: number, skipSpecial: boolean): { token: AddedToken; end: number } | null {
    let node: TrieNode | undefined = this.root;
    let best: { token: AddedToken; end: number } | null = null;
    for (let i = start; i < text.length; i++) {
      node = node.children.get(text.charCodeAt(i));
      if (!node) break;
      const token = node.token;
      if (token && !(skipSpecial && token.special) && this.wholeWordOk(token, text, start, i + 1)) best = { token, end: i + 1 };
    }
    return best;
  }

  private wholeWordOk(token: AddedToken, text: string, start: number, end: number): boolean {
    if (!token.singleWord) return true;
    const before = start > 0 ? String.fromCodePoint(text.codePointAt(start - 1)!) : '';
    const after = end < text.length ? String.fromCodePoint(text.codePointAt(end)!) : '';
    return !WORD_CHAR.test(before) && !WORD_CHAR.test(after);
  }
}
