import { WeftError } from '../errors.js';

/**
 * Translates a tokenizer.json / llama.cpp regex (Oniguruma or Rust syntax) into a JS RegExp with the `u` flag.
 * Two differences matter for the patterns in use:
 * - `\s` in Oniguruma is Unicode White_Space (includes U+0085, excludes U+FEFF); JS `\s` is not, so `\s`/`\S`
 *   become `\p{White_Space}`/`\P{White_Space}` (valid inside and outside character classes).
 * - Node 20 has no inline modifier groups, so `(?i:…)` is rewritten with each ASCII letter as a `[xX]` class.
 */
export function compileTokenizerRegex(pattern: string, what: string): RegExp {
  let out = '';
  let caseInsensitiveDepth = 0; // > 0 while inside a (?i: … ) group
  const groupIsCaseInsensitive: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      i++;
      if (next === 's') out += '\\p{White_Space}';
      else if (next === 'S') out += '\\P{White_Space}';
      else out += '\\' + next;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    if (c === '(') {
      if (pattern.startsWith('(?i:', i)) {
        groupIsCaseInsensitive.push(true);
        caseInsensitiveDepth++;
        out += '(?:';
        i += 3;
        continue;
      }
      groupIsCaseInsensitive.push(false);
      out += c;
      continue;
    }
    if (c === ')') {
      if (groupIsCaseInsensitive.pop()) caseInsensitiveDepth--;
      out += c;
      continue;
    }
    if (caseInsensitiveDepth > 0 && /[a-zA-Z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  try {
    return new RegExp(out, 'gu');
  } catch (e) {
    throw new WeftError('E_TOKENIZER', `${what}: regex ${JSON.stringify(pattern)} is not supported (${(e as Error).message})`);
  }
}

export function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
