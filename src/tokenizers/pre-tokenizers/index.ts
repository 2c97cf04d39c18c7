import { WeftError } from '../../errors.js';
import { patternFromJson } from '../normalizers/index.js';
import { escapeRegex } from '../regex.js';
import { BertPreTokenizer } from './bert.js';
import { ByteLevel } from './byte-level.js';
import { Digits } from './digits.js';
import { Metaspace, type PrependScheme } from './metaspace.js';
import type { PreTokenizer } from './pre-tokenizer.js';
import { Punctuation } from './punctuation.js';
import { PreTokenizerSequence } from './sequence.js';
import { Split, type SplitBehavior } from './split.js';
import { Whitespace, WhitespaceSplit } from './whitespace.js';

export type { PreTokenizer } from './pre-tokenizer.js';

type Json = Record<string, unknown>;

const BEHAVIORS: SplitBehavior[] = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];

function behaviorFromJson(value: unknown, what: string): SplitBehavior {
  if (BEHAVIORS.includes(value as SplitBehavior)) return value as SplitBehavior;
  throw new WeftError('E_TOKENIZER', `${what}: unknown split behavior ${JSON.stringify(value)}`);
}

/** Metaspace's `prepend_scheme`, or the older `add_prefix_space` flag (true → always). */
export function prependSchemeFromJson(j: Json): PrependScheme {
  if (j.prepend_scheme === 'always' || j.prepend_scheme === 'first' || j.prepend_scheme === 'never') return j.prepend_scheme;
  return j.add_prefix_space === false ? 'never' : 'always';
}

/**
 * Metaspace's `replacement`: one character (a `char` in the Rust library, which refuses anything else). An empty
 * one would make every position a split point, so it is an error rather than a loop.
 */
export function metaspaceReplacement(j: Json, what: string): string {
  const r = j.replacement ?? '\u2581';
  if (typeof r !== 'string' || [...r].length !== 1) throw new WeftError('E_TOKENIZER', `${what}: "replacement" must be one character, got ${JSON.stringify(r)}`);
  return r;
}

/** Builds the pre-tokenizer of a tokenizer.json `pre_tokenizer` entry (null → none). */
export function preTokenizerFromJson(json: unknown, what = 'pre_tokenizer'): PreTokenizer | null {
  if (json === null || json === undefined) return null;
  const j = json as Json;
  switch (j.type) {
    case 'ByteLevel':
      return new ByteLevel(j.add_prefix_space === true, j.use_regex !== false);
    case 'Split': {
      const pattern = patternFromJson(j.pattern, `${what}.Split`);
      const regex = typeof pattern === 'string' ? new RegExp(escapeRegex(pattern), 'gu') : pattern;
      return new Split(regex, behaviorFromJson(j.behavior, `${what}.Split`), j.invert === true);
    }
    case 'Metaspace':
      return new Metaspace(metaspaceReplacement(j, `${what}.Metaspace`), prependSchemeFromJson(j), j.split !== false);
    case 'BertPreTokenizer':
      return new BertPreTokenizer();
    case 'Whitespace':
      return new Whitespace();
    case 'WhitespaceSplit':
      return new WhitespaceSplit();
    case 'Digits':
      return new Digits(j.individual_digits === true);
    case 'Punctuation':
      return new Punctuation(j.behavior === undefined ? 'Isolated' : behaviorFromJson(j.behavior, `${what}.Punctuation`));
    case 'Sequence': {
      if (!Array.isArray(j.pretokenizers)) throw new WeftError('E_TOKENIZER', `${what}.Sequence: "pretokenizers" must be an array`);
      const parts = j.pretokenizers.map((p, i) => preTokenizerFromJson(p, `${what}.pretokenizers[${i}]`));
      return new PreTokenizerSequence(parts.filter((p): p is PreTokenizer => p !== null));
    }
    default:
      throw new WeftError('E_UNSUPPORTED', `${what}: pre-tokenizer type ${JSON.stringify(j.type)} is not supported`);
  }
}
