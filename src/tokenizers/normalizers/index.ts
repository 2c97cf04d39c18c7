import { WeftError } from '../../errors.js';
import { compileTokenizerRegex } from '../regex.js';
import { BertNormalizer, type BertNormalizerOptions } from './bert.js';
import { Lowercase } from './lowercase.js';
import type { Normalizer } from './normalizer.js';
import { Precompiled, PrecompiledCharsmap } from './precompiled.js';
import { Prepend } from './prepend.js';
import { Replace } from './replace.js';
import { NormalizerSequence } from './sequence.js';
import { Strip } from './strip.js';
import { StripAccents } from './strip-accents.js';
import { UnicodeNormalizer } from './unicode.js';

export type { Normalizer } from './normalizer.js';

type Json = Record<string, unknown>;

/** A `{"String": …}` / `{"Regex": …}` pattern of tokenizer.json as a literal or a global RegExp. */
export function patternFromJson(pattern: unknown, what: string): string | RegExp {
  const p = pattern as { String?: unknown; Regex?: unknown } | null;
  if (p && typeof p.String === 'string') return p.String;
  if (p && typeof p.Regex === 'string') return compileTokenizerRegex(p.Regex, what);
  throw new WeftError('E_TOKENIZER', `${what}: pattern must be {"String": …} or {"Regex": …}, got ${JSON.stringify(pattern)}`);
}

/** Builds the normalizer of a tokenizer.json `normalizer` entry (null → none). */
export function normalizerFromJson(json: unknown, what = 'normalizer'): Normalizer | null {
  if (json === null || json === undefined) return null;
  const j = json as Json;
  switch (j.type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return new UnicodeNormalizer(j.type);
    case 'Lowercase':
      return new Lowercase();
    case 'StripAccents':
      return new StripAccents();
    case 'BertNormalizer':
      return new BertNormalizer(j as BertNormalizerOptions);
    case 'Replace':
      return new Replace(patternFromJson(j.pattern, `${what}.Replace`), String(j.content ?? ''));
    case 'Prepend':
      return new Prepend(String(j.prepend ?? ''));
    case 'Strip':
      return new Strip(j.strip_left !== false, j.strip_right !== false);
    case 'Precompiled': {
      const base64 = j.precompiled_charsmap;
      if (typeof base64 !== 'string') return null; // an empty map (null) normalizes nothing
      return new Precompiled(new PrecompiledCharsmap(base64ToBytes(base64, `${what}.Precompiled`), `${what}.Precompiled`));
    }
    case 'Sequence': {
      if (!Array.isArray(j.normalizers)) throw new WeftError('E_TOKENIZER', `${what}.Sequence: "normalizers" must be an array`);
      const parts = j.normalizers.map((n, i) => normalizerFromJson(n, `${what}.normalizers[${i}]`));
      return new NormalizerSequence(parts.filter((n): n is Normalizer => n !== null));
    }
    default:
      throw new WeftError('E_UNSUPPORTED', `${what}: normalizer type ${JSON.stringify(j.type)} is not supported`);
  }
}

function base64ToBytes(base64: string, what: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(base64);
  } catch {
    throw new WeftError('E_TOKENIZER', `${what}: precompiled_charsmap is not valid base64`);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
