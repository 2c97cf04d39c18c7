import type { PreTokenizer } from './pre-tokenizer.js';

export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

/**
 * Cuts `text` at the matches of `pattern` (a global regex) and arranges matches and the text between them as
 * Hugging Face's `SplitDelimiterBehavior` says. `invert` swaps the roles of matches and gaps.
 */
export function splitByPattern(text: string, pattern: RegExp, behavior: SplitBehavior, invert = false): string[] {
  // Spans alternate between "gap" and "match" (delimiter) text; empty spans are never produced.
  const spans: string[] = [];
  const isDelimiter: boolean[] = [];
  const push = (start: number, end: number, matched: boolean): void => {
    if (end > start) {
      spans.push(text.slice(start, end));
      isDelimiter.push(matched !== invert);
    }
  };
  pattern.lastIndex = 0;
  let last = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (m[0].length === 0) {
      // A zero-length match cuts nothing. Step over one whole code point: a `u` regex whose lastIndex lands inside
      // a surrogate pair snaps back to the pair's start, so a step of one unit would match there again forever.
      pattern.lastIndex = m.index + ((text.codePointAt(m.index) ?? 0) > 0xffff ? 2 : 1);
      continue;
    }
    push(last, m.index, false);
    push(m.index, m.index + m[0].length, true);
    last = m.index + m[0].length;
  }
  push(last, text.length, false);

  const out: string[] = [];
  switch (behavior) {
    case 'Removed':
      for (let i = 0; i < spans.length; i++) if (!isDelimiter[i]) out.push(spans[i]!);
      return out;
    case 'Isolated':
      return spans;
    case 'MergedWithPrevious':
      for (let i = 0; i < spans.length; i++) {
        if (isDelimiter[i] && out.length > 0 && !isDelimiter[i - 1]) out[out.length - 1] += spans[i]!;
        else out.push(spans[i]!);
      }
      return out;
    case 'MergedWithNext': {
      let pending = '';
      for (let i = 0; i < spans.length; i++) {
        if (isDelimiter[i]) {
          if (pending) out.push(pending);
          pending = spans[i]!;
        } else {
          out.push(pending + spans[i]!);
          pending = '';
        }
      }
      if (pending) out.push(pending);
      return out;
    }
    case 'Contiguous':
      for (let i = 0; i < spans.length; i++) {
        if (isDelimiter[i] && i > 0 && isDelimiter[i - 1]) out[out.length - 1] += spans[i]!;
        else out.push(spans[i]!);
      }
      return out;
  }
}

/** The `Split` pre-tokenizer: a literal or regex pattern with a delimiter behavior. */
export class Split implements PreTokenizer {
  constructor(
    private readonly pattern: RegExp,
    private readonly behavior: SplitBehavior,
    private readonly invert: boolean,
  ) {}
  split(text: string): string[] {
    return splitByPattern(text, this.pattern, this.behavior, this.invert);
  }
}
